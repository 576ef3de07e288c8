"""An outside review of live market data (issue 13): the stream driven the way a live market and
a flaky network would drive it, end to end over the loopback fake on virtual time."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.fakes.kalshi_server import generate_test_key
from tests.live_stream_rig import D, stream_rig, wait_until

M = "KXNBAGAME-26JAN11LALBOS-BOS"


@pytest.fixture(scope="module")
def key():
    return generate_test_key()


def streamed(rig, ticker: str = M) -> bool:  # type: ignore[no-untyped-def]
    return ticker in rig.stream.proxy().streamed.get(timeout=5)


def top(rig, ticker: str = M):  # type: ignore[no-untyped-def]
    return rig.stream.proxy().books.get(timeout=5)[ticker].top()


def test_a_connection_that_flaps_backs_off_and_one_that_holds_resets_the_back_off(tmp_path, key):
    """The server accepts us and drops us again right after we resubscribe, again and again (a
    reconnect storm): the waits between attempts must grow (not a reconnect a second for ever,
    which is how a client gets itself banned), every drop polls the markets, and once a
    connection holds we have exactly one subscription per channel and stops are streamed again."""
    with stream_rig(tmp_path, key) as rig:
        rig.book(M, "0.48", "0.50", publish=False)
        pid = rig.enter(M)
        for _ in range(6):
            n = len(rig.events("STREAM_DISCONNECTED"))
            rig.ws.drop()
            wait_until(lambda: len(rig.events("STREAM_DISCONNECTED")) > n)
            retry = rig.events("STREAM_DISCONNECTED")[-1]["retry_in_secs"]
            rig.run(retry + 1)              # reconnected, resubscribed, snapshot in ...
            for _ in range(3):              # (the handshake crosses a real socket)
                if streamed(rig):
                    break
                rig.run(1)
            assert streamed(rig)            # ... and dropped again at the top of the loop
        retries = [e["retry_in_secs"] for e in rig.events("STREAM_DISCONNECTED")]
        assert len(retries) == 6 and retries[-1] > 8 * max(retries[:2])
        assert all(e["reason"].startswith("disconnected") for e in rig.events("MARKET_POLLED"))
        rig.run(40)                         # this one holds past the dead-connection bound
        assert rig.stream.proxy().attempts.get(timeout=5) == 0
        rig.ws.drop()
        wait_until(lambda: len(rig.events("STREAM_DISCONNECTED")) == 7)
        assert rig.events("STREAM_DISCONNECTED")[-1]["retry_in_secs"] <= 1.5     # back to the base
        rig.run(3)
        (conn,) = rig.ws.live()
        channels = sorted(s.channel for s in conn.subs.values())
        assert channels == sorted(["fill", "market_lifecycle_v2", "orderbook_delta", "ticker"])
        rig.book(M, "0.40", "0.42")
        assert rig.position(pid).contracts == 0


def test_a_bid_side_emptied_by_deltas_sells_into_nothing_and_sells_when_a_bid_comes_back(tmp_path, key):
    """Every YES bid pulled (deltas, no gap) while a position is open: the stream says so (no bid,
    not the last one, and no fallback: an empty side is a state, not a failure); the position
    exits on liquidity_dried_up but sends nothing into the empty side; a bid that comes back on
    the stream is sold into at the executor's next try (its order timeout: the executor does not
    yet react to the pushed bid itself, see the review's report). (liquidity_dried_up at once:
    its wait for a lasting breach is tests/system/test_liquidity_blips.py.)"""
    at_once = "partial_exits:\n  enabled: false\nliquidity:\n  min_volume: 0\n  breach_for_secs: 0\n"
    with stream_rig(tmp_path, key, config_text=at_once) as rig:
        rig.book(M, "0.48", "0.50", publish=False)
        pid = rig.enter(M)
        rig.book(M, None, "0.50")
        assert top(rig)[0] is None and streamed(rig)
        rig.run(20)
        assert rig.events("EXIT_TRIGGERED", position_id=pid, condition="liquidity_dried_up")
        assert not [p for p in rig.posts(M) if p.request_json["action"] == "sell"]
        assert not rig.events("MARKET_POLLED")
        back = rig.now()
        rig.book(M, "0.47", "0.50")
        rig.run(30)
        sells = [p for p in rig.posts(M) if p.request_json["action"] == "sell"]
        assert sells and sells[0].at - back <= timedelta(seconds=30)
        assert rig.position(pid).contracts == 0


def test_a_crossed_book_is_never_pushed_it_is_polled_and_re_snapshot(tmp_path, key):
    """Kalshi's matching engine never rests a crossed book (a bid at or above the ask trades): a
    crossed book held past a burst means a change was missed even though the sequence numbers held.
    It is not pushed (no quote with bid >= ask reaches the positions); at the next health check
    the market is read from REST at once and re-snapshot, and streamed again from the snapshot."""
    with stream_rig(tmp_path, key) as rig:
        rig.book(M, "0.48", "0.50", publish=False)
        pid = rig.enter(M)
        reads = len(rig.reads())
        # The fake believes we hold a NO bid at 0.40 (we hold it at 0.50: a change we never got,
        # sequence numbers intact); a YES bid at 0.55 added over what we hold crosses our book.
        (sub,) = [s for c in rig.ws.live() for s in c.subs.values() if s.channel == "orderbook_delta"]
        sub.sent[M]["no"] = {D("0.40"): D(200)}
        rig.paper.set_book(M, [(D("0.55"), 10), (D("0.48"), 200)], [(D("0.60"), 200)], volume=1000)
        rig.ws.publish(M)
        rig.settle()
        assert not rig.events("STREAM_ERROR") and rig.position(pid).current_price == D("0.48")   # not pushed
        rig.run(1)                                              # still crossed at the next check
        (crossed,) = [e for e in rig.events("STREAM_ERROR") if e["kind"] == "crossed book"]
        assert crossed["markets"] == [M] and "0.55" in crossed["error"]
        assert rig.events("MARKET_POLLED")[-1]["markets"] == [M] and len(rig.reads()) == reads + 1
        rig.run(2)
        assert streamed(rig) and top(rig)[0] == D("0.55") and top(rig)[2] == D("0.60")
        assert rig.position(pid).current_price == D("0.55")
        assert len([e for e in rig.events("STREAM_ERROR") if e["kind"] == "crossed book"]) == 1


def test_a_fallback_of_50_markets_polls_each_at_its_cadence_within_the_read_budget(tmp_path, key):
    """The socket goes down for good with 50 markets open: every market is read at once (batched)
    and then polled at the positions' cadence (30 s), never blind for longer, and the REST reads
    stay far inside Kalshi's budget (60 a minute here) because the cache batches them."""
    tickers = [f"KXNBAGAME-26JAN11G{i:02d}-H" for i in range(50)]
    with stream_rig(tmp_path, key) as rig:
        for t in tickers:
            rig.book(t, "0.48", "0.50", publish=False)
            rig.run(2)                      # (entries spaced: the order budget refills)
            rig.enter(t, contracts=2)
        rig.run(2)
        assert len(rig.stream.proxy().streamed.get(timeout=5)) == 50
        rig.ws.refuse_status = 503
        start, reads0 = rig.now(), len(rig.reads())
        rig.ws.drop()
        rig.settle()
        rig.run(180)
        reads = rig.reads()[reads0:]
        per_minute = [len([r for r in reads if start + timedelta(minutes=m) <= r.at < start + timedelta(minutes=m + 1)])
                      for m in range(3)]
        assert max(per_minute) <= 60, per_minute
        for t in tickers:
            seen = sorted(r.at for r in reads if t in (r.query.get("tickers") or "").split(","))
            assert seen and seen[0] - start <= timedelta(seconds=1), t          # read at once
            gaps = [b - a for a, b in zip([start] + seen, seen + [rig.now()])]
            assert max(gaps) <= timedelta(seconds=31), (t, max(gaps))         # never blind past the cadence


