"""Alerts that reach a person: audit events that need one, sent to the configured channels.

Which events: EXIT_GAVE_UP (an exit ran out of walks; the position stays open), CIRCUIT_BREAKER_
TRIPPED, ALERT (an orphan order or a disagreement found by reconciliation, an actor past
its restart limit, a message a core actor could not handle, the engine stopping abnormally, a
market without a current quote), and QUOTES_BACK (the all-clear of that last one: quotes are back).
`Audit.emit` hands each one to `AlertDispatcher.submit`, which never blocks: every channel has
its own thread and a bounded queue; when the queue is full the alert is dropped and counted.
A delivery that fails (network error, timeout, non-2xx answer) is retried `max_retries` times
with exponential back-off (base * 2^n, jittered 0.5-1.5x); then it counts as failed. The
counts (sent, failed, dropped, last error) ride on every HEARTBEAT, so `status` shows them.

Channels (config: alerts.channels; secrets are environment variables named by `*_env` keys,
read once at start; a URL or token never reaches a log line, an error message or the audit):
- webhook: JSON POST of the alert (source, event, ts, text, position_id, market, action, fields),
  with `Authorization: Bearer` when bearer_token_env is set;
- telegram: Bot API sendMessage, POST {api_base}/bot<token>/sendMessage {"chat_id", "text"};
- slack: incoming webhook, POST {"text"};
- discord: webhook, POST {"content" (at most 2000 characters), "username", "allowed_mentions":
  {"parse": []}} (an alert never pings anyone);
- ntfy: JSON publish, POST {server} {"topic", "title", "message", "priority", "tags"} with
  `Authorization: Bearer` when token_env is set.
"""
from __future__ import annotations

import json
import queue
import random
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from loguru import logger

from adapters.audit.log import ALERT_EVENTS  # noqa: F401 - the events that alert (re-exported)
from models.retry import jittered_delay_secs
# What the engine does about each event (an ALERT's own message says it).
ACTIONS = {
    "EXIT_GAVE_UP": "the position stays open and monitored; its next trigger starts a new exit",
    "CIRCUIT_BREAKER_TRIPPED": "closing every position (CRITICAL), no new entries until a person resets it",
    "QUOTES_BACK": "all clear: these positions are judged on current quotes again (their stops see the market)",
}
TELEGRAM_LIMIT, DISCORD_LIMIT, SLACK_LIMIT = 4096, 2000, 3000
_NTFY_PRIORITY = {"CIRCUIT_BREAKER_TRIPPED": 5, "EXIT_GAVE_UP": 4, "ALERT": 4, "TEST": 3, "QUOTES_BACK": 3}
_NTFY_TAGS = {"QUOTES_BACK": ["white_check_mark", "arbees"]}     # an all-clear; the rest are warnings


class AlertSetupError(Exception):
    """A channel cannot be built (an environment variable is missing): exit status 2."""


class DeliveryError(Exception):
    """One delivery failed; the message is safe to log (a status or an error type, no URL)."""


@dataclass(frozen=True, slots=True)
class Alert:
    event: str
    ts: str
    text: str
    position_id: str | None = None
    market: str | None = None
    action: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> "Alert":
        event = str(record.get("event", "ALERT"))
        fields = {k: v for k, v in record.items() if k not in ("ts", "event", "message")}
        return cls(event, str(record.get("ts", "")), str(record.get("message", event)),
                   record.get("position_id"), record.get("market"), ACTIONS.get(event), fields)

    def line(self) -> str:
        """One readable message: what happened, to which position, what the engine does."""
        where = " ".join(x for x in (self.market, f"({self.position_id})" if self.position_id else None) if x)
        text = f"[Arbees] {self.event}" + (f" {where}" if where else "") + f": {self.text}"
        if self.action:
            text += f". Engine: {self.action}"
        return text + f" [{self.ts}]"


@dataclass(frozen=True)
class Request:
    url: str
    body: bytes
    headers: Mapping[str, str]


