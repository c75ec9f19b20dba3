"""Load test of the hub: the populations that use it, one user class per journey.

- ContractorUser: logs in, publishes its profile, goes ``en_route`` to its assigned job,
  streams GPS at 1 Hz along a street route toward the site (``location:update`` with
  acks), answers its customer's chat, reconnects when dropped.
- CustomerUser: logs in, reads the chat history over REST, connects, ``job:watch``-es
  its job, ``chat:join``-s and chats with its contractor (``chat:send`` with acks).
- RestUser: a customer on the REST API only: trades, posting jobs, matches, paging.

Users take their identities from the credentials file of ``tradeshub loadseed`` (or
``seed_api.py``); see docs/LOADTESTS.md. Run it through ``loadtests/run.sh``.

Socket latencies are locust requests of type ``WS`` (lt_support's stat names):
``connect``, ``location: contractor to watcher``, ``location: update to ack``,
``chat: send to ack``, ``chat: send to partner``, ``job:watch``, ``chat:join``;
``disconnect (unexpected)`` only ever holds failures.
"""

from __future__ import annotations

import logging
import random
import time
from collections import deque
from pathlib import Path
from typing import Any

import gevent
import lt_support as lt
from locust import FastHttpUser, between, constant, events, task
from route import Drive
from sio_client import AckTimeout, ConnectRefused, SioClient, SocketClosed, socket_url

log = logging.getLogger("loadtests")
API = "/api/v1"
ACTIVE = ("en_route", "arrived", "in_progress")


class Shared:
    """Per-process state, built on ``init`` and found on ``environment.lt``."""

    def __init__(self, environment: Any, seed: lt.SeedData) -> None:
        self.environment = environment
        self.seed = seed
        self.registry = lt.Registry(environment)
        self.picker = lt.Picker(environment)

    def pick(self, kind: str, items: list[dict[str, Any]]) -> dict[str, Any] | None:
        self.registry.ensure_checker()
        return self.picker.pick(kind, items)


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    group = parser.add_argument_group("tradeshub")
    group.add_argument("--seed-file", default="", help="credentials JSON of the seeding")
    group.add_argument(
        "--pairs", type=int, default=-1, help="contractor and customer users each (-1: all)"
    )
    group.add_argument(
        "--login-share",
        type=float,
        default=0.1,
        help="share of users who log in with the password (Argon2id on the hub); the "
        "others resume their session with their seeded refresh token, as an app does",
    )
    group.add_argument("--chat-wait", type=float, default=12.0, help="mean s between chats")
    group.add_argument("--rest-wait", type=float, default=5.0, help="mean s between REST tasks")


_ENV: list[Any] = []


@events.init.add_listener
def _init(environment: Any, **_: Any) -> None:
    _ENV[:] = [environment]
    opts = environment.parsed_options
    if opts is None or not opts.seed_file:
        return
    seed = lt.SeedData(Path(opts.seed_file))
    environment.lt = Shared(environment, seed)
    pairs = len(seed.pairs) if opts.pairs < 0 else opts.pairs
    if pairs > len(seed.pairs):
        raise SystemExit(f"--pairs {pairs}: the seed file has {len(seed.pairs)}")
    ContractorUser.fixed_count = pairs
    CustomerUser.fixed_count = pairs
    CustomerUser.wait_time = between(opts.chat_wait * 0.5, opts.chat_wait * 1.5)
    RestUser.wait_time = between(opts.rest_wait * 0.4, opts.rest_wait * 1.6)


