"""One start-up path (issue 10 §2): every mode builds its engine with adapters.engine.build.build_engine
and starts it in one order, reconcile -> start -> resume; an entry reconciliation cannot confirm
stays reserved; every process draws its own retry jitter."""
from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pykka
import pytest

from adapters.engine.build import STEPS, build_engine
from models.venue import RateLimited, VenueUnavailable
from config.loader import load_config
from models.market import Quote, Side
from models.orders import Action
from models.signal import TradingSignal
from models.position import PositionStatus

TICKER = "KXSTART-A"
OTHER = "KXSTART-B"       # same game, another market


def startups(audit: list[dict]) -> list[list[dict]]:
    """The ENGINE_STARTUP events of an audit log, one list per process start."""
    out: list[list[dict]] = []
    for e in audit:
        if e["event"] == "ENGINE_STARTUP":
            if e["step"] == STEPS[0]:
                out.append([])
            out[-1].append(e)
    return out


# --- one builder, one order ----------------------------------------------------------------------

def _seed_with_restart() -> int:
    from adapters.harness.fault_sim.faults import plan_faults
    from adapters.harness.fault_sim.market import make_scenario

    for seed in range(60):
        if any(f.kind == "process_restart" for f in plan_faults(seed, make_scenario(seed)).faults):
            return seed
    raise AssertionError("no seed in 0..59 plans a process restart")


def test_the_fault_simulator_restarts_through_the_builder_and_reconciles_before_any_actor_exists(tmp_path,
                                                                                                  monkeypatch):
    """The simulator's process restart is the start-up live uses: each start (the first, every
    restart) is reconcile -> start -> resume, and reconciliation's venue calls are made while no
    actor is alive (so nothing can be sent before it)."""
    from adapters.harness.fault_sim.runner import SimRun
    from adapters.harness.fault_sim.venue import ObservedVenue

    alive_at_get_positions: list[int] = []
    original = ObservedVenue.get_positions

    def get_positions(self):  # type: ignore[no-untyped-def]
        alive_at_get_positions.append(len(pykka.ActorRegistry.get_all()))
        return original(self)

    monkeypatch.setattr(ObservedVenue, "get_positions", get_positions)
    seed = _seed_with_restart()
    run = SimRun(seed, tmp_path, config=load_config())
    try:
        run.execute()
        assert run.restarts >= 1 and not run.errors
        starts = startups(run.audit)
        assert len(starts) == run.restarts + 1
        for events in starts:
            assert [e["step"] for e in events] == list(STEPS)
            assert {e["mode"] for e in events} == {"simulate"}
        # Every start reconciled with no actor alive; plus the final check's reconciliation.
        assert alive_at_get_positions.count(0) >= run.restarts + 2
        # Each process drew its own retry-jitter seed.
        seeds = [events[1]["retry_seed"] for events in starts]
        assert len(set(seeds)) == len(seeds)
        assert run.result().ok, run.result().violations
    finally:
        run.close()


def test_live_starts_through_the_same_builder_in_the_same_order(tmp_path, monkeypatch):
    """`run.py live` against the loopback fake Kalshi: its audit log shows the builder's steps
    in the simulator's order, and its jitter seed is its own (not 0)."""
    from adapters.cli import app
    from actors.clock import WallClock
    from tests.fakes.kalshi_server import FakeKalshi, generate_test_key, serve_fake_kalshi, write_test_key
    from adapters.paper.venue import PaperVenue

    key = generate_test_key()
    paper = PaperVenue(WallClock(), name="fake-kalshi-book", starting_balance=Decimal("1000"))
    fake = FakeKalshi(paper, key.public_key(), "startup-key", WallClock(), max_clock_skew=timedelta(seconds=5))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    audits = []
    with serve_fake_kalshi(fake) as running:
        monkeypatch.setenv("KALSHI_API_BASE", running.base_url)
        monkeypatch.setenv("KALSHI_KEY_ID", "startup-key")
        monkeypatch.setenv("KALSHI_PRIVATE_KEY_PATH", str(write_test_key(key, tmp_path / "k.pem")))
        for n in range(2):     # two processes on one database
            audit = tmp_path / f"live-{n}.jsonl"
            assert app.main(["live", "--duration-s", "0.3", "--no-auto-signals", "--db", str(tmp_path / "live.db"),
                             "--audit", str(audit)]) == 0
            audits.append([json.loads(line) for line in audit.read_text().splitlines() if line.strip()])
    assert not pykka.ActorRegistry.get_all()
    seeds = []
    for audit in audits:
        (events,) = startups(audit)
        assert [e["step"] for e in events] == list(STEPS) and {e["mode"] for e in events} == {"live"}
        assert events[1]["platform"] == "kalshi"
        seeds.append(events[1]["retry_seed"])
        # Reconciliation's calls came before any order could be: the first request is a read.
        assert audit.index(events[0]) < min((i for i, e in enumerate(audit) if e["event"] == "ORDER_PLACED"),
                                            default=len(audit))
    assert seeds[0] != seeds[1]
    assert [r.method for r in fake.exchanges][:1] == ["GET"]


