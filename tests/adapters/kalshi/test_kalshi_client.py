"""KalshiClient and KalshiVenue against the loopback fake Kalshi, over real HTTP on 127.0.0.1."""
from __future__ import annotations

import random
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from actors.clock import VirtualClock
from adapters.kalshi.auth import KalshiCredentials
from adapters.kalshi.client import KalshiClient, RetryPolicy, error_for_status, order_body
from tests.fakes.kalshi_server import FakeKalshi, RunningFake, generate_test_key, serve_fake_kalshi
from adapters.kalshi.venue import KalshiVenue
from adapters.paper.venue import PaperVenue
from models.venue import (
    AuthError, DuplicateClientOrderId, OrderNotFound, OrderRejected, RateLimited, Venue, VenueError,
    VenueUnavailable,
)
from models.market import Side
from models.orders import Action, OrderRequest, OrderStatus, TimeInForce

KEY_ID = "test-key-id"
T0 = datetime(2026, 1, 12, 20, 0, tzinfo=timezone.utc)
TICKER = "KXNFLGAME-26JAN12HOUPIT-PIT"
OTHER = "KXNFLGAME-26JAN12HOUPIT-HOU"
D = Decimal


@pytest.fixture(scope="module")
def key():
    return generate_test_key()


class RecordingSleeper:
    """Stands in for asyncio.sleep: records the delays, never waits."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@dataclass
class Harness:
    clock: VirtualClock
    paper: PaperVenue
    fake: FakeKalshi
    running: RunningFake
    sleeper: RecordingSleeper
    venue: KalshiVenue
    key: object

    def client(self, credentials: KalshiCredentials | None = None, **kwargs) -> KalshiClient:
        kwargs.setdefault("retry", RetryPolicy())
        return KalshiClient(self.running.base_url, credentials or KalshiCredentials(KEY_ID, self.key), self.clock,
                            sleep=self.sleeper, rng=random.Random(42), **kwargs)

    def posts(self) -> int:
        return len(self.fake.requests_to("POST", "/portfolio/orders"))


@pytest.fixture
def h(key):
    clock = VirtualClock(T0)
    paper = PaperVenue(clock, name="paper", starting_balance=D("1000"))
    paper.set_book(TICKER, [(D("0.55"), 100), (D("0.54"), 50)], [(D("0.58"), 40), (D("0.60"), 100)],
                   volume=1234, close_time=T0 + timedelta(hours=3))
    paper.set_book(OTHER, [(D("0.41"), 10)], [(D("0.44"), 10)])
    fake = FakeKalshi(paper, key.public_key(), KEY_ID, clock, max_clock_skew=timedelta(seconds=5))
    sleeper = RecordingSleeper()
    with serve_fake_kalshi(fake) as running:
        harness = Harness(clock, paper, fake, running, sleeper, None, key)  # type: ignore[arg-type]
        harness.venue = KalshiVenue(harness.client())
        try:
            yield harness
        finally:
            harness.venue.close()


def buy(cid: str, price: str, count: int = 10, tif: TimeInForce = TimeInForce.GTC, ticker: str = TICKER,
        side: Side = Side.YES) -> OrderRequest:
    return OrderRequest(cid, ticker, side, Action.BUY, count, D(price), tif)


# ---- the happy paths ---------------------------------------------------------------------------

def test_kalshi_venue_implements_the_venue_protocol(h):
    assert isinstance(h.venue, Venue)


def test_quotes_for_many_markets_come_from_one_call(h):
    quotes = h.venue.get_quotes([TICKER, OTHER, "KXUNKNOWN-1"])
    assert set(quotes) == {TICKER, OTHER}
    q = quotes[TICKER]
    assert (q.yes_bid, q.yes_ask, q.yes_bid_size, q.yes_ask_size, q.volume) == (D("0.55"), D("0.58"), 100, 40, 1234)
    assert q.close_time == T0 + timedelta(hours=3) and q.ts == T0
    calls = h.fake.requests_to("GET", "/markets")
    assert len(calls) == 1 and calls[0].query["tickers"] == f"{TICKER},{OTHER},KXUNKNOWN-1"


def test_one_market_and_an_unknown_one(h):
    assert h.venue.get_quote(OTHER).yes_ask == D("0.44")
    assert h.venue.get_quote("KXUNKNOWN-1") is None


def test_orderbook_is_best_first_with_no_bids_mirroring_yes_asks(h):
    book = h.venue.get_orderbook(TICKER)
    assert book.yes_bids == ((D("0.55"), 100), (D("0.54"), 50))
    assert book.no_bids == ((D("0.42"), 40), (D("0.40"), 100))


def test_create_get_list_and_cancel_a_resting_order(h):
    placed = h.venue.place_order(buy("c-rest", "0.50"))
    assert placed.status is OrderStatus.RESTING and placed.remaining_count == 10
    assert placed.client_order_id == "c-rest" and placed.limit_price == D("0.50")
    assert h.fake.requests_to("POST", "/portfolio/orders")[0].request_json["yes_price"] == 50
    assert h.venue.get_order(placed.order_id) == placed
    assert h.venue.list_orders(ticker=TICKER, status=OrderStatus.RESTING) == [placed]
    assert h.venue.list_orders(ticker=OTHER) == []
    canceled = h.venue.cancel_order(placed.order_id)
    assert canceled.status is OrderStatus.CANCELED and canceled.remaining_count == 0
    assert h.venue.list_orders(status=OrderStatus.RESTING) == []


def test_a_marketable_ioc_order_fills_and_shows_in_positions_fills_and_balance(h):
    order = h.venue.place_order(buy("c-ioc", "0.60", count=50, tif=TimeInForce.IOC))
    assert order.status is OrderStatus.EXECUTED and order.filled_count == 50
    assert h.fake.requests_to("POST", "/portfolio/orders")[0].request_json["time_in_force"] == "immediate_or_cancel"
    [position] = h.venue.get_positions()
    assert (position.ticker, position.position) == (TICKER, 50)
    fills = h.venue.get_fills()
    assert [(f.count, f.price, f.client_order_id) for f in fills] == [(40, D("0.58"), "c-ioc"), (10, D("0.60"), "c-ioc")]
    assert sum(f.fee for f in fills) == order.fees
    assert h.venue.get_balance() == h.paper.get_balance()


def test_a_no_order_is_priced_in_no_cents(h):
    order = h.venue.place_order(buy("c-no", "0.40", count=3, side=Side.NO))
    sent = h.fake.requests_to("POST", "/portfolio/orders")[0].request_json
    assert sent["no_price"] == 40 and "yes_price" not in sent
    assert (order.side, order.limit_price, order.status) == (Side.NO, D("0.40"), OrderStatus.RESTING)


def test_fills_since_a_time(h):
    h.venue.place_order(buy("c-early", "0.58", count=5, tif=TimeInForce.IOC))
    h.clock.advance_to(T0 + timedelta(minutes=5))
    h.venue.place_order(buy("c-late", "0.58", count=5, tif=TimeInForce.IOC))
    late = h.venue.get_fills(since=T0 + timedelta(minutes=1))
    assert [f.client_order_id for f in late] == ["c-late"]
    assert h.fake.requests_to("GET", "/portfolio/fills")[-1].query["min_ts"] == str(int((T0 + timedelta(minutes=1)).timestamp()))


def test_list_orders_follows_the_cursor_through_every_page(h):
    client = h.client(page_limit=2)
    with KalshiVenue(client) as venue:
        placed = [venue.place_order(buy(f"c-page-{i}", "0.50", count=1)) for i in range(5)]
        before = len(h.fake.requests_to("GET", "/portfolio/orders"))
        assert venue.list_orders() == placed
        pages = h.fake.requests_to("GET", "/portfolio/orders")[before:]
    assert [p.query.get("cursor") for p in pages] == [None, "2", "4"]


def test_exchange_status(h):
    h.fake.trading_active = False
    status = h.venue.get_exchange_status()
    assert status.exchange_active and not status.trading_active


# ---- authentication ---------------------------------------------------------------------------

def test_a_bad_signature_is_refused_with_401_and_nothing_is_traded(h):
    impostor = KalshiCredentials(KEY_ID, generate_test_key())
    with KalshiVenue(h.client(impostor)) as venue:
        with pytest.raises(AuthError, match="401"):
            venue.place_order(buy("c-impostor", "0.50"))
        with pytest.raises(AuthError):
            venue.get_balance()
    assert h.paper.calls.get("place_order", 0) == 0
    assert {e.status for e in h.fake.exchanges} == {401}


def test_missing_auth_headers_are_refused(h):
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(h.running.base_url + "/portfolio/balance", timeout=5)
    info.value.close()
    assert info.value.code == 401


def test_an_unknown_key_id_is_refused(h):
    with KalshiVenue(h.client(KalshiCredentials("someone-else", h.key))) as venue:
        with pytest.raises(AuthError):
            venue.get_positions()


def test_timestamps_come_from_the_injected_clock(h):
    skewed = VirtualClock(T0 + timedelta(minutes=10))
    client = KalshiClient(h.running.base_url, KalshiCredentials(KEY_ID, h.key), skewed, sleep=h.sleeper)
    with KalshiVenue(client) as venue:
        with pytest.raises(AuthError, match="stale_timestamp"):
            venue.get_balance()
    h.clock.advance_to(T0 + timedelta(minutes=10))
    assert h.venue.get_balance() == D("1000")


# ---- conflicts, rate limits and retries ------------------------------------------------------------

def test_a_reused_client_order_id_is_refused_with_409(h):
    h.venue.place_order(buy("c-dup", "0.50"))
    with pytest.raises(DuplicateClientOrderId, match="409"):
        h.venue.place_order(buy("c-dup", "0.51"))
    assert len(h.paper.list_orders()) == 1


def test_429_backs_off_with_jitter_then_succeeds(h):
    h.fake.fail_next(429, times=2)
    assert TICKER in h.venue.get_quotes([TICKER])
    assert len(h.fake.requests_to("GET", "/markets")) == 3
    assert len(h.sleeper.delays) == 2
    assert 0 <= h.sleeper.delays[0] <= 0.25 and 0 <= h.sleeper.delays[1] <= 0.5
    assert len(set(h.sleeper.delays)) == 2  # jittered, not a fixed schedule


def test_429_gives_up_after_the_bounded_attempts(h):
    h.fake.fail_next(429, times=5)
    with pytest.raises(RateLimited, match="too many requests"):
        h.venue.get_balance()
    assert len(h.fake.requests_to("GET", "/portfolio/balance")) == RetryPolicy().rate_limit_attempts


def test_a_create_answered_429_is_sent_again_and_placed_once(h):
    h.fake.fail_next(429, times=1, method="POST")
    order = h.venue.place_order(buy("c-429", "0.50"))
    assert order.status is OrderStatus.RESTING
    assert h.posts() == 2 and len(h.paper.list_orders()) == 1


def test_reads_are_retried_on_5xx(h):
    h.fake.fail_next(503, times=2, method="GET")
    assert h.venue.get_balance() == D("1000")
    assert len(h.fake.requests_to("GET", "/portfolio/balance")) == 3 and len(h.sleeper.delays) == 2


def test_reads_give_up_after_the_bounded_attempts(h):
    h.fake.fail_next(500, times=3, method="GET")
    with pytest.raises(VenueUnavailable, match="500"):
        h.venue.get_positions()


def test_a_plain_text_error_body_is_reported(h):
    h.fake.fail_next(400, times=1, method="POST", body="bad things")
    with pytest.raises(OrderRejected, match="bad things"):
        h.venue.place_order(buy("c-text", "0.50"))


def test_an_order_the_venue_rejects_is_order_rejected(h):
    with pytest.raises(OrderRejected, match="400"):
        h.venue.place_order(buy("c-huge", "0.50", count=100_000))  # more than the balance


# ---- a create whose answer is lost ------------------------------------------------------------------

def test_a_create_whose_answer_is_lost_is_found_by_client_order_id_not_resent(h):
    h.fake.drop_next(times=1, method="POST")
    order = h.venue.place_order(buy("c-lost", "0.50"))
    assert order.client_order_id == "c-lost" and order.status is OrderStatus.RESTING
    assert h.posts() == 1 and len(h.paper.list_orders()) == 1
    lookups = h.fake.requests_to("GET", "/portfolio/orders")
    assert len(lookups) == 1 and lookups[0].query["ticker"] == TICKER


def test_a_create_that_times_out_is_found_by_client_order_id(key):
    """The only test that waits on the wall clock: aiohttp's own request timeout (0.3 s)."""
    clock = VirtualClock(T0)
    paper = PaperVenue(clock, name="paper")
    paper.set_book(TICKER, [(D("0.55"), 10)], [(D("0.58"), 10)])
    fake = FakeKalshi(paper, key.public_key(), KEY_ID, clock)
    with serve_fake_kalshi(fake) as running:
        client = KalshiClient(running.base_url, KalshiCredentials(KEY_ID, key), clock, sleep=RecordingSleeper(),
                              retry=RetryPolicy(request_timeout_secs=0.3))
        with KalshiVenue(client) as venue:
            fake.hang_next(times=1, method="POST")
            order = venue.place_order(buy("c-slow", "0.58", count=4, tif=TimeInForce.IOC))
    assert order.status is OrderStatus.EXECUTED and order.filled_count == 4
    assert len(fake.requests_to("POST", "/portfolio/orders")) == 1
    assert paper.holding(TICKER, Side.YES) == 4