@events.spawning_complete.add_listener
def _ramp_snapshot(user_count: int, **_: Any) -> None:
    """With ``--reset-stats`` the figures of the ramp-up are dropped when spawning ends;
    keep them in ``<csv>_ramp_stats.csv`` first (this listener was registered before the
    runner's reset one), so the one-time steps (logins, connects, job:watch) and any
    failure of the ramp are still judged (check_report.py --ramp)."""
    env = _ENV[0] if _ENV else None
    opts = getattr(env, "parsed_options", None)
    if env is None or opts is None or not opts.reset_stats or not opts.csv_prefix:
        return
    if type(env.runner).__name__ == "WorkerRunner":
        return
    import csv

    with open(f"{opts.csv_prefix}_ramp_stats.csv", "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(
            [
                "Type",
                "Name",
                "Request Count",
                "Failure Count",
                "50%",
                "95%",
                "99%",
                "Max Response Time",
            ]
        )
        entries = [*env.stats.entries.values(), env.stats.total]
        for e in entries:
            pct = [
                e.get_response_time_percentile(p) if e.num_requests else 0
                for p in (0.5, 0.95, 0.99)
            ]
            out.writerow(
                [e.method or "", e.name, e.num_requests, e.num_failures, *pct, e.max_response_time]
            )
    log.info("ramp-up stats written", extra={"users": user_count})


@events.test_stopping.add_listener
def _stopping(environment: Any, **_: Any) -> None:
    shared = getattr(environment, "lt", None)
    if shared is not None:
        shared.registry.stop()  # sockets closing now are no failures


