"""The share-link tracking page: HTML from ``hub/tracking/static`` templates, and its static assets.

Everything the page needs is served by the hub (the CSP allows only 'self' scripts, and a
customer's phone may not reach any CDN): the page, ``track.js``, ``track.css`` and the
Socket.IO client (``socket.io.min.js``, socket.io-client 4.8.4, MIT, vendored unchanged but
for its source-map comment). The page's starting state is a JSON data block that
``track.js`` reads; no inline script runs.
"""

from __future__ import annotations

import functools
import html
import re
from importlib import resources
from typing import Any

import orjson

ASSETS: dict[str, str] = {
    "track.js": "text/javascript; charset=utf-8",
    "track.css": "text/css; charset=utf-8",
    "socket.io.min.js": "text/javascript; charset=utf-8",
}

_SLOT = re.compile(r"\{\{(\w+)\}\}")


@functools.cache
def _read(name: str) -> bytes:
    return (resources.files("hub.tracking") / "static" / name).read_bytes()


def asset(name: str) -> tuple[bytes, str] | None:
    """``(body, content type)`` of a page asset, or None for any other name."""
    content_type = ASSETS.get(name)
    if content_type is None:
        return None
    return _read(name), content_type


def _json_for_html(value: Any) -> str:
    # Inside <script type="application/json">: no "</script>", no HTML comment openers.
    text = orjson.dumps(value).decode()
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _fill(template_name: str, values: dict[str, str]) -> str:
    # One pass: a value that contains "{{...}}" (a job title) is never expanded again.
    template = _read(template_name).decode()
    return _SLOT.sub(lambda m: values[m.group(1)], template)


def render_page(state: dict[str, Any]) -> str:
    """The tracking page for a valid link, starting from ``state`` (``TrackView.page_state``)."""
    title = html.escape(str(state.get("title", "")))
    return _fill("track.html", {"title": title, "state": _json_for_html(state)})


def render_gone(heading: str, message: str) -> str:
    """The friendly page of a link that is unknown or no longer valid."""
    return _fill(
        "track_gone.html", {"heading": html.escape(heading), "message": html.escape(message)}
    )