def test_a_create_that_never_arrived_is_sent_again_with_the_same_client_order_id(h):
    h.fake.fail_next(502, times=1, method="POST")
    order = h.venue.place_order(buy("c-retry", "0.50"))
    assert order.client_order_id == "c-retry"
    posts = h.fake.requests_to("POST", "/portfolio/orders")
    assert [p.request_json["client_order_id"] for p in posts] == ["c-retry", "c-retry"]
    assert [p.status for p in posts] == [502, 201]
    assert len(h.fake.requests_to("GET", "/portfolio/orders")) == 1  # looked up in between


def test_a_lost_create_not_yet_listed_is_resolved_through_the_409_on_resend(h):
    h.fake.drop_next(times=1, method="POST")
    h.fake.fail_next(200, times=1, method="GET", route="/portfolio/orders", body={"orders": [], "cursor": ""})
    order = h.venue.place_order(buy("c-lag", "0.50"))
    assert order.client_order_id == "c-lag"
    assert [p.status for p in h.fake.requests_to("POST", "/portfolio/orders")] == [201, 409]
    assert len(h.paper.list_orders()) == 1


def test_when_the_lookup_fails_too_the_caller_gets_venue_unavailable(h):
    h.fake.drop_next(times=1, method="POST")
    h.fake.fail_next(503, times=3, method="GET", route="/portfolio/orders")
    with pytest.raises(VenueUnavailable):
        h.venue.place_order(buy("c-dark", "0.50"))
    assert h.posts() == 1  # nothing resent while the first create's fate is unknown