class HubUser(FastHttpUser):
    """Login, token refresh and one Socket.IO connection that comes back when dropped."""

    abstract = True
    network_timeout = 10.0
    connection_timeout = 10.0

    def on_start(self) -> None:
        self.shared: Shared = self.environment.lt
        self.registry = self.shared.registry
        self.sock: SioClient | None = None
        self.user_id = ""
        self.refresh_token = ""
        self._stopping = False
        self._reconnector: gevent.Greenlet | None = None
        self._sent = 0
        identity = self.pick_identity()
        if identity is None:
            self.idle(f"no seeded identity left for a {type(self).__name__}")
        # A user keeps its identity: a failed step is recorded and retried with backoff
        # (stopping the user would have locust start another, with another identity).
        delay = 1.0
        while True:
            try:
                self.set_up(identity)
                return
            except SetupFailed:
                pass
            except Exception as exc:
                log.exception("setup failed")
                lt.fire(self.environment, "setup", 0, exc, "SETUP")
            gevent.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, 16.0)

    def idle(self, why: str) -> None:
        """Record why, then do nothing until the run ends (never returns)."""
        lt.fire(self.environment, lt.SEED, 0, why, "SEED")
        while True:
            gevent.sleep(3600)

    # Hooks of the journeys.
    def pick_identity(self) -> dict[str, Any] | None: ...

    def set_up(self, identity: dict[str, Any]) -> None: ...

    def checked(self, method: str, path: str, name: str, ok: int = 200, **kw: Any) -> Any:
        """A setup request: its JSON answer, or SetupFailed (recorded as a failure)."""
        with self.client.request(
            method, path, name=name, headers=self.auth, catch_response=True, **kw
        ) as resp:
            if resp.status_code != ok:
                resp.failure(_why(resp))
                raise SetupFailed(name)
            return resp.json() if resp.text else None

    def on_stop(self) -> None:
        self._stopping = True
        if self._reconnector is not None:
            self._reconnector.kill(block=False)
        if self.sock is not None:
            self.sock.close()

    # --- REST -------------------------------------------------------------------------

    def start_session(self, person: dict[str, Any]) -> None:
        """Resume with the seeded refresh token, or (``--login-share``) log in; a token
        that failed once is not tried again (it may be spent), the password is."""
        if self.user_id:
            return  # a retried setup keeps the session it has
        share = self.environment.parsed_options.login_share
        token = person.get("refresh_token")
        if token and not person.get("_tried") and random.random() >= share:
            person["_tried"] = True
            self.refresh_token = token
            if not self._refresh():
                raise SetupFailed("refresh")
            return
        self.login(person)

    def login(self, person: dict[str, Any]) -> None:
        with self.client.post(
            f"{API}/auth/login",
            json={"email": person["email"], "password": self.shared.seed.password},
            name=f"POST {API}/auth/login",
            catch_response=True,
        ) as resp:
            if resp.status_code != 200:
                resp.failure(f"login {_why(resp)}")
                raise SetupFailed("login")
            self._take_session(resp.json())

    def _take_session(self, body: dict[str, Any]) -> None:
        self.user_id = body["user"]["id"]
        self.token = body["access_token"]
        self.refresh_token = body["refresh_token"]
        self.refresh_at = time.monotonic() + max(body.get("expires_in", 900) - 90, 30)
        self.auth = {"Authorization": f"Bearer {self.token}"}

    def maybe_refresh(self) -> None:
        """Rotate the tokens before the access token expires; give the socket the new one."""
        if time.monotonic() < self.refresh_at or not self._refresh():
            return
        sock = self.sock
        if sock is None or not sock.connected:
            return
        try:
            ack, _ = sock.call("auth:refresh", {"token": self.token}, lt.ACK_TIMEOUT_S)
        except (AckTimeout, SocketClosed) as exc:
            lt.fire(self.environment, "auth:refresh", lt.ACK_TIMEOUT_S * 1000, exc)
            return
        if not (isinstance(ack, dict) and ack.get("ok")):
            # The hub cannot swap credentials on a live socket: reconnect with the new token.
            old, self.sock = sock, None
            old.close()
            self._reconnect_soon(0.0)

    def _refresh(self) -> bool:
        with self.client.post(
            f"{API}/auth/refresh",
            json={"refresh_token": self.refresh_token},
            name=f"POST {API}/auth/refresh",
            catch_response=True,
        ) as resp:
            if resp.status_code != 200:
                resp.failure(f"refresh {_why(resp)}")
                self.refresh_at = time.monotonic() + 30
                return False
            self._take_session(resp.json())
        return True

    # --- the socket -------------------------------------------------------------------

    def connect_socket(self) -> bool:
        """One connect attempt, measured; True when connected and set up."""
        sock = SioClient(
            socket_url(self.host),
            {"token": self.token},
            self._dispatch,
            lambda expected, reason: self._closed(sock, expected, reason),
        )
        started = time.perf_counter()
        try:
            sock.connect()
        except ConnectRefused as exc:
            lt.fire(self.environment, lt.CONNECT, (time.perf_counter() - started) * 1e3, exc)
            return False
        except Exception as exc:
            lt.fire(self.environment, lt.CONNECT, (time.perf_counter() - started) * 1e3, exc)
            return False
        lt.fire(self.environment, lt.CONNECT, (time.perf_counter() - started) * 1e3)
        self.sock = sock
        self.registry.set_online(self.user_id, True)
        self.after_connect(sock)
        return True

    def _closed(self, sock: SioClient, expected: bool, reason: str) -> None:
        self.registry.set_online(self.user_id, False)
        self.on_socket_down()
        if expected or self._stopping or self.registry.stopping:
            return
        lt.fire(self.environment, lt.DISCONNECT, 0, reason)
        if self.sock is sock:
            self.sock = None
            self._reconnect_soon(0.5)

    def _reconnect_soon(self, first_delay: float) -> None:
        if self._reconnector is not None and not self._reconnector.dead:
            return
        self._reconnector = gevent.spawn(self._reconnect_loop, first_delay)

    def _reconnect_loop(self, delay: float) -> None:
        while not self._stopping and not self.registry.stopping:
            gevent.sleep(delay)
            if self.connect_socket():
                return
            delay = min(max(delay * 2, 0.5), 8.0)

    def _dispatch(self, event: str, data: Any) -> None:
        try:
            self.on_event(event, data)
        except Exception:
            log.exception("event handler failed", extra={"event": event})

    def acked(self, sock: SioClient, event: str, payload: Any, stat: str) -> Any:
        """Emit with an ack, record it under ``stat``; the ack when ``ok``, else None."""
        try:
            ack, ms = sock.call(event, payload, lt.ACK_TIMEOUT_S)
        except AckTimeout as exc:
            lt.fire(self.environment, stat, lt.ACK_TIMEOUT_S * 1000, exc)
            return None
        except SocketClosed:
            return None  # the disconnect is the failure
        error = _ack_error(ack)
        lt.fire(self.environment, stat, ms, error)
        return ack if error is None else None

    def send_chat(self, conversation_id: str, partner_id: str, text: str) -> None:
        """``chat:send`` with its ack timed; the partner times the delivery."""
        sock = self.sock
        if sock is None or not sock.connected:
            return
        self._sent += 1
        msg_id = lt.new_client_msg_id(self._sent)
        self.registry.chat_sent(msg_id, partner_id)
        payload = {"conversation_id": conversation_id, "body": text, "client_msg_id": msg_id}
        self.acked(sock, "chat:send", payload, lt.CHAT_ACK)

    # Hooks of the journeys.
    def after_connect(self, sock: SioClient) -> None: ...

    def on_socket_down(self) -> None: ...

    def on_event(self, event: str, data: Any) -> None: ...