def test_paper_replay_and_bench_modes_use_the_builder(tmp_path):
    from adapters.harness.bench.engine import engine_factory

    make = engine_factory(load_config(), tmp_path)
    bench = make("b1")
    try:
        assert bench.startup.mode == "bench" and bench.startup.steps == STEPS
    finally:
        bench.stop()
    audit: list = []
    replay = build_engine("replay", load_config(), db_path=str(tmp_path / "r.db"), start=bench.clock.now(),
                          recorder=audit, seed=0)
    try:
        assert replay.system.rt.streamed_quotes
        assert [e["step"] for e in startups(audit)[0]] == list(STEPS)
    finally:
        replay.stop()
    with pytest.raises(ValueError, match="engine mode 'papr'"):
        build_engine("papr", load_config(), db_path=str(tmp_path / "x.db"), start=bench.clock.now())


# --- an entry reconciliation cannot confirm stays reserved ------------------------------------------

class Outage:
    """Makes a venue answer 503 to everything while `down`; `kill_on_entry_fill` takes it down the
    moment an entry buy has executed (the answer lost: the process is killed right then)."""

    METHODS = ("place_order", "cancel_order", "get_order", "find_order", "list_orders", "get_positions",
               "get_quotes", "get_orderbook", "get_fills", "get_balance")

    def __init__(self, venue) -> None:  # type: ignore[no-untyped-def]
        self.down = False
        self.kill_on_entry_fill = True
        self.lose_entry = False      # the create fails before the venue acts, and the venue goes down
        for name in self.METHODS:
            if hasattr(venue, name):
                setattr(venue, name, self._wrap(name, getattr(venue, name)))

    def _wrap(self, name, fn):  # type: ignore[no-untyped-def]
        def call(*args):  # type: ignore[no-untyped-def]
            if self.down:
                raise VenueUnavailable(f"503 service unavailable ({name})")
            if name == "place_order" and self.lose_entry:
                self.down = True
                raise VenueUnavailable("503 service unavailable (the create never reached the venue)")
            value = fn(*args)
            if name == "place_order" and args[0].action is Action.BUY and self.kill_on_entry_fill:
                self.down = True
                raise VenueUnavailable("the answer was lost: the process was killed")
            return value
        return call


def _signal(sid: str, ticker: str, ts, contracts: int = 10) -> TradingSignal:  # type: ignore[no-untyped-def]
    return TradingSignal(sid, ts, "G1", "nba", ticker, "paper", Side.YES, "default", Decimal("0.80"),
                         Decimal("0.50"), contracts=contracts)


def test_an_entry_reconciliation_cannot_confirm_keeps_its_market_side_and_cost_until_the_venue_answers(
        make_engine):
    """Killed the instant its IOC entry filled, restarted while the venue answers 503: the entry
    keeps TICKER yes reserved and its cost in the caps, so the next signals open nothing beside
    it; when the venue answers, the look-up finds the fill and the position opens with it. The
    venue ends holding 10, as the engine allows (before: 20)."""
    caps = {"exposure_limits": {"per_game_dollars": 5.5, "per_market_dollars": 5.5, "portfolio_dollars": 500}}
    a = make_engine(caps)
    a.market(TICKER, "0.49", "0.50")
    a.market(OTHER, "0.49", "0.50")
    outage = Outage(a.venue)
    a.system.push_signal(_signal("first", TICKER, a.now()))
    a.run(0)
    venue = a.venue
    assert venue.holding(TICKER, Side.YES) == 10 and outage.down
    a.stop()                                  # kill -9: no position was written
    assert a.repo.load_position("pos-first") is None

    audit: list = []
    b = build_engine("paper", a.config, db_path=str(a.db_path), start=a.now(), recorder=audit, seed=0,
                     venue_factory=lambda clock: venue)
    try:
        assert [e["step"] for e in startups(audit)[0]] == list(STEPS)
        assert any("cannot confirm entry order en-first" in x for x in b.startup.report.alerts)
        assert b.startup.entries_held == 1
        outage.down = False                   # the venue is back; the next signals arrive at once
        outage.kill_on_entry_fill = False
        b.system.push_signal(_signal("second", TICKER, b.clock.now()))
        b.system.push_signal(_signal("other-market", OTHER, b.clock.now()))
        b.scheduler.run_for(timedelta(seconds=0))
        reasons = {e["signal_id"]: e["reason"] for e in audit if e["event"] == "SIGNAL_REJECTED"}
        assert "already open or pending" in reasons["second"]
        assert "exposure caps" in reasons["other-market"]          # the held entry's $5 counts
        b.scheduler.run_for(timedelta(seconds=120))                 # the look-up finds the fill
        b.system.flush()
        p = b.repository.load_position("pos-first")
        assert p is not None and (p.status, p.contracts) == (PositionStatus.OPEN, 10)
        assert [e["position_id"] for e in audit if e["event"] == "TRADE_EXECUTED"] == ["pos-first"]
        b.system.push_signal(_signal("third", TICKER, b.clock.now()))
        b.scheduler.run_for(timedelta(seconds=1))
        assert venue.holding(TICKER, Side.YES) == 10
        assert venue.holding(OTHER, Side.YES) == 0
    finally:
        b.stop()


