"""Alerts: a real webhook POST to a local receiver, retries with back-off, a bounded queue that
drops and counts, payload shapes per channel, secrets kept out of every log, alert-test."""
from __future__ import annotations

import io
import json
import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from loguru import logger

from adapters.cli import app, running
from actors.clock import VirtualClock
from adapters.operator.alerts import Alert, AlertDispatcher, Channel, DeliveryError, build_channels, http_post
from adapters.audit.log import Audit
from adapters.cli import alert_test
from config.loader import ConfigError, load_config
from models.audit_events import CircuitBreakerTripped, ExitGaveUp, OrderPlaced, QuotesBack
from models.market import Side
from tests.alert_receiver import Receiver

T0 = datetime(2026, 11, 20, 1, 0, tzinfo=timezone.utc)
SECRET = "tok-SECRET-8f3a9"


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def _gave_up(audit: Audit) -> dict:
    return audit.emit(ExitGaveUp(position_id="pos-1", market="MKT-1", exit_id="pos-1-ex1", condition="profit_target",
                                 priority="MEDIUM", filled=3, remaining=7, walks=5, detail="5 walks", held=Side.YES))


def _webhook(url: str, **extra) -> Channel:
    secrets = {"url_env": url, **extra}
    return Channel("ops", "webhook", {"type": "webhook"}, secrets)


def test_an_exit_that_gave_up_reaches_the_webhook_as_json(receiver):
    dispatcher = AlertDispatcher([_webhook(receiver.url + "/hook", bearer_token_env=SECRET)], backoff_base_s=0.01)
    audit = Audit(VirtualClock(T0), alerts=dispatcher)
    _gave_up(audit)
    audit.emit(OrderPlaced(position_id="pos-1", market="MKT-1", client_order_id="pos-1-ex1-1", price=Decimal("0.50"),
                           contracts=7))
    audit.close()
    (got,) = receiver.received
    assert got.path == "/hook" and got.headers["Content-Type"] == "application/json"
    assert got.headers["Authorization"] == f"Bearer {SECRET}"
    body = got.json
    assert (body["source"], body["event"], body["position_id"], body["market"]) == ("arbees", "EXIT_GAVE_UP", "pos-1", "MKT-1")
    assert body["ts"] == T0.isoformat() and body["fields"]["remaining"] == 7
    assert "the position stays open and monitored" in body["action"]
    assert body["text"].startswith("[Arbees] EXIT_GAVE_UP MKT-1 (pos-1): ALERT MKT-1 yes: exit for profit_target gave up")
    assert dispatcher.stats()["ops"] == {"type": "webhook", "sent": 1, "failed": 0, "dropped": 0, "retries": 0,
                                         "queued": 0, "last_error": None}


def test_quotes_back_reaches_the_channels_the_no_current_quote_alert_went_to(receiver):
    """review7: a person paged "no current quote" gets the all-clear on the same channels. It stays
    an INFO line on the console (good news is not a warning), and ntfy sends it at default priority
    with a check mark rather than the warning tag."""
    dispatcher = AlertDispatcher([_webhook(receiver.url + "/hook")], backoff_base_s=0.01)
    audit = Audit(VirtualClock(T0), alerts=dispatcher)
    back = QuotesBack(markets=("MKT-1",), positions=("pos-1",), blind_secs=210,
                      reason="missing from the venue's answer to the last 10 read(s)")
    audit.emit(back)
    audit.close()
    (got,) = receiver.received
    body = got.json
    assert body["event"] == "QUOTES_BACK" and body["fields"]["markets"] == ["MKT-1"]
    assert "quotes back after 210 s" in body["text"] and "judged on current quotes again" in body["action"]
    assert QuotesBack.LEVEL == "INFO"
    (ch,) = build_channels(({"type": "ntfy", "topic_env": "NT"},), {"NT": "arbees-x"})
    ntfy = json.loads(ch.request(Alert.from_record({"event": "QUOTES_BACK", "ts": "t", "message": "m"})).body)
    assert ntfy["priority"] == 3 and "warning" not in ntfy["tags"]


def test_a_failing_channel_is_retried_with_back_off_then_counted_failed(receiver):
    receiver.fail_first = 2
    dispatcher = AlertDispatcher([_webhook(receiver.url)], max_retries=3, backoff_base_s=0.01)
    audit = Audit(VirtualClock(T0), alerts=dispatcher)
    _gave_up(audit)
    audit.close()
    assert len(receiver.received) == 3
    assert dispatcher.stats()["ops"]["sent"] == 1 and dispatcher.stats()["ops"]["retries"] == 2
    receiver.fail_first = 100
    dispatcher = AlertDispatcher([_webhook(receiver.url)], max_retries=2, backoff_base_s=0.01)
    Audit(VirtualClock(T0), alerts=dispatcher).emit(CircuitBreakerTripped(reason="x", kind="daily_loss", day="2026-11-20"))
    dispatcher.close()
    s = dispatcher.stats()["ops"]
    assert (s["sent"], s["failed"], s["retries"], s["last_error"]) == (0, 1, 2, "HTTP 500")