class SetupFailed(Exception):
    """A setup request failed (already recorded as a failure): try the setup again."""


def _why(resp: Any) -> str:
    """What went wrong with a response, timeouts included (they have no status)."""
    error = getattr(resp, "error", None)
    if not resp.status_code and error is not None:
        return f"{type(error).__name__}: {error}"[:200]
    return f"{resp.status_code}: {(resp.text or '')[:200]}"


def _ack_error(ack: Any) -> str | None:
    if isinstance(ack, dict) and ack.get("ok"):
        return None
    if isinstance(ack, dict) and isinstance(ack.get("error"), dict):
        err = ack["error"]
        return f"{err.get('code')}: {str(err.get('message'))[:120]}"
    return f"unexpected ack {str(ack)[:120]}"


class ContractorUser(HubUser):
    """On the way to the assigned job, phone in the cradle: 1 Hz GPS."""

    fixed_count = 0  # set from --pairs at init
    # Paced by the task itself: locust's constant_pacing runs the first two tasks back
    # to back, and two fixes 20 ms apart with GPS noise imply an impossible speed.
    wait_time = constant(0)
    fix_interval_s = 1.0
    reply_probability = 0.5

    def pick_identity(self) -> dict[str, Any] | None:
        return self.shared.pick("pair:contractor", self.shared.seed.pairs)

    def set_up(self, pair: dict[str, Any]) -> None:
        self.pair = pair
        self.job_id: str = pair["job_id"]
        self.start_session(pair["contractor"])
        profile = pair["contractor"]["profile"]
        self.checked("PUT", f"{API}/contractors/me", f"PUT {API}/contractors/me", json=profile)
        job = self.checked("GET", f"{API}/jobs/{self.job_id}", f"GET {API}/jobs/[id]")
        if job["status"] == "assigned":
            self.checked(
                "POST",
                f"{API}/jobs/{self.job_id}/status",
                f"POST {API}/jobs/[id]/status",
                json={"status": "en_route"},
            )
        elif job["status"] not in ACTIVE:
            self.idle(f"job is {job['status']}: seed again")
        start = self._resume_from() or pair["start"]
        site = pair["site"]
        self.drive = Drive(
            (start["lat"], start["lng"]), (site["lat"], site["lng"]), seed=self.job_id
        )
        self.track = self.registry.tracks.setdefault(self.job_id, lt.Track())
        self.last_step = self.next_fix = time.monotonic()
        if not self.connect_socket():
            self._reconnect_soon(1.0)

    def _resume_from(self) -> dict[str, float] | None:
        """Where tracking last saw this contractor on the job (a re-run continues there,
        so its first fix is not an impossible jump)."""
        with self.client.get(
            f"{API}/jobs/{self.job_id}/track",
            headers=self.auth,
            name=f"GET {API}/jobs/[id]/track",
            catch_response=True,
        ) as resp:
            if resp.status_code in (404, 405):
                resp.success()  # no tracking REST on this hub: start from the seed
                return None
            if resp.status_code != 200:
                resp.failure(_why(resp))
                return None
            location = resp.json().get("location")
        if isinstance(location, dict) and "lat" in location and "lng" in location:
            return {"lat": float(location["lat"]), "lng": float(location["lng"])}
        return None

    def after_connect(self, sock: SioClient) -> None:
        self.track.connected = True

    def on_socket_down(self) -> None:
        self.track.connected = False

    @task
    def drive_on(self) -> None:
        delay = self.next_fix - time.monotonic()
        if delay > 0:
            gevent.sleep(delay)
        mono = time.monotonic()
        # Late (a busy generator) never means a burst: fixes stay at least 0.9 s apart.
        self.next_fix = max(self.next_fix + self.fix_interval_s, mono + 0.9 * self.fix_interval_s)
        self.maybe_refresh()
        fix = self.drive.step(min(mono - self.last_step, 5.0))
        self.last_step = mono
        sock = self.sock
        if sock is None or not sock.connected:
            return  # reconnecting; this fix is lost, like a phone without signal
        ts = lt.now_ms()
        payload = fix.payload(ts)
        try:
            ack, ms = sock.call("location:update", payload, lt.ACK_TIMEOUT_S)
        except AckTimeout as exc:
            lt.fire(self.environment, lt.LOCATION_ACK, lt.ACK_TIMEOUT_S * 1000, exc)
            return
        except SocketClosed:
            return
        error = _ack_error(ack)
        if error is None and not ack.get("accepted", False):
            error = "accepted: false (filtered as noise)"
            log.warning(
                "point filtered as noise: job %s point %s previous accepted %s",
                self.job_id,
                payload,
                self.track.accepted[-1] if self.track.accepted else None,
            )
        if error is None:
            self.track.accepted.append((ts, time.monotonic()))
        lt.fire(self.environment, lt.LOCATION_ACK, ms, error)

    def on_event(self, event: str, data: Any) -> None:
        if event != "chat:message" or not isinstance(data, dict):
            return
        if data.get("sender_id") == self.user_id:
            return
        latency = self.registry.chat_received(str(data.get("client_msg_id", "")))
        if latency is not None:
            lt.fire(self.environment, lt.CHAT_DELIVERY, latency)
        if random.random() < self.reply_probability:
            gevent.spawn(
                self.send_chat,
                data["conversation_id"],
                str(data.get("sender_id")),
                random.choice(REPLIES),
            )


