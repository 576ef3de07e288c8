"""Live market data over the WebSocket, end to end over the loopback fake Kalshi: subscribing the
markets of positions, exits that react to a pushed change at once, fills and settlements from
the stream, the price terms sent explicitly."""
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


@pytest.mark.parametrize("yes_terms", [False, True])
def test_a_position_is_streamed_and_a_pushed_change_crossing_its_stop_exits_at_once(tmp_path, key, yes_terms):
    with stream_rig(tmp_path, key, settings=StreamSettings(use_yes_price=yes_terms)) as rig:
        rig.book(M, "0.48", "0.50", publish=False)
        pid = rig.enter(M)
        (sub,) = rig.ws.subscriptions("orderbook_delta")
        assert sub.tickers == {M} and sub.yes_terms is yes_terms
        subscribe = next(c for c in rig.ws.commands if c["params"].get("channels") == ["orderbook_delta"])
        assert subscribe["params"]["use_yes_price"] is yes_terms          # always sent, either way
        assert rig.events("MARKET_STREAMED")[-1]["markets"] == [M]
        reads = len(rig.reads())
        rig.run(90)                                                        # three cadences: no REST read
        assert len(rig.reads()) == reads
        crossed = rig.now()
        rig.book(M, "0.40", "0.42")                                        # -20%: past the 12% stop
        exits = [p for p in rig.posts(M) if p.request_json["action"] == "sell"]
        assert exits and exits[0].at == crossed                            # no wait for a cadence
        assert exits[0].request_json["time_in_force"] == "immediate_or_cancel"
        assert rig.position(pid).contracts == 0
        rig.run(2)
        assert rig.ws.subscriptions("orderbook_delta") == []              # closed: no longer subscribed


def test_a_fill_on_the_stream_reaches_the_resting_exit_before_its_timeout(tmp_path, key):
    with stream_rig(tmp_path, key) as rig:
        rig.book(M, "0.48", "0.50", publish=False)
        pid = rig.enter(M)
        rig.book(M, "0.61", "0.63")                         # +22%: the profit target rests a limit at mid
        (sell,) = [p for p in rig.posts(M) if p.request_json["action"] == "sell"]
        assert sell.response_json["order"]["status"] == "resting"
        price = D(sell.request_json["yes_price"]) / 100
        rig.run(3)
        filled_at = rig.now()
        rig.paper.set_book(M, [(price, 200)], [(price + D("0.01"), 200)], volume=2000)   # a buyer takes it
        rig.ws.publish(M)
        rig.settle()
        assert rig.position(pid).contracts == 0
        (filled,) = rig.events("ORDER_FILLED", position_id=pid, condition="profit_target")
        assert filled["ts"] == filled_at.isoformat()        # at once: not at the 30 s timeout's look-up


def test_a_settlement_on_the_lifecycle_channel_settles_the_position(tmp_path, key):
    with stream_rig(tmp_path, key) as rig:
        rig.book(M, "0.48", "0.50", publish=False)
        pid = rig.enter(M)
        rig.ws.lifecycle("KXOTHER-1", "determined", result="yes")          # not ours: nothing
        rig.ws.lifecycle(M, "determined", result="no")
        rig.settle()
        (settled,) = rig.events("POSITION_SETTLED", position_id=pid)
        assert settled["result"] == "no" and rig.position(pid).contracts == 0


def test_a_close_time_moved_on_the_lifecycle_channel_reaches_the_position(tmp_path, key):
    with stream_rig(tmp_path, key) as rig:
        rig.book(M, "0.48", "0.50", publish=False)
        pid = rig.enter(M)
        close = rig.now() + timedelta(minutes=4)
        rig.ws.lifecycle(M, "close_date_updated", close_ts=int(close.timestamp()))
        rig.settle()
        (fired,) = rig.events("EXIT_TRIGGERED", position_id=pid, condition="time_based_urgent")
        assert fired["ts"] == rig.now().isoformat()


def test_the_handshake_is_signed_and_secrets_reach_no_log_or_audit_line(tmp_path, key):
    from loguru import logger

    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="DEBUG")
    try:
        with stream_rig(tmp_path, key) as rig:
            rig.book(M, "0.48", "0.50", publish=False)
            rig.enter(M)
            hello = rig.ws.handshakes[0]
            rig.ws.drop()
            rig.run(5)
    finally:
        logger.remove(sink)
    assert rig.ws.refused == 0 and hello["KALSHI-ACCESS-KEY"] == "stream-key-id"
    secrets = [hello["KALSHI-ACCESS-KEY"], hello["KALSHI-ACCESS-SIGNATURE"]] + \
              [h["KALSHI-ACCESS-SIGNATURE"] for h in rig.ws.handshakes]
    text = "\n".join(lines) + repr(rig.audit)
    assert rig.events("STREAM_DISCONNECTED") and len(rig.ws.handshakes) >= 2
    assert not [s for s in secrets if s in text]


def test_a_handshake_with_a_wrong_key_is_refused_and_the_engine_polls(tmp_path, key):
    from loguru import logger

    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="DEBUG")
    try:
        with stream_rig(tmp_path, key, key_for_client=generate_test_key()) as rig:
            rig.run(3)
            refused = rig.events("STREAM_DISCONNECTED")
            sigs = [h["KALSHI-ACCESS-SIGNATURE"] for h in rig.ws.handshakes]
    finally:
        logger.remove(sink)
    assert rig.ws.refused >= 2                                             # and it kept trying, backing off
    assert refused[0]["reason"] == "connect failed: handshake refused (HTTP 401)"
    assert not [s for s in sigs if s in "\n".join(lines) + repr(rig.audit)]


def test_the_exchange_pausing_and_resuming_a_held_market_is_said_to_a_person(tmp_path, key):
    """`deactivated` on the lifecycle channel: the exchange paused trading in a market we hold (no
    exit can trade until it is `activated`, and Kalshi cancels resting orders on reactivation). A
    person is told, once each way; another market's pause says nothing."""
    with stream_rig(tmp_path, key) as rig:
        rig.book(M, "0.48", "0.50", publish=False)
        pid = rig.enter(M)
        rig.ws.lifecycle("KXOTHER-1", "deactivated")                       # not ours: nothing
        rig.ws.lifecycle(M, "deactivated")
        rig.settle()
        (paused,) = [e for e in rig.events("ALERT") if e.get("market") == M]
        assert "paused trading" in paused["message"] and rig.position(pid).contracts > 0
        rig.ws.lifecycle(M, "activated")
        rig.settle()
        alerts = [e for e in rig.events("ALERT") if e.get("market") == M]
        assert len(alerts) == 2 and "resumed trading" in alerts[1]["message"]
        assert "resting orders" in alerts[1]["message"]
        assert not [e for e in rig.events("ALERT") if e.get("market") == "KXOTHER-1"]