def test_a_channel_that_hangs_fills_its_queue_and_drops_the_rest_without_blocking_trading():
    release = threading.Event()
    calls = []

    def stuck(request, timeout_s):
        calls.append(request)
        release.wait(10)

    dispatcher = AlertDispatcher([_webhook("http://unused")], queue_size=3, post=stuck)
    audit = Audit(VirtualClock(T0), alerts=dispatcher)
    for _ in range(8):
        _gave_up(audit)                 # returns at once although the channel is stuck
    assert not release.is_set()
    stats = dispatcher.stats()["ops"]
    # one in the channel's hands (or still queued), three queued at most, the rest dropped
    assert stats["dropped"] >= 4 and stats["dropped"] + stats["queued"] + len(calls) == 8
    release.set()
    dispatcher.close()
    assert dispatcher.stats()["ops"]["sent"] == 8 - dispatcher.stats()["ops"]["dropped"]


def test_no_secret_reaches_a_log_line_an_error_or_the_counts(receiver):
    lines = io.StringIO()
    sink = logger.add(lines, level="DEBUG", format="{message}")
    try:
        url = f"http://127.0.0.1:1/hook/{SECRET}"                  # nothing listens on port 1
        dispatcher = AlertDispatcher([_webhook(url, bearer_token_env=SECRET)], max_retries=1, backoff_base_s=0.01)
        _gave_up(Audit(VirtualClock(T0), alerts=dispatcher))
        dispatcher.close()
        receiver.fail_first = 5
        tg = Channel("tg", "telegram", {"type": "telegram", "chat_id": "42", "api_base": receiver.url},
                     {"bot_token_env": SECRET})
        dispatcher2 = AlertDispatcher([tg], max_retries=1, backoff_base_s=0.01)
        _gave_up(Audit(VirtualClock(T0), alerts=dispatcher2))
        dispatcher2.close()
    finally:
        logger.remove(sink)
    text = lines.getvalue() + json.dumps(dispatcher.stats()) + json.dumps(dispatcher2.stats())
    assert "delivery failed (ConnectionRefusedError)" in text and "delivery failed (HTTP 500)" in text
    assert SECRET not in text
    assert SECRET not in repr(dispatcher.workers[0].channel)
    with pytest.raises(DeliveryError) as info:
        http_post(_webhook(url).request(Alert("ALERT", "t", "x")), 2.0)
    assert SECRET not in str(info.value)


# --- payload shapes (as the services document them) --------------------------------------------

ALERT = Alert("EXIT_GAVE_UP", "2026-11-20T01:00:00+00:00", "exit gave up " + "x" * 3000, "pos-1", "MKT-1",
              "the position stays open")


def test_telegram_is_a_bot_api_send_message_with_chat_id_and_text():
    ch = build_channels(({"type": "telegram", "bot_token_env": "TG", "chat_id": "-100123"},), {"TG": SECRET})[0]
    req = ch.request(ALERT)
    assert req.url == f"https://api.telegram.org/bot{SECRET}/sendMessage"
    body = json.loads(req.body)
    assert body["chat_id"] == "-100123" and body["text"].startswith("[Arbees] EXIT_GAVE_UP MKT-1 (pos-1)")
    assert len(body["text"]) <= 4096


def test_slack_and_discord_webhooks_take_text_and_content():
    env = {"SL": "https://hooks.slack.com/services/T/B/" + SECRET, "DC": "https://discord.com/api/webhooks/1/" + SECRET}
    slack, discord = build_channels(({"type": "slack", "webhook_url_env": "SL"},
                                     {"type": "discord", "webhook_url_env": "DC"}), env)
    s = slack.request(ALERT)
    assert s.url == env["SL"] and set(json.loads(s.body)) == {"text"}
    d = discord.request(ALERT)
    body = json.loads(d.body)
    assert d.url == env["DC"] and len(body["content"]) <= 2000 and body["allowed_mentions"] == {"parse": []}
    assert body["content"].endswith("…")


def test_ntfy_is_a_json_publish_to_the_server_root():
    (ch,) = build_channels(({"type": "ntfy", "topic_env": "NT", "token_env": "NTOK", "server": "https://ntfy.example/"},),
                           {"NT": "arbees-" + SECRET, "NTOK": "tk_" + SECRET})
    req = ch.request(ALERT)
    body = json.loads(req.body)
    assert req.url == "https://ntfy.example" and req.headers["Authorization"] == f"Bearer tk_{SECRET}"
    assert body["topic"] == "arbees-" + SECRET and body["title"] == "Arbees EXIT_GAVE_UP MKT-1"
    assert body["priority"] in range(1, 6) and isinstance(body["tags"], list) and body["message"]


# --- configuration -----------------------------------------------------------------------------