REPLIES = (
    "On my way, about 15 minutes out.",
    "Traffic on the bridge, running a few minutes late.",
    "Got it, I'll bring the parts.",
    "Parking now.",
)
QUESTIONS = (
    "Hi, how far away are you?",
    "The gate code is 4512.",
    "Can you bring a replacement valve?",
    "Please use the side door.",
    "Thanks!",
)


class CustomerUser(HubUser):
    """Waiting for the contractor: watches them come, chats, reads the history."""

    fixed_count = 0  # set from --pairs at init
    wait_time = between(6, 18)

    def pick_identity(self) -> dict[str, Any] | None:
        return self.shared.pick("pair:customer", self.shared.seed.pairs)

    def set_up(self, pair: dict[str, Any]) -> None:
        self.pair = pair
        self.job_id = pair["job_id"]
        self.conversation_id = pair["conversation_id"]
        self.partner_id = pair["contractor"]["id"]
        self.key = id(self)
        self.last_seq = 0
        self.start_session(pair["customer"])
        self.read_history()
        if not self.connect_socket():
            self._reconnect_soon(1.0)

    def after_connect(self, sock: SioClient) -> None:
        # Runs in the connecting greenlet: the acks arrive on the reader greenlet.
        if self.acked(sock, "job:watch", {"job_id": self.job_id}, lt.JOB_WATCH) is not None:
            watches = self.registry.watches.setdefault(self.job_id, {})
            watches[self.key] = lt.Watch(since_ms=lt.now_ms())
        payload = {"conversation_id": self.conversation_id, "after_seq": self.last_seq}
        ack = self.acked(sock, "chat:join", payload, lt.CHAT_JOIN)
        if ack is not None:
            for message in ack.get("messages", []):
                self.last_seq = max(self.last_seq, int(message.get("seq", 0)))

    def on_socket_down(self) -> None:
        self.registry.watches.get(self.job_id, {}).pop(self.key, None)

    def on_event(self, event: str, data: Any) -> None:
        if not isinstance(data, dict):
            return
        if event == "job:location":
            if data.get("job_id") != self.job_id:
                return
            ts = float(data["ts"])
            lt.fire(self.environment, lt.LOCATION_DELIVERY, lt.now_ms() - ts)
            self.registry.point_received(self.job_id, self.key, ts)
        elif event == "chat:message":
            self.last_seq = max(self.last_seq, int(data.get("seq", 0)))
            if data.get("sender_id") == self.user_id:
                return
            latency = self.registry.chat_received(str(data.get("client_msg_id", "")))
            if latency is not None:
                lt.fire(self.environment, lt.CHAT_DELIVERY, latency)

    @task(4)
    def chat(self) -> None:
        self.maybe_refresh()
        self.send_chat(self.conversation_id, self.partner_id, random.choice(QUESTIONS))

    @task(1)
    def read_history(self) -> None:
        self.maybe_refresh()
        with self.client.get(
            f"{API}/conversations/{self.conversation_id}/messages?limit=20",
            headers=self.auth,
            name=f"GET {API}/conversations/[id]/messages",
            catch_response=True,
        ) as resp:
            if resp.status_code != 200:
                resp.failure(_why(resp))
                return
            items = resp.json().get("items", [])
        if items:
            self.last_seq = max(self.last_seq, int(items[-1].get("seq", 0)))