def test_a_settlement_while_an_exit_rests_sends_no_more_orders_and_settles(tmp_path, key):
    """The market is determined while our profit-target exit rests at the venue: no new sell (no
    walk, no escalation) is sent into a settled market after the lifecycle frame, and the position
    settles at the result."""
    with stream_rig(tmp_path, key) as rig:
        rig.book(M, "0.48", "0.50", publish=False)
        pid = rig.enter(M)
        rig.book(M, "0.61", "0.63")                         # the profit target rests a limit at mid
        (sell,) = [p for p in rig.posts(M) if p.request_json["action"] == "sell"]
        assert sell.response_json["order"]["status"] == "resting"
        rig.ws.lifecycle(M, "determined", result="yes")
        rig.settle()
        settled_at = rig.now()
        rig.run(120)
        late = [p for p in rig.posts(M) if p.request_json["action"] == "sell" and p.at > settled_at]
        assert not late, [(p.at, p.request_json["yes_price"]) for p in late]
        (settled,) = rig.events("POSITION_SETTLED", position_id=pid)
        assert settled["result"] == "yes" and rig.position(pid).contracts == 0
        assert settled["ts"] <= (settled_at + timedelta(seconds=2)).isoformat()     # not after a wait
        assert [e for e in rig.fake.requests_to("DELETE", "/portfolio/orders/{order_id}")
                if e.path.endswith(sell.response_json["order"]["order_id"])]            # the resting exit canceled


