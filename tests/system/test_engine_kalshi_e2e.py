"""The engine end to end through the real Kalshi client: engine -> KalshiVenue -> signed HTTP ->
the loopback fake Kalshi -> a PaperVenue, all on the engine's VirtualClock.

The engine is built by running.build_paper_engine with a KalshiVenue as its venue, so every quote
read, create and cancel crosses HTTP on 127.0.0.1 and is signature-checked by the fake (which
also refuses a timestamp more than 5 s from the shared clock). The fake's venue is wrapped so
that, the moment a create arrives, it looks the client_order_id up in the engine's database
(it must already be written down, pending) and notes any sell of that market still resting
(two live exits at once).
"""
from __future__ import annotations

import contextlib
import random
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pykka
import pytest

from adapters.kalshi.auth import KalshiCredentials
from adapters.kalshi.client import KalshiClient, RetryPolicy
from tests.fakes.kalshi_server import FakeKalshi, RunningFake, generate_test_key, serve_fake_kalshi
from adapters.kalshi.venue import KalshiVenue
from adapters.paper.venue import PaperVenue
from config.loader import load_config
from models.market import Quote, Side
from models.orders import Action, OrderRequest, OrderSnapshot, OrderStatus
from models.position import PositionStatus
from models.signal import TradingSignal
from models.records import AttemptAction, ExitStatus, StoredOrderStatus
from adapters.cli.running import PaperEngine, build_paper_engine

KEY_ID = "e2e-key-id"
T0 = datetime(2026, 1, 11, 18, 0, tzinfo=timezone.utc)
STOP = "KXNBAGAME-26JAN11LALBOS-BOS"
TARGET = "KXNBAGAME-26JAN11NYKMIA-MIA"
D = Decimal
ORDERS = "/portfolio/orders"
ONE_ORDER = "/portfolio/orders/{order_id}"


@pytest.fixture(scope="module")
def key():
    return generate_test_key()


class WireSideChecks:
    """The fake's venue: the PaperVenue, with two checks made as each create arrives."""

    def __init__(self, paper: PaperVenue, db_path: Path) -> None:
        self.paper = paper
        self.db_path = db_path
        self.status_at_create: dict[str, str | None] = {}
        self.live_sells_at_create: list[tuple[str, tuple[str, ...]]] = []

    def place_order(self, request: OrderRequest) -> OrderSnapshot:
        con = sqlite3.connect(self.db_path)
        try:
            row = con.execute("SELECT status FROM orders WHERE client_order_id = ?",
                              (request.client_order_id,)).fetchone()
        finally:
            con.close()
        self.status_at_create[request.client_order_id] = None if row is None else row[0]
        if request.action is Action.SELL:
            live = tuple(o.client_order_id for o in self.paper.list_orders(request.ticker, OrderStatus.RESTING)
                         if o.action is Action.SELL and o.side is request.side)
            if live:
                self.live_sells_at_create.append((request.client_order_id, live))
        return self.paper.place_order(request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.paper, name)


@dataclass
class KalshiEngine:
    engine: PaperEngine
    paper: PaperVenue
    fake: FakeKalshi
    running: RunningFake
    checks: WireSideChecks
    audit: list[dict[str, Any]] = field(default_factory=list)

    @property
    def system(self):  # type: ignore[no-untyped-def]
        return self.engine.system

    @property
    def repo(self):  # type: ignore[no-untyped-def]
        self.engine.system.flush()
        return self.engine.repository

    def now(self) -> datetime:
        return self.engine.clock.now()

    def run(self, seconds: float = 0) -> None:
        self.engine.scheduler.run_for(timedelta(seconds=seconds))

    def book(self, ticker: str, bid: str, ask: str, *, size: int = 200) -> None:
        """Set the fake venue's book and push the same top of book to the engine."""
        self.paper.set_book(ticker, [(D(bid), size)], [(D(ask), size)], volume=1000)
        self.system.push_quote(Quote(ticker, self.now(), D(bid), D(ask), size, size, None, 1000, None))
        self.run(0)

    def enter(self, ticker: str, *, contracts: int = 20, ask: str = "0.50") -> str:
        sig = TradingSignal(f"sig-{ticker}", self.now(), f"G-{ticker}", "nba", ticker, "kalshi", Side.YES,
                            "default", D("0.90"), D(ask), source="test", contracts=contracts)
        self.system.push_signal(sig)
        self.run(0)
        opened = self.events("TRADE_EXECUTED", signal_id=sig.signal_id)
        assert opened, f"the signal opened nothing: {self.events('SIGNAL_REJECTED')}"
        return opened[-1]["position_id"]

    def events(self, name: str, **fields: Any) -> list[dict[str, Any]]:
        return [e for e in list(self.audit) if e["event"] == name and all(e.get(k) == v for k, v in fields.items())]

    def posts(self, ticker: str) -> list[Any]:
        return [e for e in self.fake.requests_to("POST", ORDERS) if e.request_json["ticker"] == ticker]


