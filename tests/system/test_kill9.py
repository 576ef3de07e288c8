"""`kill -9` of `python run.py live` at many points of a run, and what each next start does.

The live command runs as a subprocess against the loopback fake Kalshi served from this test
process (a PaperVenue behind signed HTTP). The test drives the market by changing the paper
book and appending to the signals file, and SIGKILLs the process:

1. entry in flight: the IOC buy reached the venue and filled, its answer never came back
   (the fake holds it), so the position was never written;
2. exit walking: a walked exit order (attempt 2 or later) rests on the venue;
3. partial fill: 2 of a resting exit's 5 contracts were just bought from it on the venue, and
   the process has not looked yet;
4. cancel in flight during reconciliation: the start-up cancel of that order was processed by
   the venue, its answer held back;
5. cancel in flight by an executor: a timed-out exit's cancel was processed, answer held back;
6. during a core-actor restart: a quote read hangs, the Watchdog finds the RateLimiter stuck
   (its stall limit lowered to 1 s for this start) and replaces it; killed the moment
   ACTOR_RESTARTED is written, with the old RateLimiter still hanging and the new one just
   sent the calls it had not answered.

Each time it starts the command again on the same database, audit log and signals file; the
last start sees the market fall, sells everything by stop loss, and is stopped with SIGTERM.
Then it checks the invariants over everything the venue saw (see the module's helpers):
no client_order_id used for two orders, never two resting exit orders for one market and side,
never more sold than bought, database and venue agreeing at the end (positions, orders, fills,
P&L), the audit log agreeing with the database (`run.py audit`), and every restart reconciling
(look-ups and cancels only) before it sends anything. The first three are also checked on
every poll, so a break fails at once with its cause.

Waiting is polling with a deadline on the wall clock (the subprocess lives on it); every
subprocess also has --duration-s as a backstop, so nothing here can hang.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import pytest

from actors.clock import WallClock
from adapters.storage.database import connect
from tests.fakes.kalshi_server import FakeKalshi, generate_test_key, serve_fake_kalshi, write_test_key
from adapters.paper.venue import PaperVenue
from adapters.storage.repository import Repository
from models.venue import OrderRejected
from models.market import Side
from models.orders import Action, OrderRequest, OrderSnapshot, OrderStatus
from adapters.storage.tables import OrderRow
from tests.paths import ROOT

ROOT = ROOT
KEY_ID = "kill9-key-id"
TICKER = "KXNBAGAME-26JAN11LALBOS-BOS"
D = Decimal
CREATE = ("POST", "/portfolio/orders")
LIST_ORDERS = ("GET", "/portfolio/orders")
GET_ORDER = ("GET", "/portfolio/orders/{order_id}")
CANCEL = ("DELETE", "/portfolio/orders/{order_id}")
POSITIONS = ("GET", "/portfolio/positions")
RUN_BACKSTOP_S = 25          # --duration-s of every subprocess: none outlives a broken test
STEP_TIMEOUT_S = 12          # the longest any one awaited moment may take

# Short cadences so that a run does things within a second or two; a wide spread is allowed so
# that a MEDIUM exit can rest and walk several times without filling.
CONFIG = """\
monitoring:
  normal_interval_secs: 0.5
  urgent_interval_secs: 0.25
  price_cache_ttl_secs: 0.5
  max_api_calls_per_minute: 6000
liquidity:
  max_spread_cents: 50
exit_execution:
  CRITICAL:
    timeout_secs: 1
  HIGH:
    timeout_secs: 1
  MEDIUM:
    timeout_secs: 1.5
  LOW:
    timeout_secs: 1
"""
# Start 6 only: the RateLimiter counts as stuck after 1 s (a hung read makes it so).
STUCK_LIMITER = """\
supervision:
  heartbeat_secs: 0.1
  stall_limit_secs:
    rate_limiter: 1