def test_a_partial_fill_of_a_resting_exit_sent_twice_is_counted_once(tmp_path, key):
    """8 of the 20 contracts of a resting exit fill, the stream reports it, then reports the same fill
    again (a replay after a reconnect does that): 8 are sold, not 16; the rest fills later and
    the position closes with exactly 20 sold."""
    with stream_rig(tmp_path, key) as rig:
        rig.book(M, "0.48", "0.50", publish=False)
        pid = rig.enter(M)
        rig.book(M, "0.61", "0.63")
        (sell,) = [p for p in rig.posts(M) if p.request_json["action"] == "sell"]
        price = D(sell.request_json["yes_price"]) / 100
        rig.run(3)
        rig.paper.set_book(M, [(price, 8), (price - D("0.01"), 200)], [(price + D("0.01"), 200)], volume=2000)  # takes 8
        rig.ws.publish(M)
        rig.settle()
        assert rig.position(pid).contracts == 12
        rig.ws._fills_sent -= 1                              # the fake sends the same fill again
        rig.ws.publish(M)
        rig.settle()
        rig.run(2)
        assert rig.position(pid).contracts == 12
        rig.paper.set_book(M, [(price, 200)], [(price + D("0.01"), 200)], volume=3000)
        rig.ws.publish(M)
        rig.settle()
        rig.run(2)
        p = rig.position(pid)
        assert p.contracts == 0 and rig.paper.holding(M, p.side) == 0


def test_a_book_unchanged_for_fifteen_minutes_stays_streamed_fresh_and_costs_no_rest_read(tmp_path, key):
    """Nothing trades for a quarter of an hour (pings only): the market is never judged stale (no
    fallback, no error), never read from REST, its quote stays usable, and it is re-checked by a
    re-snapshot about once per book_silence_secs (not a storm of them)."""
    with stream_rig(tmp_path, key) as rig:
        rig.book(M, "0.48", "0.50", publish=False)
        pid = rig.enter(M)
        reads, cmds = len(rig.reads()), len(rig.ws.commands)
        rig.run(900)
        assert len(rig.reads()) == reads
        assert not rig.events("MARKET_POLLED") and not rig.events("STREAM_ERROR") and streamed(rig)
        resnaps = [c for c in rig.ws.commands[cmds:] if c.get("params", {}).get("action") == "add_markets"]
        assert 10 <= len(resnaps) <= 16
        rig.book(M, "0.40", "0.42")                              # and the first change still exits at once
        assert rig.position(pid).contracts == 0


def test_a_market_dropped_while_its_subscribe_is_in_flight_is_not_left_subscribed(tmp_path, key):
    """A market becomes of interest and stops being so before the subscribe is answered (an entry
    that did not happen, a position closed at once): once the answers are in, no subscription
    holds it and it is neither streamed nor polled; wanted again, it streams."""
    from models.commands import StreamMarkets

    with stream_rig(tmp_path, key) as rig:
        rig.book(M, "0.48", "0.50", publish=False)
        rig.stream.tell(StreamMarkets((M,)))
        rig.stream.tell(StreamMarkets(()))                      # before the server's answer
        rig.settle()
        rig.run(2)
        assert not [s for c in rig.ws.live() for s in c.subs.values() if M in s.tickers]
        assert rig.stream.proxy().polled.get(timeout=5) == {} and not streamed(rig)
        rig.stream.tell(StreamMarkets((M,)))
        rig.settle()
        rig.run(2)
        assert streamed(rig) and top(rig)[0] == D("0.48")