@pytest.fixture
def kx(tmp_path, key, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    db_path = tmp_path / "e2e.db"
    audit: list[dict[str, Any]] = []
    parts: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        def kalshi_on(clock):  # type: ignore[no-untyped-def]
            paper = PaperVenue(clock, name="fake-kalshi-book", starting_balance=D("1000"))
            checks = WireSideChecks(paper, db_path)
            fake = FakeKalshi(checks, key.public_key(), KEY_ID, clock,  # type: ignore[arg-type]
                              max_clock_skew=timedelta(seconds=5))
            running = stack.enter_context(serve_fake_kalshi(fake))
            client = KalshiClient(running.base_url, KalshiCredentials(KEY_ID, key), clock, retry=RetryPolicy(),
                                  rng=random.Random(1))
            venue = KalshiVenue(client, call_timeout_secs=10)
            stack.callback(venue.close)
            parts.update(paper=paper, fake=fake, running=running, checks=checks)
            return venue

        # Partial exits off: the profit target (MEDIUM) is then the one exit that sells everything.
        config_file = tmp_path / "e2e.yaml"
        config_file.write_text("partial_exits:\n  enabled: false\n", encoding="utf-8")
        engine = build_paper_engine(load_config(config_file), T0, db_path=str(db_path), audit_path=None, recorder=audit,
                                    venue_factory=kalshi_on)
        try:
            assert isinstance(engine.venue, KalshiVenue)
            yield KalshiEngine(engine, audit=audit, **parts)
        finally:
            engine.stop()
            leaked = pykka.ActorRegistry.get_all()
            if leaked:
                pykka.ActorRegistry.stop_all(block=True, timeout=10)
                pytest.fail(f"pykka actors left running: {sorted({r.actor_class.__name__ for r in leaked})}")


def assert_database_agrees_with_the_wire(kx: KalshiEngine, ticker: str) -> None:
    """Every create the fake received was written down (pending) before it was sent, was sent
    once, and its row ends with the venue's own view of the order; nothing else was ordered."""
    posts = kx.posts(ticker)
    sent = [e.request_json["client_order_id"] for e in posts]
    assert len(sent) == len(set(sent)), f"an order was sent twice: {sent}"
    assert all(e.status == 201 for e in posts), [(e.status, e.response_json) for e in posts]
    for cid in sent:
        assert kx.checks.status_at_create[cid] == StoredOrderStatus.PENDING.value, \
            f"{cid} reached Kalshi before it was written down ({kx.checks.status_at_create[cid]})"
    repo = kx.repo
    for e in posts:
        cid = e.request_json["client_order_id"]
        row = repo.order_by_client_id(cid)
        venue = kx.paper.find_order(cid)
        assert row is not None and venue is not None
        assert row.order_id == e.response_json["order"]["order_id"] == venue.order_id
        assert (row.status.value, row.filled_count) == (venue.status.value, venue.filled_count), cid
        assert sum(f.count for f in repo.fills_for_order(venue.order_id)) == venue.filled_count, cid
    con = sqlite3.connect(kx.checks.db_path)
    try:
        written = {cid for (cid,) in con.execute("SELECT client_order_id FROM orders WHERE ticker = ?", (ticker,))}
    finally:
        con.close()
    assert written == set(sent), "the database and the wire disagree on which orders exist"


def test_a_signal_opens_by_signed_ioc_create_and_a_stop_loss_sells_by_marketable_ioc(kx):
    kx.book(STOP, "0.48", "0.50")
    pid = kx.enter(STOP, contracts=20)

    (entry,) = kx.posts(STOP)
    assert entry.request_json | {"client_order_id": "-"} == {
        "ticker": STOP, "client_order_id": "-", "side": "yes", "action": "buy", "count": 20,
        "time_in_force": "immediate_or_cancel", "yes_price": 50}
    assert entry.response_json["order"]["status"] == "executed"
    assert kx.paper.holding(STOP, Side.YES) == 20
    assert kx.repo.load_position(pid).contracts == 20

    kx.book(STOP, "0.40", "0.42")          # -20%: past the 12% stop loss
    kx.run(5)

    entry_post, exit_post = kx.posts(STOP)
    assert exit_post.request_json | {"client_order_id": "-"} == {
        "ticker": STOP, "client_order_id": "-", "side": "yes", "action": "sell", "count": 20,
        "time_in_force": "immediate_or_cancel", "yes_price": 40}
    assert exit_post.response_json["order"]["status"] == "executed"
    assert kx.paper.holding(STOP, Side.YES) == 0
    position = kx.repo.load_position(pid)
    assert (position.status, position.contracts) == (PositionStatus.CLOSED, 0)
    (done,) = [x for x in kx.repo.exits_for(pid) if x.status is ExitStatus.FILLED]
    assert (done.reason, done.priority, done.contracts, done.price) == ("stop_loss", "CRITICAL", 20, D("0.40"))
    assert kx.fake.requests_to("DELETE", ONE_ORDER) == []
    assert_database_agrees_with_the_wire(kx, STOP)
    every = kx.fake.exchanges
    assert every and all(e.status < 400 for e in every), [(e.method, e.route, e.status) for e in every if e.status >= 400]


def test_a_profit_target_exit_rests_then_walks_by_http_cancel_and_replace(kx):
    kx.book(TARGET, "0.48", "0.50")
    pid = kx.enter(TARGET, contracts=10)
    kx.book(TARGET, "0.63", "0.65")        # +26%: the 20% profit target (MEDIUM: a fair limit at the mid)
    kx.run(0)

    first = kx.posts(TARGET)[1]
    assert first.request_json["action"] == "sell" and first.request_json["time_in_force"] == "good_till_canceled"
    assert first.request_json["yes_price"] == 64 and first.response_json["order"]["status"] == "resting"
    assert kx.fake.requests_to("DELETE", ONE_ORDER) == []

    kx.run(29)                              # within the 30 s timeout: still resting, nothing re-sent
    assert len(kx.posts(TARGET)) == 2 and kx.fake.requests_to("DELETE", ONE_ORDER) == []
    kx.run(31)

    (cancel,) = kx.fake.requests_to("DELETE", ONE_ORDER)
    assert cancel.status == 200 and cancel.path.endswith("/" + first.response_json["order"]["order_id"])
    entry_post, _, walked = kx.posts(TARGET)
    assert walked.request_json["yes_price"] == 63 and walked.request_json["count"] == 10
    assert walked.request_json["client_order_id"] != first.request_json["client_order_id"]
    assert walked.response_json["order"]["status"] == "executed"
    assert kx.checks.live_sells_at_create == [], "a new exit order went out while the old one still rested"

    placed, = kx.events("ORDER_PLACED", position_id=pid)
    walk, = kx.events("ORDER_WALKED", position_id=pid)
    waited = datetime.fromisoformat(walk["ts"]) - datetime.fromisoformat(placed["ts"])
    assert timedelta(seconds=30) <= waited < timedelta(seconds=31)
    (done,) = [x for x in kx.repo.exits_for(pid) if x.status is ExitStatus.FILLED]
    assert (done.reason, done.priority, done.contracts, done.price) == ("profit_target", "MEDIUM", 10, D("0.63"))
    actions = [a.action for a in kx.repo.attempts_for(done.exit_id)]
    assert actions == [AttemptAction.PLACED, AttemptAction.CANCELED, AttemptAction.WALKED, AttemptAction.FILLED]
    assert kx.repo.order_by_client_id(first.request_json["client_order_id"]).status is StoredOrderStatus.CANCELED
    assert kx.paper.holding(TARGET, Side.YES) == 0
    assert_database_agrees_with_the_wire(kx, TARGET)


def test_live_time_based_urgent_fires_within_one_cadence_of_the_close_window_on_an_unchanging_market(kx):
    """Live (polling the Kalshi API): a market whose quotes never change still gets its
    time-based exit, at most one 30 s cadence after close - 5 min (issue 8 §2)."""
    close = T0 + timedelta(minutes=9)          # the boundary comes before 5 min of silence (liquidity)
    kx.paper.set_book(STOP, [(D("0.48"), 200)], [(D("0.50"), 200)], volume=1000, close_time=close)
    pid = kx.enter(STOP, contracts=10)
    boundary = close - timedelta(minutes=5)
    kx.run((boundary - kx.now()).total_seconds() - 1)
    assert not kx.events("EXIT_TRIGGERED", position_id=pid, condition="time_based_urgent")
    kx.run(31)
    fired = kx.events("EXIT_TRIGGERED", position_id=pid, condition="time_based_urgent")
    assert fired and boundary <= datetime.fromisoformat(fired[0]["ts"]) <= boundary + timedelta(seconds=30)