def test_an_unconfirmed_entry_that_never_reached_the_venue_is_released_not_resent(make_engine):
    a = make_engine()
    a.market(TICKER, "0.49", "0.50")
    outage = Outage(a.venue)
    outage.lose_entry = True                  # the create never reaches the venue, which goes down
    a.system.push_signal(_signal("lost", TICKER, a.now()))
    a.run(0)
    venue = a.venue
    a.stop()
    audit: list = []
    b = build_engine("paper", a.config, db_path=str(a.db_path), start=a.now(), recorder=audit, seed=0,
                     venue_factory=lambda clock: venue)
    try:
        assert b.startup.entries_held == 1
        outage.down = outage.lose_entry = outage.kill_on_entry_fill = False
        b.scheduler.run_for(timedelta(seconds=120))
        assert [o for o in venue.list_orders(TICKER)] == []           # the old entry is not sent
        assert any(e["event"] == "ENTRY_NOT_FILLED" and e.get("signal_id") == "lost" for e in audit)
        # ... and its signal gets its decision (issue 9: every SIGNAL_RECEIVED ends in
        # TRADE_EXECUTED or SIGNAL_REJECTED, or is still pending in the database)
        decided = [e for e in audit if e.get("signal_id") == "lost" and e["event"] in ("SIGNAL_REJECTED",
                                                                                        "TRADE_EXECUTED")]
        assert [e["event"] for e in decided] == ["SIGNAL_REJECTED"] and "never reached" in decided[0]["reason"]
        q = Quote(TICKER, b.clock.now(), Decimal("0.49"), Decimal("0.50"), None, None, None, 1000, None)
        venue.set_quote(q)
        b.system.push_quote(q)
        b.system.push_signal(_signal("fresh", TICKER, b.clock.now()))  # the key is free again
        b.scheduler.run_for(timedelta(seconds=1))
        assert venue.holding(TICKER, Side.YES) == 10
    finally:
        b.stop()


# --- retry jitter per process ---------------------------------------------------------------------

def _retry_delay(tmp_path, name: str, seed: int | None, start) -> timedelta:  # type: ignore[no-untyped-def]
    """Build an engine, answer its first quote read 429, and return how long it waited to retry."""
    engine = build_engine("paper", load_config(), db_path=str(tmp_path / f"{name}.db"), start=start, fresh=True,
                          seed=seed)
    try:
        venue = engine.venue
        venue.set_quote(Quote(TICKER, start, Decimal("0.49"), Decimal("0.50"), None, None, None, 1000, None))
        original, refused = venue.get_quotes, []

        def get_quotes(tickers):  # type: ignore[no-untyped-def]
            if not refused:
                refused.append(engine.clock.now())
                raise RateLimited("too many requests")
            return original(tickers)

        venue.get_quotes = get_quotes
        engine.system.push_signal(_signal(f"{name}-sig", TICKER, start))
        engine.scheduler.run_for(timedelta(seconds=30))
        calls = [t for t, m in engine.system.proxy_attr(engine.system.refs.rate_limiter, "call_log")
                 if m == "get_quotes"]
        assert len(calls) >= 2, calls
        return calls[1] - calls[0]
    finally:
        engine.stop()


def test_each_process_draws_its_own_retry_jitter_and_an_injected_seed_repeats(tmp_path):
    from conftest import T0

    own = [_retry_delay(tmp_path, f"own{i}", None, T0) for i in range(2)]
    assert own[0] != own[1], "two processes retried after the same delay: the jitter is not seeded per process"
    fixed = [_retry_delay(tmp_path, f"fixed{i}", 1234, T0) for i in range(2)]
    assert fixed[0] == fixed[1]