@pytest.mark.parametrize("channel, message", [
    ('{type: pager, url_env: X}', "alerts.channels[0].type: expected one of webhook, telegram, slack, discord, ntfy"),
    ('{type: webhook, url: "https://example.com/hook"}', "alerts.channels[0].url: expected a key of a webhook channel"),
    ('{type: telegram, bot_token_env: TG}', "alerts.channels[0].chat_id: expected present for a telegram channel"),
    ('{type: slack, webhook_url_env: "https://hooks.slack.com/x"}',
     "alerts.channels[0].webhook_url_env: expected the NAME of an environment variable"),
])
def test_a_bad_channel_is_a_configuration_error_naming_the_key(tmp_path, channel, message):
    f = tmp_path / "c.yaml"
    f.write_text(f"alerts:\n  channels:\n    - {channel}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(f)
    assert str(f) in str(info.value) and message in str(info.value)
    assert "hooks.slack.com/x" not in str(info.value).split("found")[0]


def test_a_missing_secret_stops_the_engine_with_exit_2(tmp_path, capsys, monkeypatch):
    f = tmp_path / "c.yaml"
    f.write_text("alerts:\n  channels:\n    - {type: webhook, name: ops, url_env: ARBEES_TEST_HOOK}\n", encoding="utf-8")
    monkeypatch.delenv("ARBEES_TEST_HOOK", raising=False)
    assert app.main(["paper", "--config", str(f), "--db", str(tmp_path / "x.db"), "--audit", str(tmp_path / "a.jsonl")]) == 2
    assert "alert channel ops (webhook): environment variable ARBEES_TEST_HOOK" in capsys.readouterr().err


# --- in the engine -----------------------------------------------------------------------------

def test_the_engine_sends_its_alerts_and_its_heartbeat_counts_them(tmp_path, receiver, monkeypatch):
    f = tmp_path / "c.yaml"
    f.write_text("alerts:\n  backoff_base_secs: 0.01\n  channels:\n"
                 "    - {type: webhook, name: ops, url_env: ARBEES_TEST_HOOK}\n", encoding="utf-8")
    monkeypatch.setenv("ARBEES_TEST_HOOK", receiver.url + "/engine")
    recorder: list = []
    engine = running.build_paper_engine(load_config(f), T0, db_path=str(tmp_path / "e.db"), audit_path=None,
                                    recorder=recorder)
    try:
        engine.audit.emit(CircuitBreakerTripped(reason="daily loss -$100.00 reached the limit", kind="daily_loss",
                                                day="2026-11-20"))
        engine.audit.close(10)       # deliver now (stop() does the same)
        engine.scheduler.run_for(timedelta(seconds=31))
    finally:
        engine.stop()
    (got,) = receiver.received
    assert got.json["event"] == "CIRCUIT_BREAKER_TRIPPED" and "closing every position" in got.json["action"]
    beats = [r for r in recorder if r["event"] == "HEARTBEAT"]
    assert beats[-1]["alerts"]["ops"]["sent"] == 1


# --- alert-test --------------------------------------------------------------------------------

def _alert_test(tmp_path, channels: str, environ: dict) -> tuple[int, str, str]:
    f = tmp_path / "c.yaml"
    f.write_text("alerts:\n  max_retries: 1\n  backoff_base_secs: 0.01\n  channels:\n" + channels, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    args = app.build_parser().parse_args(["alert-test", "--config", str(f)])
    return alert_test.run(args, out=out, err=err, environ=environ), out.getvalue(), err.getvalue()


def test_alert_test_says_which_channel_worked(tmp_path, receiver):
    channels = ("    - {type: webhook, name: ops, url_env: HOOK}\n"
                "    - {type: slack, name: desk, webhook_url_env: SLACK}\n")
    code, out, _ = _alert_test(tmp_path, channels, {"HOOK": receiver.url + "/ok", "SLACK": "http://127.0.0.1:1/" + SECRET})
    assert code == 1
    assert "ops (webhook): sent" in out and "desk (slack): FAILED after 2 tries: ConnectionRefusedError" in out
    assert "1 of 2 channels worked" in out and SECRET not in out
    assert receiver.received[0].json["event"] == "TEST"
    code, out, _ = _alert_test(tmp_path, channels, {"HOOK": receiver.url, "SLACK": receiver.url + "/slack"})
    assert code == 0 and "2 of 2 channels worked" in out
    assert json.loads(receiver.received[-1].body) == {"text": json.loads(receiver.received[-1].body)["text"]}


def test_alert_test_without_channels_or_secrets_is_bad_input(tmp_path):
    f = tmp_path / "none.yaml"
    f.write_text("alerts:\n  channels: []\n", encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    assert alert_test.run(app.build_parser().parse_args(["alert-test", "--config", str(f)]), out=out, err=err,
                          environ={}) == 2
    assert "no alert channels configured" in err.getvalue()
    code, _, err = _alert_test(tmp_path, "    - {type: webhook, url_env: HOOK}\n", {})
    assert code == 2 and "environment variable HOOK" in err