def _json(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), default=str).encode("utf-8")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


@dataclass(frozen=True)
class Channel:
    """One configured destination; `secrets` holds what came from the environment."""

    name: str
    kind: str
    settings: Mapping[str, str]
    secrets: Mapping[str, str] = field(repr=False)

    def request(self, alert: Alert) -> Request:
        s, k = self.settings, self.secrets
        json_headers = {"Content-Type": "application/json"}
        if self.kind == "webhook":
            headers = dict(json_headers)
            if "bearer_token_env" in k:
                headers["Authorization"] = f"Bearer {k['bearer_token_env']}"
            return Request(k["url_env"], _json({
                "source": "arbees", "event": alert.event, "ts": alert.ts, "text": alert.line(),
                "position_id": alert.position_id, "market": alert.market, "action": alert.action,
                "fields": dict(alert.fields)}), headers)
        if self.kind == "telegram":
            base = s.get("api_base", "https://api.telegram.org").rstrip("/")
            return Request(f"{base}/bot{k['bot_token_env']}/sendMessage",
                           _json({"chat_id": s["chat_id"], "text": _clip(alert.line(), TELEGRAM_LIMIT),
                                  "disable_web_page_preview": True}), json_headers)
        if self.kind == "slack":
            return Request(k["webhook_url_env"], _json({"text": _clip(alert.line(), SLACK_LIMIT)}), json_headers)
        if self.kind == "discord":
            return Request(k["webhook_url_env"], _json({
                "content": _clip(alert.line(), DISCORD_LIMIT), "username": s.get("username", "Arbees"),
                "allowed_mentions": {"parse": []}}), json_headers)
        if self.kind == "ntfy":
            headers = dict(json_headers)
            if "token_env" in k:
                headers["Authorization"] = f"Bearer {k['token_env']}"
            title = f"Arbees {alert.event}" + (f" {alert.market}" if alert.market else "")
            return Request(s.get("server", "https://ntfy.sh").rstrip("/"), _json({
                "topic": k["topic_env"], "title": title, "message": _clip(alert.line(), 4000),
                "priority": _NTFY_PRIORITY.get(alert.event, 4), "tags": _NTFY_TAGS.get(alert.event, ["warning", "arbees"])}), headers)
        raise ValueError(f"unknown channel type {self.kind!r}")


def build_channels(channels: tuple[Mapping[str, str], ...], environ: Mapping[str, str]) -> list[Channel]:
    """The channels of the configuration (already validated by config/loader.py), with their
    secrets read from `environ`. AlertSetupError names the channel and the variable, not a value."""
    out = []
    for i, ch in enumerate(channels):
        kind = ch["type"]
        name = ch.get("name", f"{kind}-{i + 1}")
        secrets = {}
        for key, var in ch.items():
            if key.endswith("_env"):
                value = environ.get(var, "")
                if not value:
                    raise AlertSetupError(f"alert channel {name} ({kind}): environment variable {var} "
                                          f"(alerts.channels[{i}].{key}) is not set")
                secrets[key] = value
        settings = {k: v for k, v in ch.items() if not k.endswith("_env")}
        out.append(Channel(name, kind, settings, secrets))
    return out


def http_post(request: Request, timeout_s: float) -> None:
    """POST; DeliveryError (with a status or an error type only) unless the answer is 2xx."""
    req = urllib.request.Request(request.url, data=request.body, headers=dict(request.headers), method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:   # noqa: S310 - configured https URLs
            status = resp.status
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None)
        raise DeliveryError(type(reason).__name__ if isinstance(reason, BaseException) else type(exc).__name__) from None
    if not 200 <= status < 300:
        raise DeliveryError(f"HTTP {status}")


Post = Callable[[Request, float], None]


