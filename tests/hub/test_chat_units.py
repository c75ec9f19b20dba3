"""Pure pieces of chat and the realtime layer: body cleaning, token buckets, event builders,
the origin rule."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub.chat.actions import MAX_BODY_CHARS, clean_body
from hub.chat.store import Message
from hub.core.buckets import TokenBuckets
from hub.core.errors import ValidationFailed
from hub.engine.guard import origin_allowed
from hub.realtime import events


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("  hi  ", "hi"),
        ("a\x00b\x1bc\x7fd\x85e", "abcde"),
        ("line one\r\n\tline two\n", "line one\n\tline two"),
        ("<b>not html</b> & 'quotes'", "<b>not html</b> & 'quotes'"),
        ("👩‍👩‍👧 family", "👩‍👩‍👧 family"),
        ("x\ud800y", "xy"),
        ("é" * MAX_BODY_CHARS, "é" * MAX_BODY_CHARS),
        ("  " + "z" * MAX_BODY_CHARS + "\n\n", "z" * MAX_BODY_CHARS),
    ],
)
def test_clean_body_keeps_text_and_strips_controls(raw: str, stored: str) -> None:
    assert clean_body(raw) == stored


@pytest.mark.parametrize("raw", ["", "   ", "\n\t\r", "\x00\x01", "\u3000", "a" * 4001])
def test_clean_body_refuses_empty_and_long(raw: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        clean_body(raw)
    assert caught.value.body()["details"]["fields"].keys() == {"body"}


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=5, burst=10, clock=clock)
    assert [buckets.take("s") for _ in range(10)] == [0.0] * 10
    wait = buckets.take("s")
    assert wait == pytest.approx(0.2)
    assert buckets.take("other") == 0.0  # keys are independent
    clock.now += 0.2
    assert buckets.take("s") == 0.0
    assert buckets.take("s") > 0
    clock.now += 60  # never more than the burst after a long pause
    assert [buckets.take("s") for _ in range(11)].count(0.0) == 10
    buckets.forget("s")
    buckets.forget("other")
    assert len(buckets) == 0


def test_token_bucket_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        TokenBuckets(rate=0, burst=1)
    with pytest.raises(ValueError):
        TokenBuckets(rate=1, burst=0)


def test_chat_event_builders() -> None:
    at = datetime(2026, 11, 27, 22, 18, 13, 123456, tzinfo=UTC)
    msg = Message("m_1", "cv_1", 3, "u_1", "hi", "c-1", at)
    assert events.chat_message(msg) == {
        "id": "m_1",
        "conversation_id": "cv_1",
        "seq": 3,
        "sender_id": "u_1",
        "body": "hi",
        "client_msg_id": "c-1",
        "created_at": "2026-11-27T22:18:13.123Z",
    }
    assert events.chat_typing("cv_1", "u_2") == {"conversation_id": "cv_1", "user_id": "u_2"}
    assert events.chat_read("cv_1", "u_2", 3) == {
        "conversation_id": "cv_1",
        "user_id": "u_2",
        "seq": 3,
    }
    assert events.presence("u_2", False) == {"user_id": "u_2", "online": False}
    assert events.auth_expired()["error"]["code"] == "unauthorized"
    assert events.iso_epoch(at.timestamp()) == "2026-11-27T22:18:13.123Z"
    assert (events.CHAT_MESSAGE, events.CHAT_TYPING, events.CHAT_READ) == (
        "chat:message",
        "chat:typing",
        "chat:read",
    )
    assert (events.PRESENCE, events.AUTH_EXPIRED) == ("presence", "auth:expired")


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        (None, True),
        ("https://hub.example", True),
        ("http://hub.example", True),
        ("https://app.example", True),
        ("https://app.example/", True),
        ("https://evil.example", False),
        ("https://hub.example.evil.example", False),
        ("null", False),
    ],
)
def test_origin_rule(origin: str | None, allowed: bool) -> None:
    environ = {"HTTP_HOST": "hub.example"}
    if origin is not None:
        environ["HTTP_ORIGIN"] = origin
    assert origin_allowed(environ, ("https://app.example",)) is allowed
