"""Signals that cannot hurt the account (issue 9 §2), through the whole engine on virtual time:
age per source and clock skew, the signal's price against the ask (slippage), unknown
markets, and every signal received ends in a decision, or is still pending in the database
for the next start."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from models.venue import VenueUnavailable
from models.market import Side
from models.signal import TradingSignal
from models.records import SignalDecision
D = Decimal


def push(h, signal_id: str, ticker: str, *, age_s: float = 0, source: str = "model",  # type: ignore[no-untyped-def]
         market_price: str | None = "0.50", contracts: int = 5) -> TradingSignal:
    sig = TradingSignal(signal_id, h.now() - timedelta(seconds=age_s), "G1", "nba", ticker, "paper", Side.YES,
                        "default", D("0.90"), None if market_price is None else D(market_price), source=source,
                        contracts=contracts)
    h.system.push_signal(sig)
    h.run(0)
    return sig


def decision(h, signal_id: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """What the audit log says about a signal in the end: TRADE_EXECUTED or SIGNAL_REJECTED (reason)."""
    ends = [e for e in h.audit if e.get("signal_id") == signal_id and e["event"] in ("TRADE_EXECUTED",
                                                                                      "SIGNAL_REJECTED")]
    assert len(ends) == 1, f"{signal_id}: {[e['event'] for e in h.audit if e.get('signal_id') == signal_id]}"
    return ends[0]["event"], ends[0].get("reason", "")


def every_received_signal_has_one_decision(h) -> None:  # type: ignore[no-untyped-def]
    for e in h.events("SIGNAL_RECEIVED"):
        decision(h, e["signal_id"])


# --- age -------------------------------------------------------------------------------------------

def test_a_signal_older_than_its_sources_max_age_or_from_the_future_is_refused(make_engine):
    h = make_engine({"signals": {"max_age_secs": {"default": 30, "slow-model": 600}, "max_clock_skew_secs": 5}})
    for m in ("M1", "M2", "M3", "M4", "M5", "M6"):
        h.market(m, "0.49", "0.50")
    push(h, "day-old", "M1", age_s=24 * 3600)
    push(h, "next-year", "M2", age_s=-365 * 24 * 3600)
    push(h, "skewed", "M3", age_s=-3)                   # 3 s ahead: within the clock skew
    push(h, "fresh", "M4", age_s=20)
    push(h, "slow-ok", "M5", age_s=300, source="slow-model")
    push(h, "slow-late", "M6", age_s=700, source="slow-model")
    h.run(1)
    event, reason = decision(h, "day-old")
    assert event == "SIGNAL_REJECTED" and "old" in reason and "30" in reason
    event, reason = decision(h, "next-year")
    assert event == "SIGNAL_REJECTED" and "future" in reason
    assert decision(h, "skewed")[0] == decision(h, "fresh")[0] == decision(h, "slow-ok")[0] == "TRADE_EXECUTED"
    event, reason = decision(h, "slow-late")
    assert event == "SIGNAL_REJECTED" and "600" in reason
    assert not h.events("ORDER_PLACED", signal_id="day-old") and not h.events("ORDER_PLACED", signal_id="next-year")
    assert h.venue.holding("M1", Side.YES) == h.venue.holding("M2", Side.YES) == 0


# --- price ------------------------------------------------------------------------------------------

def test_a_signal_whose_price_the_market_no_longer_has_is_refused(make_engine):
    h = make_engine({"signals": {"max_slippage_cents": 2}})
    for m in ("M1", "M2", "M3", "M4"):
        h.market(m, "0.49", "0.50")
    push(h, "moved", "M1", market_price="0.30")          # the ask is 0.50: 20 cents away
    push(h, "edge", "M2", market_price="0.48")           # 2 cents: at the slippage, allowed
    push(h, "close", "M3", market_price="0.49")
    push(h, "better", "M4", market_price="0.55")         # the ask is lower than the signal's price
    h.run(1)
    event, reason = decision(h, "moved")
    assert event == "SIGNAL_REJECTED" and "0.30" in reason and "0.50" in reason and "slippage" in reason
    assert not h.events("ORDER_PLACED", signal_id="moved") and h.venue.holding("M1", Side.YES) == 0
    for sid, price in (("edge", "0.48"), ("close", "0.49"), ("better", "0.55")):
        assert decision(h, sid)[0] == "TRADE_EXECUTED"
        (placed,) = h.events("ORDER_PLACED", signal_id=sid)
        assert D(placed["price"]) <= D(price) + D("0.02")


def test_a_signal_for_a_market_that_does_not_exist_says_unknown_market(engine):
    h = engine
    push(h, "nope", "NO-SUCH-MARKET")
    h.run(1)
    event, reason = decision(h, "nope")
    assert event == "SIGNAL_REJECTED" and reason == "unknown market NO-SUCH-MARKET"


# --- every signal gets a decision -----------------------------------------------------------------------

def test_an_entry_that_finds_nothing_ends_its_signal_with_a_rejection(engine):
    h = engine
    h.market("M1", "0.49", None)                          # nobody sells
    h.phantom("M1", "0.49", "0.50")                       # the stream still shows a 0.50 ask
    push(h, "empty", "M1")
    h.run(5)
    assert h.events("ENTRY_NOT_FILLED", signal_id="empty")
    event, reason = decision(h, "empty")
    assert event == "SIGNAL_REJECTED" and "nothing" in reason
    h.system.flush()
    assert h.repo.signal("empty").decision is SignalDecision.REJECTED
    every_received_signal_has_one_decision(h)


def test_a_signal_still_undecided_at_shutdown_is_pending_in_the_database_and_decided_at_the_next_start(
        make_engine):
    a = make_engine()
    a.market("M1", "0.49", "0.50")

    def unavailable(tickers):  # type: ignore[no-untyped-def]
        raise VenueUnavailable("get_quotes: timed out")

    a.venue.get_quotes = unavailable   # type: ignore[method-assign]   # the read is retried with back-off ...
    push(a, "in-flight", "M1")
    assert a.events("SIGNAL_RECEIVED", signal_id="in-flight")
    a.stop()                                              # ... and the process stops before it answers
    assert not [e for e in a.audit if e.get("signal_id") == "in-flight" and e["event"] == "SIGNAL_REJECTED"]
    assert [s.signal_id for s in a.repo.pending_signals()] == ["in-flight"]

    b = make_engine(start=a.now() + timedelta(minutes=10), database_of=a)
    # the builder resumed it (reconcile, start, resume): the pending signal is decided now
    b.run(1)
    event, reason = decision(b, "in-flight")
    assert event == "SIGNAL_REJECTED" and "old" in reason    # ten minutes later it is too old to trade
    b.system.flush()
    assert b.repo.pending_signals() == ()
    assert b.repo.signal("in-flight").decision is SignalDecision.REJECTED


def test_every_signal_of_a_whole_simulated_session_ends_in_one_decision(tmp_path, monkeypatch, capsys):
    from adapters.cli import app
    from adapters.audit.log import read_audit

    monkeypatch.delenv("DATABASE_URL", raising=False)
    audit = tmp_path / "paper.jsonl"
    assert app.main(["paper", "--db", str(tmp_path / "paper.db"), "--audit", str(audit)]) == 0
    capsys.readouterr()
    events = read_audit(audit)
    received = [e["signal_id"] for e in events if e["event"] == "SIGNAL_RECEIVED"]
    ends = [e["signal_id"] for e in events if e["event"] in ("TRADE_EXECUTED", "SIGNAL_REJECTED")]
    assert received and sorted(received) == sorted(ends)