class ChannelWorker:
    """One channel's thread and bounded queue."""

    def __init__(self, channel: Channel, *, queue_size: int, max_retries: int, backoff_base_s: float,
                 timeout_s: float, post: Post = http_post, seed: int | None = None) -> None:
        self.channel = channel
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.timeout_s = timeout_s
        self.post = post
        self._queue: queue.Queue[Alert | None] = queue.Queue(maxsize=queue_size)
        self._closing = threading.Event()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.sent = self.failed = self.dropped = self.retries = 0
        self.last_error: str | None = None
        self._thread = threading.Thread(target=self._run, name=f"alerts-{channel.name}", daemon=True)
        self._thread.start()

    def submit(self, alert: Alert) -> bool:
        try:
            self._queue.put_nowait(alert)
            return True
        except queue.Full:
            with self._lock:
                self.dropped += 1
            return False

    def deliver(self, alert: Alert) -> str | None:
        """Send with retries (on this thread); None when sent, else the last error."""
        error = None
        for attempt in range(self.max_retries + 1):
            try:
                self.post(self.channel.request(alert), self.timeout_s)
                return None
            except DeliveryError as exc:
                error = str(exc)
            except Exception as exc:  # noqa: BLE001 - a bad channel must not kill the thread
                error = type(exc).__name__
            if attempt < self.max_retries:
                with self._lock:
                    self.retries += 1
                delay = jittered_delay_secs(self.backoff_base_s, attempt, self._rng.random())
                logger.warning("alert channel {} ({}): delivery failed ({}); retry {} in {:.1f}s", self.channel.name,
                               self.channel.kind, error, attempt + 1, delay)
                if self._closing.wait(delay):
                    break                      # closing: no more waiting
        return error

    def _run(self) -> None:
        while True:
            alert = self._queue.get()
            if alert is None:
                return
            error = self.deliver(alert)
            with self._lock:
                if error is None:
                    self.sent += 1
                else:
                    self.failed += 1
                    self.last_error = error
            if error is not None:
                logger.error("alert channel {} ({}): gave up on a {} alert after {} tries ({})", self.channel.name,
                             self.channel.kind, alert.event, self.max_retries + 1, error)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"type": self.channel.kind, "sent": self.sent, "failed": self.failed, "dropped": self.dropped,
                    "retries": self.retries, "queued": self._queue.qsize(), "last_error": self.last_error}

    def close(self, timeout_s: float) -> None:
        """Deliver what is queued (up to `timeout_s`), then stop."""
        try:
            self._queue.put(None, timeout=timeout_s)
        except queue.Full:
            self._closing.set()
            return
        self._thread.join(timeout_s)
        self._closing.set()


class AlertDispatcher:
    def __init__(self, channels: list[Channel], *, queue_size: int = 100, max_retries: int = 4,
                 backoff_base_s: float = 1.0, timeout_s: float = 5.0, post: Post = http_post) -> None:
        self.workers = [ChannelWorker(c, queue_size=queue_size, max_retries=max_retries,
                                      backoff_base_s=backoff_base_s, timeout_s=timeout_s, post=post)
                        for c in channels]

    def submit(self, record: Mapping[str, Any]) -> None:
        alert = Alert.from_record(record)
        for w in self.workers:
            w.submit(alert)

    def stats(self) -> dict[str, dict[str, Any]]:
        return {w.channel.name: w.stats() for w in self.workers}

    def close(self, timeout_s: float = 10.0) -> None:
        for w in self.workers:
            w.close(timeout_s)


def open_alerts(alerts_config: Any, environ: Mapping[str, str], *, post: Post = http_post) -> AlertDispatcher | None:
    """The dispatcher for the configuration's channels, or None when none is configured."""
    channels = build_channels(alerts_config.channels, environ)
    if not channels:
        return None
    return AlertDispatcher(channels, queue_size=alerts_config.queue_size, max_retries=alerts_config.max_retries,
                           backoff_base_s=float(alerts_config.backoff_base_secs),
                           timeout_s=float(alerts_config.timeout_secs), post=post)