def test_an_exit_walking_while_the_socket_is_down_prices_from_rest_not_the_last_streamed_book(tmp_path, key):
    """Our exit rests; the socket dies and stays dead; the market falls without a frame reaching
    us. REST (the market fell back) sees the fall: the exit is re-priced from the venue's book, not
    from the last streamed one, and the position is out."""
    with stream_rig(tmp_path, key) as rig:
        rig.book(M, "0.48", "0.50", publish=False)
        pid = rig.enter(M)
        rig.book(M, "0.61", "0.63")
        (sell,) = [p for p in rig.posts(M) if p.request_json["action"] == "sell"]
        first = D(sell.request_json["yes_price"]) / 100
        rig.ws.refuse_status = 503
        rig.ws.drop()
        rig.settle()
        rig.book(M, "0.53", "0.55", publish=False)              # nobody pushes it
        rig.run(65)
        later = [D(p.request_json["yes_price"]) / 100 for p in rig.posts(M)
                 if p.request_json["action"] == "sell" and p.at > sell.at]
        assert later and all(p <= D("0.55") for p in later), (first, later)
        assert rig.position(pid).contracts == 0                 # the fall (a trailing stop) sold, blind to no one


def test_an_engine_restarted_mid_stream_streams_its_resumed_positions_again(tmp_path, key):
    """The engine stops with a position open and starts again on the same database against the
    same venue: the resumed position's market is subscribed again on the new connection, streamed,
    and a stop crossing pushed on the stream exits it."""
    import random

    from adapters.kalshi.auth import KalshiCredentials
    from adapters.kalshi.client import KalshiClient, RetryPolicy
    from adapters.kalshi.market_data import start_market_stream
    from adapters.kalshi.venue import KalshiVenue
    from config.loader import load_config
    from adapters.cli.running import build_paper_engine
    from tests.live_stream_rig import KEY_ID, StreamRig

    with stream_rig(tmp_path, key) as rig:
        rig.book(M, "0.48", "0.50", publish=False)
        pid = rig.enter(M)
        base_url, at = rig.venue.client._base_url, rig.now()
        rig.engine.stop()
        object.__setattr__(rig.engine, "stop", lambda: None)      # (the rig would stop it again)
        assert not rig.ws.live() or wait_until(lambda: not rig.ws.live())
        rig.ws.frames_out = 0                   # (the rig counts frames and commands of one connection)
        rig.ws.commands.clear()
        venues: list[KalshiVenue] = []

        def again(clock):  # type: ignore[no-untyped-def]
            client = KalshiClient(base_url, KalshiCredentials(KEY_ID, key), clock, retry=RetryPolicy(),
                                  rng=random.Random(2))
            venues.append(KalshiVenue(client, call_timeout_secs=10))
            return venues[-1]

        audit: list = []
        engine = build_paper_engine(load_config(tmp_path / "stream.yaml"), at + timedelta(seconds=5),
                                    db_path=str(tmp_path / "stream.db"), audit_path=None, fresh=False,
                                    recorder=audit, venue_factory=again, inline=False)
        try:
            assert engine.startup.resumed == 1
            stream = start_market_stream(engine.system, venues[0], seed=2)
            second = StreamRig(engine, rig.paper, rig.fake, rig.ws, venues[0], stream, audit)
            assert wait_until(lambda: len(rig.ws.live()) == 1)
            second.run(3)
            assert streamed(second)
            (sub,) = [s for c in rig.ws.live() for s in c.subs.values() if s.channel == "orderbook_delta"]
            assert sub.tickers == {M}
            second.book(M, "0.40", "0.42")
            assert second.position(pid).contracts == 0
        finally:
            engine.stop()
            venues[0].close()


def test_a_venue_down_for_a_day_keeps_being_retried_at_the_cap(tmp_path, key):
    """After a thousand failed reconnects in a row (17 hours at the 60 s cap) the back-off must
    still compute (2**1024 overflows a float) and the stream keep trying once a minute."""
    with stream_rig(tmp_path, key) as rig:
        rig.ws.refuse_status = 503
        rig.stream.proxy().attempts = 1100
        rig.ws.drop()
        assert wait_until(lambda: rig.events("STREAM_DISCONNECTED"))
        assert rig.events("STREAM_DISCONNECTED")[-1]["retry_in_secs"] == 60
        refused = rig.ws.refused
        rig.run(61)
        assert rig.ws.refused == refused + 1 and len(rig.events("STREAM_DISCONNECTED")) == 2