"""


def _now_iso() -> str:
    """Signals are dated when written: a live run refuses one older than signals.max_age_secs."""
    return datetime.now(timezone.utc).isoformat()


class RecordingVenue(PaperVenue):
    """The fake's paper venue, noting (under its lock, so at the exact moment) every sell placed
    while another sell of that market and side rested, and every order it rejected."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.overlapping_sells: list[tuple[str, tuple[str, ...]]] = []
        self.rejections: list[tuple[OrderRequest, str]] = []

    def place_order(self, request: OrderRequest) -> OrderSnapshot:
        with self._lock:
            if request.action is Action.SELL:
                resting = tuple(o.client_order_id for o in self.list_orders(request.ticker, OrderStatus.RESTING)
                                if o.action is Action.SELL and o.side is request.side)
                if resting:
                    self.overlapping_sells.append((request.client_order_id, resting))
            try:
                return super().place_order(request)
            except OrderRejected as exc:
                self.rejections.append((request, str(exc)))
                raise


def wait_until(condition: Callable[[], Any], what: str, timeout_s: float = STEP_TIMEOUT_S,
               guard: Callable[[], None] = lambda: None) -> Any:
    """Poll `condition` until it returns something truthy (returned), or fail naming `what`.
    `guard()` runs first on every poll, to fail at once (and say why) when something broke."""
    deadline = time.monotonic() + timeout_s
    pause = threading.Event()
    while True:
        guard()
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        pause.wait(0.02)


@dataclass
class Start:
    """One start of the live command and what the test knew when it began and when it ended."""

    label: str
    first_exchange: int                      # index into fake.exchanges of this start's first request
    live_orders_in_db: tuple[str, ...]       # client_order_ids the database said may be live
    resting_on_venue: tuple[str, ...]        # order ids resting on the venue when it started
    last_exchange: int | None = None
    how_it_ended: str = ""
    returncode: int | None = None


