"""The circuit breaker (issue 9 §1), through the whole engine on virtual time: the daily loss
counts realized and unrealized P&L, is rebuilt from the database at start, a trip survives a
restart until the trading day ends (in the configured time zone) or an operator resets it,
and the API failure breaker is a failure rate over a window with a minimum number of calls."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import argparse

import yaml

from adapters.cli import app
from actors.clock import VirtualClock
from adapters.cli import breaker as breaker_command
from models.venue import MalformedPayload

D = Decimal
T0_START = datetime(2026, 1, 10, 0, 0, tzinfo=timezone.utc)


def rejections(h, signal_id):  # type: ignore[no-untyped-def]
    return [e["reason"] for e in h.events("SIGNAL_REJECTED", signal_id=signal_id)]


def lose_by_settlement(h, ticker: str, contracts: int) -> None:  # type: ignore[no-untyped-def]
    """Buy `contracts` YES at 0.50 and see the market settle NO: a realized loss of
    0.50 x contracts plus the entry fee."""
    h.market(ticker, "0.49", "0.50")
    h.enter(ticker, contracts=contracts, game_id=f"G-{ticker}", signal_id=f"loss-{ticker}")
    h.settle(ticker, "no")
    assert h.events("POSITION_SETTLED", market=ticker)


# --- the daily loss ---------------------------------------------------------------------------------

def test_an_unrealized_loss_of_open_positions_counts_toward_the_daily_limit(make_engine):
    h = make_engine({"circuit_breaker": {"daily_loss_limit_dollars": 5}})
    h.market("M1", "0.49", "0.50")
    pid = h.enter("M1", contracts=190)
    h.run(1)
    assert not h.events("CIRCUIT_BREAKER_TRIPPED")        # -1.90 at the bid: under the limit
    # The bid falls to 0.47: -6% (no stop loss at 12%), -5.70 unrealized: over the $5 limit.
    h.market("M1", "0.47", "0.48", push=True)
    h.run(1)
    tripped = h.events("CIRCUIT_BREAKER_TRIPPED")
    assert len(tripped) == 1, [e["event"] for e in h.audit]
    assert "unrealized" in tripped[0]["reason"] and D(tripped[0]["unrealized_pnl"]) == D("-5.70")
    assert D(tripped[0]["realized_pnl"]) == 0
    assert [e["condition"] for e in h.events("EXIT_ROUTED", position_id=pid)] == ["circuit_breaker"]


def test_the_days_loss_is_rebuilt_from_the_database_at_start(make_engine):
    limits = {"circuit_breaker": {"daily_loss_limit_dollars": 5}}
    a = make_engine(limits)
    lose_by_settlement(a, "M1", 7)                       # -3.50 and a 0.13 fee: -3.63
    assert not a.events("CIRCUIT_BREAKER_TRIPPED")
    a.stop()
    b = make_engine(limits, start=a.now() + timedelta(minutes=30), database_of=a)
    lose_by_settlement(b, "M2", 7)                       # another -3.63: -7.26 for the day
    tripped = b.events("CIRCUIT_BREAKER_TRIPPED")
    assert len(tripped) == 1 and D(tripped[0]["realized_pnl"]) == D("-7.26")


def test_the_rebuilt_realized_pnl_is_what_the_positions_realized_through_exits_and_settlements(make_engine):
    h = make_engine()
    for m in ("M1", "M2", "M3"):
        h.market(m, "0.49", "0.50")
    stopped = h.enter("M1", contracts=37, signal_id="stop")
    partial = h.enter("M2", contracts=23, signal_id="partial")
    settled = h.enter("M3", contracts=11, signal_id="settle")
    h.levels("M1", [(D("0.43"), 10), (D("0.41"), None)], [(D("0.45"), None)])   # stop loss in two fills
    h.levels("M2", [(D("0.60"), 7), (D("0.59"), None)], [(D("0.61"), None)])    # partial stages, then more
    h.run(120)
    h.settle("M3", "yes")
    h.run(5)
    h.system.flush()
    positions = [h.repo.load_position(pid) for pid in (stopped, partial, settled)]
    assert positions[0].status.value == "closed" and positions[1].realized_pnl != 0
    assert h.repo.realized_pnl_since(T0_START) == sum((p.realized_pnl for p in positions), D(0))
    assert h.repo.realized_pnl_since(h.now() + timedelta(seconds=1)) == 0


def test_a_tripped_breaker_stays_tripped_across_restarts_until_the_day_ends_in_its_time_zone(make_engine):
    # T0 is 18:00 UTC on Jan 10 = 13:00 in New York.
    limits = {"circuit_breaker": {"daily_loss_limit_dollars": 5, "day_timezone": "America/New_York"}}
    a = make_engine(limits)
    lose_by_settlement(a, "M1", 12)
    assert len(a.events("CIRCUIT_BREAKER_TRIPPED")) == 1
    a.stop()
    # 23:30 in New York (04:30 UTC the next day): still the same trading day, still tripped.
    b = make_engine(limits, start=datetime(2026, 1, 11, 4, 30, tzinfo=timezone.utc), database_of=a)
    b.market("M2", "0.49", "0.50")
    sig = b.signal("M2", contracts=5, signal_id="b-M2")
    b.run(1)
    assert rejections(b, sig.signal_id) and rejections(b, sig.signal_id)[0].startswith("entries halted")
    assert b.events("CIRCUIT_BREAKER_RESTORED")
    b.stop()
    # 00:30 in New York: a new trading day, a new allowance.
    c = make_engine(limits, start=datetime(2026, 1, 11, 5, 30, tzinfo=timezone.utc), database_of=a)
    c.market("M2", "0.49", "0.50")
    c.enter("M2", contracts=5, signal_id="c-M2")
    assert not c.events("CIRCUIT_BREAKER_TRIPPED") and not c.events("CIRCUIT_BREAKER_RESTORED")


def test_a_running_engine_resumes_entries_when_the_trading_day_ends(make_engine):
    h = make_engine({"circuit_breaker": {"daily_loss_limit_dollars": 5}})
    lose_by_settlement(h, "M1", 12)
    assert len(h.events("CIRCUIT_BREAKER_TRIPPED")) == 1
    h.market("M2", "0.49", "0.50")
    refused = h.signal("M2", contracts=5)
    h.run(1)
    assert rejections(h, refused.signal_id)
    h.run((datetime(2026, 1, 11, 0, 0, 1, tzinfo=timezone.utc) - h.now()).total_seconds())   # past midnight UTC
    (reset,) = h.events("CIRCUIT_BREAKER_RESET")
    assert reset["by"] == "day_end" and "daily loss" in reset["reason"]
    h.market("M2", "0.49", "0.50")
    h.enter("M2", contracts=5)


# --- the operator's reset ----------------------------------------------------------------------------

def _config_file(tmp_path, limits) -> str:  # type: ignore[no-untyped-def]
    path = tmp_path / "limits.yaml"
    path.write_text(yaml.safe_dump(limits), encoding="utf-8")
    return str(path)


def test_breaker_reset_asks_for_yes_is_audited_and_lets_the_next_start_trade(make_engine, tmp_path, capsys):
    limits = {"circuit_breaker": {"daily_loss_limit_dollars": 5}}
    a = make_engine(limits)
    lose_by_settlement(a, "M1", 12)
    assert len(a.events("CIRCUIT_BREAKER_TRIPPED")) == 1
    a.stop()
    audit = tmp_path / "reset-audit.jsonl"
    argv = ["breaker", "reset", "--db", str(a.db_path), "--config", _config_file(tmp_path, limits),
            "--audit", str(audit)]
    assert app.main(argv) == 2
    assert "--yes" in capsys.readouterr().err
    status = argparse.Namespace(db=str(a.db_path), config=_config_file(tmp_path, limits))
    assert breaker_command.status(status, clock=VirtualClock(a.now())) == 0
    assert "HOLDS today" in capsys.readouterr().out
    b = make_engine(limits, start=a.now() + timedelta(minutes=5), database_of=a)
    b.market("M2", "0.49", "0.50")
    sig = b.signal("M2", contracts=5, signal_id="b-M2")
    b.run(1)
    assert rejections(b, sig.signal_id)                  # still tripped: nothing was reset
    b.stop()

    assert app.main(argv + ["--yes"]) == 0
    out = capsys.readouterr().out
    assert "reset" in out and "daily loss" in out
    events = [e for e in run_audit(audit) if e["event"] == "CIRCUIT_BREAKER_RESET"]
    assert len(events) == 1 and events[0]["by"] == "operator" and "daily loss" in events[0]["reason"]
    c = make_engine(limits, start=a.now() + timedelta(minutes=10), database_of=a)
    c.market("M2", "0.49", "0.50")
    c.enter("M2", contracts=5, signal_id="c-M2")   # the loss before the reset no longer counts
    assert not c.events("CIRCUIT_BREAKER_TRIPPED")
    assert app.main(argv + ["--yes"]) == 0
    assert "no breaker is tripped" in capsys.readouterr().out


def run_audit(path):  # type: ignore[no-untyped-def]
    from adapters.audit.log import read_audit

    return read_audit(path)


# --- the API failure breaker ---------------------------------------------------------------------------

def _failing_reads(h, every: int = 1) -> None:  # type: ignore[no-untyped-def]
    """The venue answers every `every`-th quote read with a malformed payload (not retried)."""
    original = h.venue.get_quotes
    count = {"n": 0}

    def get_quotes(tickers):  # type: ignore[no-untyped-def]
        count["n"] += 1
        if count["n"] % every == 0:
            raise MalformedPayload("get_quotes: the answer could not be parsed")
        return original(tickers)

    h.venue.get_quotes = get_quotes  # type: ignore[method-assign]


def test_forty_failed_reads_in_under_seven_minutes_trip_the_api_failure_breaker(engine):
    h = engine
    for i in range(40):
        h.market(f"K{i}", "0.49", "0.50")
    _failing_reads(h)
    for i in range(40):                                  # one failed read every 10 s: 40 in 6.7 minutes
        h.signal(f"K{i}", contracts=5)
        h.run(10)
    tripped = h.events("CIRCUIT_BREAKER_TRIPPED")
    assert len(tripped) == 1 and "failure rate" in tripped[0]["reason"]
    assert tripped[0]["calls"] >= 10 and tripped[0]["failures"] * 2 >= tripped[0]["calls"]
    assert not h.events("TRADE_EXECUTED")


def test_occasional_failures_and_too_few_calls_do_not_trip_the_api_failure_breaker(make_engine):
    h = make_engine()
    for i in range(60):
        h.market(f"K{i}", "0.49", "0.50")
    _failing_reads(h, every=4)                           # 25% of reads fail, well under 50%
    for i in range(60):
        h.signal(f"K{i}", contracts=1)
        h.run(5)
    assert not h.events("CIRCUIT_BREAKER_TRIPPED")
    assert h.events("VENUE_ERROR") and 30 <= len(h.events("TRADE_EXECUTED")) < 60
    h.stop()
    g = make_engine()
    for i in range(9):
        g.market(f"K{i}", "0.49", "0.50")
    _failing_reads(g)                                    # 9 of 9 fail, below the minimum of 10 calls
    for i in range(9):
        g.signal(f"K{i}", contracts=1)
        g.run(5)
    assert not g.events("CIRCUIT_BREAKER_TRIPPED")


# --- the settings ----------------------------------------------------------------------------------------

def test_bad_breaker_and_signal_settings_are_errors_naming_their_key(tmp_path):
    import pytest

    from config.loader import ConfigError, load_config

    cases = [
        ({"circuit_breaker": {"day_timezone": "Mars/Olympus_Mons"}}, "circuit_breaker.day_timezone", "IANA"),
        ({"circuit_breaker": {"api_failure_rate_pct": 150}}, "circuit_breaker.api_failure_rate_pct", "percentage"),
        ({"circuit_breaker": {"api_failure_min_calls": 0}}, "circuit_breaker.api_failure_min_calls", "above 0"),
        ({"circuit_breaker": {"api_failure_limit": 10}}, "circuit_breaker.api_failure_limit", "unknown key"),
        ({"signals": {"max_age_secs": {"default": 0}}}, "signals.max_age_secs.default", "above 0"),
        ({"signals": {"max_age_secs": {"sim": -5}}}, "signals.max_age_secs.sim", "above 0"),
        ({"signals": {"max_clock_skew_secs": -1}}, "signals.max_clock_skew_secs", "0 or more"),
        ({"signals": {"max_slippage_cents": 100}}, "signals.max_slippage_cents", "below 100"),
    ]
    for n, (override, key, expected) in enumerate(cases):
        path = tmp_path / f"bad{n}.yaml"
        path.write_text(yaml.safe_dump(override), encoding="utf-8")
        with pytest.raises(ConfigError) as bad:
            load_config(path)
        message = str(bad.value)
        assert message.startswith(f"{path}: {key}") and expected in message, message
    ok = tmp_path / "ok.yaml"
    ok.write_text(yaml.safe_dump({"circuit_breaker": {"day_timezone": "America/New_York"},
                                  "signals": {"max_age_secs": {"default": 30, "my-model": 120}}}), encoding="utf-8")
    c = load_config(ok)
    assert c.signals.max_age_for("my-model") == 120 and c.signals.max_age_for("other") == 30