class RestUser(HubUser):
    """A customer in the app's screens: trades, posting, matches, their job list."""

    weight = 1
    wait_time = between(2, 8)

    def pick_identity(self) -> dict[str, Any] | None:
        return self.shared.pick("rest", self.shared.seed.rest_customers)

    def set_up(self, person: dict[str, Any]) -> None:
        self.jobs: deque[str] = deque(maxlen=20)
        self.start_session(person)

    @task(2)
    def trades(self) -> None:
        self.client.get(f"{API}/trades", name=f"GET {API}/trades")

    @task(1)
    def post_job(self) -> None:
        self.maybe_refresh()
        seed = self.shared.seed
        pair = random.choice(seed.pairs) if seed.pairs else None
        site = pair["site"] if pair else seed.center
        body = {
            "trade": pair["trade"] if pair else random.choice(seed.trades),
            "title": "Dripping kitchen tap",
            "description": "Load test job",
            "location": {
                "lat": site["lat"] + random.uniform(-0.01, 0.01),
                "lng": site["lng"] + random.uniform(-0.01, 0.01),
            },
            "budget_cents": random.randrange(5000, 50000, 100),
        }
        with self.client.post(
            f"{API}/jobs",
            json=body,
            headers=self.auth,
            name=f"POST {API}/jobs",
            catch_response=True,
        ) as resp:
            if resp.status_code != 201:
                resp.failure(_why(resp))
                return
            self.jobs.append(resp.json()["id"])

    @task(2)
    def matches(self) -> None:
        if not self.jobs:
            self.post_job()
            return
        self.maybe_refresh()
        self.client.get(
            f"{API}/jobs/{random.choice(self.jobs)}/matches?limit=5",
            headers=self.auth,
            name=f"GET {API}/jobs/[id]/matches",
        )

    @task(2)
    def page_jobs(self) -> None:
        self.maybe_refresh()
        cursor = None
        for page in range(3):
            url = f"{API}/jobs?limit=10" + (f"&cursor={cursor}" if cursor else "")
            with self.client.get(
                url,
                headers=self.auth,
                name=f"GET {API}/jobs" + (" (next page)" if page else ""),
                catch_response=True,
            ) as resp:
                if resp.status_code != 200:
                    resp.failure(_why(resp))
                    return
                cursor = resp.json().get("next_cursor")
            if not cursor:
                return