@dataclass
class Session:
    """The fake Kalshi, the files the command shares across starts, and the starts so far."""

    tmp: Path
    venue: RecordingVenue
    fake: FakeKalshi
    env: dict[str, str]
    starts: list[Start] = field(default_factory=list)
    proc: subprocess.Popen | None = None

    @property
    def db(self) -> Path:
        return self.tmp / "live.db"

    @property
    def audit(self) -> Path:
        return self.tmp / "audit.jsonl"

    @property
    def signals(self) -> Path:
        return self.tmp / "signals.jsonl"

    def since(self, start: Start) -> list:
        return list(self.fake.exchanges)[start.first_exchange:]

    def start(self, label: str) -> Start:
        assert self.proc is None, "one live process at a time"
        live, _ = read_database(self.db)
        resting = tuple(o.order_id for o in self.venue.list_orders(TICKER, OrderStatus.RESTING))
        st = Start(label, len(self.fake.exchanges), tuple(r.client_order_id for r in live), resting)
        n = len(self.starts)
        out = (self.tmp / f"run{n}.out").open("wb")
        err = (self.tmp / f"run{n}.err").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "run.py", "live", "--no-auto-signals", "--duration-s", str(RUN_BACKSTOP_S),
             "--signals", str(self.signals), "--db", str(self.db), "--audit", str(self.audit),
             "--config", str(self.tmp / "config.yaml")],
            cwd=ROOT, env=self.env, stdout=out, stderr=err)
        out.close()
        err.close()
        self.starts.append(st)
        return st

    def wait(self, condition: Callable[[], Any], what: str) -> Any:
        """wait_until, failing at once if the live process died or an invariant broke."""
        return wait_until(condition, f"{self.starts[-1].label}: {what}", guard=self.guard)

    def guard(self) -> None:
        """The invariants the venue watches at the moment they could break, and a live process."""
        _check_exit_orders_never_overlap(self.venue)
        assert _resent_client_order_ids(self.fake.exchanges) == [], "a client_order_id was used twice"
        assert [why for _, why in self.venue.rejections if "cannot sell" in why] == [], "an exit oversold"
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"{self.starts[-1].label}: the live command exited with {self.proc.returncode}:\n"
                                 + self.stderr(len(self.starts) - 1)[-3000:])

    def reconciled(self, st: Start) -> None:
        """Wait for reconciliation's last call (the venue's positions read)."""
        self.wait(lambda: any((e.method, e.route) == POSITIONS for e in self.since(st)),
                  "reconciliation to read the venue's positions")

    def stderr(self, n: int) -> str:
        return (self.tmp / f"run{n}.err").read_text(encoding="utf-8", errors="replace")

    def stdout(self, n: int) -> str:
        return (self.tmp / f"run{n}.out").read_text(encoding="utf-8", errors="replace")

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self._reap("SIGKILL")

    def terminate(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        self._reap("SIGTERM")

    def _reap(self, how: str) -> None:
        assert self.proc is not None
        st = self.starts[-1]
        st.returncode = self.proc.wait(timeout=20)
        st.how_it_ended = how
        self.proc = None
        # A request the dead process had already sent may still be answered: wait until the
        # fake has been quiet for a moment, so the next start's requests are told apart.
        seen = [len(self.fake.exchanges), time.monotonic()]

        def quiet() -> bool:
            n = len(self.fake.exchanges)
            if n != seen[0]:
                seen[:] = [n, time.monotonic()]
            return time.monotonic() - seen[1] > 0.3
        wait_until(quiet, f"{st.label}: the fake to go quiet after the process ended")
        st.last_exchange = len(self.fake.exchanges)

    def append_signal(self, signal_id: str, contracts: int) -> None:
        event = {"type": "signal", "ts": _now_iso(), "signal_id": signal_id, "ticker": TICKER,
                 "side": "yes", "signal_type": "default", "win_probability": "0.90", "market_price": "0.50",
                 "game_id": "G1", "sport": "nba", "contracts": contracts}
        with self.signals.open("a", encoding="utf-8") as f:
            f.write(json.dumps(event) + "\n")

    def resting_sells(self, created_after: Start | None = None) -> list[OrderSnapshot]:
        """Exit orders resting on the venue, optionally only those this start created."""
        orders = [o for o in self.venue.list_orders(TICKER, OrderStatus.RESTING) if o.action is Action.SELL]
        if created_after is not None:
            mine = {e.request_json.get("client_order_id") for e in self.since(created_after)
                    if (e.method, e.route) == CREATE and isinstance(e.request_json, dict)}
            orders = [o for o in orders if o.client_order_id in mine]
        return orders

    def audit_events(self) -> list[dict[str, Any]]:
        if not self.audit.exists():
            return []
        out = []
        for line in self.audit.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:      # a line torn by the kill
                pass
        return out


def read_database(path: Path) -> tuple[tuple, dict[tuple[str, Side], int]]:
    """(orders the database says may be live, open contracts by market and side). Read only
    while no live process runs."""
    if not path.exists():
        return (), {}
    db = connect(str(path))
    try:
        repo = Repository(db, WallClock())
        held: dict[tuple[str, Side], int] = defaultdict(int)
        for p in repo.load_open_positions():
            held[(p.ticker, p.side)] += p.contracts
        return repo.open_orders(), dict(held)
    finally:
        db.close()


def attempt_of(client_order_id: str) -> int:
    """Exit orders are {exit_id}-{attempt}; the attempt counts the walks."""
    return int(client_order_id.rsplit("-", 1)[1])


@pytest.fixture
def session(tmp_path):
    key = generate_test_key()
    clock = WallClock()
    venue = RecordingVenue(clock, name="fake-kalshi-book", starting_balance=D("1000"))
    venue.set_book(TICKER, [(D("0.48"), 200)], [(D("0.50"), 200)], volume=1000)
    fake = FakeKalshi(venue, key.public_key(), KEY_ID, clock, max_clock_skew=timedelta(seconds=5))
    key_path = write_test_key(key, tmp_path / "kalshi.pem")
    (tmp_path / "config.yaml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "signals.jsonl").write_text("", encoding="utf-8")
    with serve_fake_kalshi(fake) as running:
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env.update(KALSHI_API_BASE=running.base_url, KALSHI_KEY_ID=KEY_ID, KALSHI_PRIVATE_KEY_PATH=str(key_path),
                   PYTHONPATH=str(ROOT))
        s = Session(tmp_path, venue, fake, env)
        try:
            yield s
        finally:
            if s.proc is not None and s.proc.poll() is None:
                os.kill(s.proc.pid, signal.SIGKILL)
                s.proc.wait(timeout=10)


def set_book(venue: PaperVenue, bid: str, ask: str, *, extra_bids: tuple = ()) -> list:
    return venue.set_book(TICKER, [*extra_bids, (D(bid), 200)], [(D(ask), 200)], volume=1000)


def test_kill_9_at_many_points_and_each_restart_reconciles_before_sending(session: Session) -> None:
    s, venue, fake = session, session.venue, session.fake

    # 1. Entry in flight: the buy reaches the venue and fills; its answer is held back.
    fake.hang_next(method="POST", route="/portfolio/orders")
    st = s.start("start 1 (kill: entry in flight)")
    s.append_signal("kill9-s1", 10)
    s.wait(lambda: [e for e in s.since(st) if (e.method, e.route) == CREATE], "the entry order to be sent")
    assert venue.holding(TICKER, Side.YES) == 10
    s.kill9()
    live, held = read_database(s.db)
    assert [r.client_order_id for r in live] == ["en-kill9-s1"] and held == {}, \
        "the entry was written down before it was sent, and no position written without its answer"

    # 2. Exit walking: up 16% (stage 1 of the partial exits sells 5 at the mid, and walks).
    set_book(venue, "0.58", "0.80")
    st = s.start("start 2 (kill: exit walking)")
    s.reconciled(st)
    walked = s.wait(lambda: [o for o in s.resting_sells(st) if attempt_of(o.client_order_id) >= 2],
                    "a walked exit order resting on the venue")
    s.kill9()
    assert venue.get_order(walked[0].order_id).status is OrderStatus.RESTING

    # 3. Partial fill: someone buys 2 of a resting exit order's contracts; kill at once.
    st = s.start("start 3 (kill: partial fill)")
    s.reconciled(st)
    partial = None
    for _ in range(5):
        order = s.wait(lambda: s.resting_sells(st), "an exit order resting on the venue")[0]
        fills = set_book(venue, "0.58", "0.80", extra_bids=((order.limit_price, 2),))
        if fills:
            partial = order
            break
        set_book(venue, "0.58", "0.80")    # it was canceled just before: take that bid away again
    assert partial is not None, "no resting exit order could be partly filled"
    s.kill9()
    snap = venue.get_order(partial.order_id)
    assert (snap.status, snap.filled_count) == (OrderStatus.RESTING, 2)

    # 4. Cancel in flight during reconciliation: the start-up cancel of that order is held back.
    fake.hang_next(method="DELETE", route="/portfolio/orders/{order_id}")
    st = s.start("start 4 (kill: reconciliation's cancel in flight)")
    s.wait(lambda: [e for e in s.since(st) if (e.method, e.route) == CANCEL], "reconciliation's cancel")
    s.kill9()
    assert venue.get_order(partial.order_id).status is OrderStatus.CANCELED

    # 5. Cancel in flight by an executor: its timed-out exit order's cancel is held back. Stage 1
    # sold (2) while no process watched, so reconciliation marked it done; +26% fires stage 2.
    set_book(venue, "0.63", "0.80")
    st = s.start("start 5 (kill: executor's cancel in flight)")
    s.reconciled(st)
    resting = s.wait(lambda: s.resting_sells(st), "an exit order of this start resting")[0]
    armed_at = len(fake.exchanges)
    fake.hang_next(method="DELETE", route="/portfolio/orders/{order_id}")
    s.wait(lambda: [e for e in list(fake.exchanges)[armed_at:] if (e.method, e.route) == CANCEL],
           "the executor's cancel")
    s.kill9()
    assert venue.get_order(resting.order_id).status is OrderStatus.CANCELED

    # 6. During a core-actor restart: a quote read hangs; with the RateLimiter's stall limit at
    # 1 s the Watchdog replaces it; kill the moment the restart is written to the audit log.
    (s.tmp / "config.yaml").write_text(CONFIG + STUCK_LIMITER, encoding="utf-8")
    st = s.start("start 6 (kill: during a core-actor restart)")
    s.reconciled(st)
    seen = len(s.audit_events())
    fake.hang_next(method="GET", route="/markets")
    restart = s.wait(lambda: [e for e in s.audit_events()[seen:] if e.get("event") == "ACTOR_RESTARTED"
                              and e.get("actor") == "rate_limiter"], "the stuck RateLimiter to be restarted")
    s.kill9()
    assert restart[0]["reason"].startswith("stuck"), restart
    (s.tmp / "config.yaml").write_text(CONFIG, encoding="utf-8")

    # 7. The market falls: the last start sells everything by stop loss, then stops cleanly.
    set_book(venue, "0.40", "0.45")
    st = s.start("start 7 (stop loss, then SIGTERM)")
    s.reconciled(st)
    s.wait(lambda: venue.holding(TICKER, Side.YES) == 0, "the stop loss to sell everything")
    s.wait(lambda: any(e.get("event") == "POSITION_CLOSED" for e in s.audit_events()),
           "the position to be closed")
    s.terminate()
    assert st.returncode == 0, s.stderr(6)[-3000:]
    assert "Positions: 1 (1 closed, 0 open)" in s.stdout(6)
    assert f"2@{partial.limit_price:.2f}" in s.stdout(6), "the fill found by reconciliation is in the summary"

    # What every start did first, then the invariants over the whole session.
    live_after_all, _ = read_database(s.db)
    assert live_after_all == (), "an order is still marked live after the clean stop"
    for st, following in zip(s.starts, s.starts[1:] + [None]):
        _check_restart(s, st, following.live_orders_in_db if following else ())
    _check_client_order_ids(fake.exchanges, venue)
    _check_exit_orders_never_overlap(venue)
    _check_never_sold_more_than_bought(venue)
    _check_database_agrees_with_venue(s.db, venue)
    audit = subprocess.run([sys.executable, "run.py", "audit", "--log", str(s.audit), "--db", str(s.db)],
                           cwd=ROOT, env=s.env, capture_output=True, text=True, timeout=30)
    assert audit.returncode == 0, f"the audit log and the database disagree:\n{audit.stdout}{audit.stderr}"


# ---- the checks ---------------------------------------------------------------------------

def _check_restart(s: Session, st: Start, live_afterwards: tuple[str, ...]) -> None:
    """Reconciliation first: until the venue's positions were read, only order look-ups and
    cancels; no create at all before that; every order left resting canceled before any
    create; and every order the database had as live at the start resolved (no longer live
    in the database when the process ended, `live_afterwards`)."""
    requests = list(s.fake.exchanges)[st.first_exchange:st.last_exchange]
    kinds = [(e.method, e.route) for e in requests]
    creates = [i for i, k in enumerate(kinds) if k == CREATE]
    done = kinds.index(POSITIONS) if POSITIONS in kinds else None
    before = kinds[:done] if done is not None else kinds
    assert set(before) <= {LIST_ORDERS, GET_ORDER, CANCEL}, f"{st.label}: {before} before reconciling"
    if done is None:      # killed while reconciling (start 4): it must not have sent anything
        assert not creates and st.how_it_ended == "SIGKILL", f"{st.label}: never finished reconciling"
        return
    assert all(i > done for i in creates), f"{st.label}: an order created before reconciliation ended"
    if st.live_orders_in_db:
        assert LIST_ORDERS in before, f"{st.label}: live orders in the database were not looked up"
    unresolved = set(st.live_orders_in_db) & set(live_afterwards)
    assert not unresolved, f"{st.label}: reconciliation left {unresolved} marked live"
    canceled = {e.path.rsplit("/", 1)[1] for e in requests[:done] if (e.method, e.route) == CANCEL}
    assert set(st.resting_on_venue) <= canceled, \
        f"{st.label}: orders left resting {st.resting_on_venue} not all canceled before anything was sent"


def _check_client_order_ids(exchanges: list, venue: PaperVenue) -> None:
    """No client_order_id used for two different orders, none sent twice, one entry."""
    orders = venue.list_orders()
    assert len({o.client_order_id for o in orders}) == len(orders)
    assert _resent_client_order_ids(exchanges) == []
    assert Counter(o.action for o in orders)[Action.BUY] == 1, "the signal was entered more than once"


def _resent_client_order_ids(exchanges: list) -> list[str]:
    """Creates whose client_order_id was sent before. A resend is allowed only on the
    documented look-up path (the same request, after a look-up found nothing); a 409 anywhere
    else means an id was reused."""
    exchanges = list(exchanges)
    bodies: dict[str, list[tuple[int, Any]]] = defaultdict(list)
    resent: list[str] = []
    for i, e in enumerate(exchanges):
        if (e.method, e.route) != CREATE:
            continue
        body = dict(e.request_json)
        cid = body["client_order_id"]
        earlier = bodies[cid]
        if earlier:
            same = all(b == body for _, b in earlier)
            looked_up = any((x.method, x.route) == LIST_ORDERS for x in exchanges[earlier[-1][0] + 1:i])
            if not (same and looked_up):
                resent.append(f"{cid} sent again (status {e.status})")
        elif e.status == 409:
            resent.append(f"{cid}: 409 on its first create")
        earlier.append((i, body))
    return resent


def _check_exit_orders_never_overlap(venue: RecordingVenue) -> None:
    assert venue.overlapping_sells == [], "an exit order was sent while another one rested"


def _check_never_sold_more_than_bought(venue: RecordingVenue) -> None:
    assert [why for _, why in venue.rejections if "cannot sell" in why] == []
    running: dict[tuple[str, Side], int] = defaultdict(int)
    for f in venue.get_fills():
        running[(f.ticker, f.side)] += f.count if f.action is Action.BUY else -f.count
        assert running[(f.ticker, f.side)] >= 0, f"sold more than held at {f}"
    assert running[(TICKER, Side.YES)] == 0 == venue.holding(TICKER, Side.YES)


def _check_database_agrees_with_venue(db_path: Path, venue: PaperVenue) -> None:
    """Open positions match the venue's holdings; every venue order is in the orders table
    with the venue's status and fill count; every fill of ours is in the ledger."""
    _, held = read_database(db_path)
    on_venue = {(t, side): venue.holding(t, side) for t in (TICKER,) for side in Side}
    assert {k: v for k, v in on_venue.items() if v} == held
    db = connect(str(db_path))
    try:
        rows = {r.client_order_id: r for r in OrderRow.select()}
        for o in venue.list_orders():
            row = rows.get(o.client_order_id)
            assert row is not None, f"venue order {o.client_order_id} is not in the database"
            assert (row.order_id, row.status, row.filled_count) == (o.order_id, o.status.value, o.filled_count), \
                f"{o.client_order_id}: database {row.status} {row.filled_count}, " \
                f"venue {o.status.value} {o.filled_count}"
        venue_cids = {o.client_order_id for o in venue.list_orders()}
        never_sent = [cid for cid in rows if cid not in venue_cids]
        assert all(rows[c].status in ("canceled", "rejected") for c in never_sent), never_sent
        repo = Repository(db, WallClock())
        sold_in_ledger = sum(f.count for o in venue.list_orders() if o.action is Action.SELL
                             for f in repo.fills_for_order(o.order_id))
        sold_on_venue = sum(o.filled_count for o in venue.list_orders() if o.action is Action.SELL)
        assert sold_in_ledger == sold_on_venue == 10
        # The money agrees too: the venue's realized P&L less every fee it charged.
        (vp,) = [p for p in venue.get_positions() if p.ticker == TICKER]
        assert sum((p.realized_pnl for p in repo.all_positions()), D(0)) == vp.realized_pnl - vp.fees_paid
    finally:
        db.close()
