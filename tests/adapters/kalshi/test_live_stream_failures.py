"""Failure is a state: a gap, a disconnect, a silent book, a dead connection, an error that ends a
subscription. Each moves the markets it touches to REST polling at once (exits never blind),
and the stream comes back on its own (back-off, new subscription ids, fresh snapshots)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.fakes.kalshi_server import generate_test_key
from adapters.kalshi.market_data import StreamSettings
from tests.live_stream_rig import D, stream_rig

M = "KXNBAGAME-26JAN11LALBOS-BOS"


@pytest.fixture(scope="module")
def key():
    return generate_test_key()


def streamed(rig) -> bool:  # type: ignore[no-untyped-def]
    s = rig.stream.proxy().streamed.get(timeout=5)
    return M in s


def top(rig):  # type: ignore[no-untyped-def]
    return rig.stream.proxy().books.get(timeout=5)[M].top()


def test_a_gap_mid_game_polls_at_once_and_comes_back_on_a_new_subscription(tmp_path, key):
    with stream_rig(tmp_path, key) as rig:
        rig.book(M, "0.48", "0.50", publish=False)
        pid = rig.enter(M)
        (old,) = rig.ws.subscriptions("orderbook_delta")
        reads = len(rig.reads())
        rig.ws.gap(2)                                           # two deltas lost
        rig.book(M, "0.47", "0.49")
        (polled,) = rig.events("MARKET_POLLED")
        assert polled["markets"] == [M] and "sequence gap" in polled["reason"] and polled["ts"] == rig.now().isoformat()
        assert len(rig.reads()) == reads + 1                    # read from REST at once
        assert not streamed(rig)
        rig.run(1)
        (new,) = rig.ws.subscriptions("orderbook_delta")
        assert new.sid != old.sid and new.tickers == {M}
        assert streamed(rig) and rig.events("MARKET_STREAMED")[-1]["markets"] == [M]
        rig.book(M, "0.40", "0.42")                             # the new subscription carries the stop
        assert rig.position(pid).contracts == 0


def test_a_disconnect_while_a_stop_is_crossing_is_caught_by_rest_within_a_cadence(tmp_path, key):
    with stream_rig(tmp_path, key) as rig:
        rig.book(M, "0.48", "0.50", publish=False)
        pid = rig.enter(M)
        rig.ws.refuse_status = 503                              # and it stays down
        rig.ws.drop()
        rig.settle()
        (down,) = rig.events("STREAM_DISCONNECTED")
        assert down["reason"].startswith("closed by the server")
        assert rig.events("MARKET_POLLED")[-1]["reason"].startswith("disconnected")
        rig.run(7)
        crossed = rig.now()
        rig.book(M, "0.40", "0.42", publish=False)               # nobody pushes it: only REST can see it
        rig.run(31)
        exits = [p for p in rig.posts(M) if p.request_json["action"] == "sell"]
        assert exits and exits[0].at - crossed <= timedelta(seconds=30)     # the normal cadence
        assert rig.position(pid).contracts == 0
        assert rig.ws.refused >= 2                              # reconnects kept trying, backing off
        retries = [e["retry_in_secs"] for e in rig.events("STREAM_DISCONNECTED")]
        assert all(0 < r <= 60 for r in retries) and len(set(retries)) == len(retries)


def test_a_quiet_book_is_re_snapshot_and_stays_streamed_without_a_rest_read(tmp_path, key):
    with stream_rig(tmp_path, key, settings=StreamSettings(book_silence_secs=60)) as rig:
        rig.book(M, "0.48", "0.50", publish=False)
        rig.enter(M)
        reads = len(rig.reads())
        rig.run(62)                                             # nothing trades; pings keep coming
        updates = [c["params"]["action"] for c in rig.ws.commands if c["cmd"] == "update_subscription"]
        assert updates[-2:] == ["delete_markets", "add_markets"]  # checked by a re-snapshot
        rig.run(8)
        assert not rig.events("MARKET_POLLED") and not rig.events("STREAM_ERROR") and streamed(rig)
        assert len(rig.reads()) == reads


def test_a_silent_book_that_missed_a_change_is_corrected_by_its_re_snapshot(tmp_path, key):
    with stream_rig(tmp_path, key, settings=StreamSettings(book_silence_secs=60)) as rig:
        rig.book(M, "0.48", "0.50", publish=False)
        pid = rig.enter(M)
        rig.ws.mute(M)
        rig.book(M, "0.40", "0.42")                             # lost: the fake sent nothing for it
        assert rig.position(pid).contracts == 20
        rig.run(62)
        (stale,) = rig.events("STREAM_ERROR")
        assert stale["kind"] == "stale book" and stale["markets"] == [M]
        assert rig.position(pid).contracts == 0                 # the re-snapshot carried the stop


def test_a_book_silent_while_the_socket_stays_open_is_polled_when_no_snapshot_comes(tmp_path, key):
    with stream_rig(tmp_path, key, settings=StreamSettings(book_silence_secs=60)) as rig:
        rig.book(M, "0.48", "0.50", publish=False)
        rig.enter(M)
        rig.ws.mute(M, snapshots=True)                          # the subscription is dead for M
        rig.book(M, "0.47", "0.49")
        reads = len(rig.reads())
        rig.run(62)
        assert not rig.events("MARKET_POLLED")                  # re-snapshot asked, not yet overdue
        rig.run(6)
        (polled,) = rig.events("MARKET_POLLED")
        assert "no fresh snapshot" in polled["reason"] and not streamed(rig)
        assert not rig.events("STREAM_DISCONNECTED")            # the connection itself is fine
        assert len(rig.reads()) == reads + 1                    # read from REST at once
        rig.ws.unmute(M)
        rig.run(62)                                             # pings on; the next check re-asks
        assert streamed(rig) and top(rig)[0] == D("0.47")


def test_a_connection_with_no_traffic_at_all_is_dead_and_replaced(tmp_path, key):
    with stream_rig(tmp_path, key) as rig:
        rig.book(M, "0.48", "0.50", publish=False)
        rig.enter(M)
        old = {s.sid for s in rig.ws.subscriptions("orderbook_delta")}
        rig.run(35, ping_every=None)                            # the server stopped pinging
        (down,) = rig.events("STREAM_DISCONNECTED")
        assert down["reason"].startswith("no traffic")
        assert len(rig.ws.handshakes) >= 2
        new = {s.sid for s in rig.ws.subscriptions("orderbook_delta")}
        assert new and not (new & old)                          # different ids after a reconnect
        assert streamed(rig)


def test_a_reconnect_resubscribes_with_new_ids_and_deltas_on_them_reach_the_exits(tmp_path, key):
    with stream_rig(tmp_path, key) as rig:
        rig.book(M, "0.48", "0.50", publish=False)
        pid = rig.enter(M)
        before = {c: {s.sid for s in rig.ws.subscriptions(c)} for c in ("orderbook_delta", "ticker", "fill")}
        rig.ws.drop()
        rig.run(6)
        after = {c: {s.sid for s in rig.ws.subscriptions(c)} for c in before}
        assert all(after[c] and not (after[c] & before[c]) for c in before)
        assert len(rig.events("STREAM_CONNECTED")) == 2 and streamed(rig)
        rig.book(M, "0.40", "0.42")
        assert rig.position(pid).contracts == 0


def test_an_error_that_ends_the_subscription_is_resubscribed(tmp_path, key):
    with stream_rig(tmp_path, key) as rig:
        rig.book(M, "0.48", "0.50", publish=False)
        rig.enter(M)
        (old,) = rig.ws.subscriptions("orderbook_delta")
        rig.ws.error(25, "subscription buffer overflow")
        rig.settle()
        (err,) = rig.events("STREAM_ERROR")
        assert err["code"] == 25
        rig.run(2)
        assert rig.events("MARKET_POLLED")
        (new,) = rig.ws.subscriptions("orderbook_delta")
        assert new.sid != old.sid and streamed(rig)


def test_a_refused_subscribe_is_retried(tmp_path, key):
    with stream_rig(tmp_path, key) as rig:
        rig.ws.error_on_subscribe = 18                          # command timeout
        rig.book(M, "0.48", "0.50", publish=False)
        rig.enter(M)
        rig.run(2)
        assert rig.events("STREAM_ERROR") and streamed(rig)


def test_a_snapshot_with_an_empty_bid_side_leaves_no_mark_not_the_last_bid(tmp_path, key):
    with stream_rig(tmp_path, key) as rig:
        rig.book(M, "0.48", "0.50", publish=False)
        pid = rig.enter(M)
        assert rig.position(pid).current_price == D("0.48")
        rig.ws.gap(1)                                           # the next frames force a resnapshot ...
        rig.book(M, None, "0.50")                               # ... of a book with no YES bid at all
        rig.run(31)                                             # (saved at the next wake-up)
        assert top(rig)[0] is None and top(rig)[2] == D("0.50")
        assert rig.position(pid).current_price is None          # unknown, not the last bid


def test_a_server_that_accepts_and_drops_at_once_is_retried_with_growing_delays(tmp_path, key):
    """Resetting the back-off on every accepted handshake would reconnect about every second for
    ever; it is reset only once a connection has lived."""
    with stream_rig(tmp_path, key) as rig:
        rig.ws.close_on_connect = True
        rig.ws.drop()
        rig.run(40)
        delays = [e["retry_in_secs"] for e in rig.events("STREAM_DISCONNECTED")]
        assert len(delays) >= 4 and delays[3] >= 4                # 1 s, 2 s, 4 s, 8 s ... with jitter