# ---- a cancel answered 404 ---------------------------------------------------------------------------

def test_a_cancel_answered_404_returns_the_order_it_turned_out_to_be(h):
    order = h.venue.place_order(buy("c-race", "0.50"))
    h.paper.set_book(TICKER, [(D("0.45"), 10)], [(D("0.49"), 100)])  # the market moves through our bid
    final = h.venue.cancel_order(order.order_id)
    assert final.status is OrderStatus.EXECUTED and final.filled_count == 10
    cancel = h.fake.requests_to("DELETE", "/portfolio/orders/{order_id}")
    assert [c.status for c in cancel] == [404]
    assert h.fake.requests_to("GET", "/portfolio/orders/{order_id}")[-1].status == 200


def test_cancel_of_an_order_nobody_knows_raises_order_not_found(h):
    with pytest.raises(OrderNotFound):
        h.venue.cancel_order("PAPER-999999")


def test_find_order_by_client_order_id(h):
    placed = h.venue.place_order(buy("c-find", "0.50", ticker=OTHER))
    assert h.venue.find_order("c-find") == placed
    assert h.venue.find_order("c-never-sent") is None


# ---- units without the network ------------------------------------------------------------------------

@pytest.mark.parametrize("status, error", [
    (400, OrderRejected), (401, AuthError), (403, AuthError), (404, OrderNotFound), (409, DuplicateClientOrderId),
    (422, OrderRejected), (429, RateLimited), (500, VenueUnavailable), (502, VenueUnavailable),
    (503, VenueUnavailable), (504, VenueUnavailable), (302, VenueError),
])
def test_http_status_translation(status, error):
    exc = error_for_status(status, "why", "GET", "/x")
    assert type(exc) is error and str(status) in str(exc) and "why" in str(exc)


def test_order_body_uses_cents_when_it_can_and_dollars_for_sub_cent_ticks():
    assert order_body(buy("c", "0.07"))["yes_price"] == 7
    body = order_body(buy("c", "0.555"))
    assert body["yes_price_dollars"] == "0.555" and "yes_price" not in body
    for bad in ("0", "1", "1.2"):
        with pytest.raises(OrderRejected):
            order_body(buy("c", bad))


def test_a_closed_venue_refuses_calls(h):
    venue = KalshiVenue(h.client())
    venue.close()
    venue.close()  # twice is fine
    with pytest.raises(RuntimeError, match="closed"):
        venue.get_balance()
