"""Audit events as types (models/audit_events/): every event class survives its JSON record, the
reader is as lenient as it has always been, and the event lists the writer and the alert
channels use are the ones Arbees always had."""
from __future__ import annotations

import dataclasses
from collections import abc
import enum
import json
import types
import typing
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models import audit_events as ae
from models.audit_events.base import field_types, recorded_fields
from models.market import Side
from models.orders import TimeInForce

TS = datetime(2026, 11, 20, 18, 30, 5, 250000, tzinfo=timezone.utc)

_json_scalar = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.text(max_size=8))


def _strategy(hint: Any) -> st.SearchStrategy:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(_strategy(a) for a in typing.get_args(hint) if a is not type(None)))
    if origin is tuple:
        return st.lists(_strategy(typing.get_args(hint)[0]), max_size=3).map(tuple)
    if origin in (dict, abc.Mapping):
        return st.dictionaries(st.text(min_size=1, max_size=6), _json_scalar, max_size=3)
    if hint is Any:
        return _json_scalar.filter(lambda v: v is not None)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return st.sampled_from(list(hint))
    return {
        str: st.text(min_size=1, max_size=12),
        int: st.integers(0, 10**6),
        float: st.floats(-1e6, 1e6, allow_nan=False),
        bool: st.booleans(),
        Decimal: st.decimals(-10**4, 10**4, places=4, allow_nan=False, allow_infinity=False),
        datetime: st.datetimes(timezones=st.just(timezone.utc)),
    }[hint]


def _events(cls: type[ae.AuditEvent]) -> st.SearchStrategy:
    hints = field_types(cls)
    fields = {}
    for f in recorded_fields(cls):
        value = _strategy(hints[f.name])
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        fields[f.name] = value if required else st.one_of(st.none(), value)
    return st.fixed_dictionaries(fields).map(lambda kw: cls(**kw))


@pytest.mark.parametrize("cls", ae.EVENT_CLASSES, ids=lambda c: c.EVENT)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_every_event_class_survives_its_json_record(cls, data):
    event = data.draw(_events(cls))
    record = to_json_and_back(ae.to_record(event, TS))
    assert record["ts"] == TS.isoformat() and record["event"] == cls.EVENT
    assert list(record)[-1] == "message" and record["message"] == event.text()
    assert not [k for k, v in record.items() if v is None], "None fields are left out"
    parsed = ae.parse(record)
    assert type(parsed) is cls and parsed == event
    assert parsed.ts == TS and parsed.text() == event.text() and parsed.extra == {}
    assert ae.to_record(parsed, TS) == record, "a parsed event is written back the same"


def to_json_and_back(record: dict) -> dict:
    return json.loads(json.dumps(record, separators=(",", ":")))


def test_values_are_written_as_they_always_were():
    event = ae.TradeExecuted(
        trade_id="o-1", position_id="pos-s1", order_id="o-1", client_order_id="en-s1", status=ae.trading.OrderStatus.EXECUTED,
        entry_price=Decimal("0.5600"), contracts=7, cost=Decimal("3.9200"), fees=Decimal("0.12"), stop_basis=None,
        platform="kalshi", market="KXNBA-1", side=Side.NO, signal_id="s1", game_id=None, fill_id="o-1:7")
    record = ae.to_record(event, TS)
    assert json.dumps(record, separators=(",", ":")) == (
        '{"ts":"2026-11-20T18:30:05.250000+00:00","event":"TRADE_EXECUTED","trade_id":"o-1","position_id":"pos-s1",'
        '"order_id":"o-1","client_order_id":"en-s1","status":"executed","entry_price":"0.5600","contracts":7,'
        '"cost":"3.9200","fees":"0.12","platform":"kalshi","market":"KXNBA-1","side":"no","signal_id":"s1",'
        '"fill_id":"o-1:7","message":"KXNBA-1 no: OPENED 7 at 0.5600, cost $3.92, fee $0.12"}')


@pytest.mark.parametrize("event, text", [
    (ae.SignalResumed(signal_id="s1", market="M", direction="buy_yes", side=Side.YES, signal_type="model_edge",
                      source="espn", win_probability=Decimal("0.61"), market_price=Decimal("0.55"),
                      edge=Decimal("0.0425")),
     "M yes: SIGNAL model_edge from espn, model 0.6100 vs price 0.5500, edge 4.25% (pending when the last process "
     "stopped)"),
    (ae.OrderWalked(market="M", client_order_id="x-2", price=Decimal("0.54"), previous_price=Decimal("0.55"),
                    contracts=3, time_in_force=TimeInForce.GTC, condition="profit_target", held=Side.NO),
     "M no: sell 3 walked 0.5500 -> 0.5400 (GTC) for profit_target"),
    (ae.OrderPlaced(market="M", client_order_id="p-failsafe-1", price=Decimal("0.41"), contracts=5,
                    condition="fail_safe", priority="CRITICAL", held=Side.YES),
     "M yes: fail-safe sell 5 at 0.41 (IOC)"),
    (ae.ExitRouted(position_id="p", market="M", exit_id="p-ex1", condition="stop_loss", priority="CRITICAL",
                   contracts=1, also_firing=("trailing_stop",), held=Side.YES),
     "M yes: EXIT stop_loss (CRITICAL) for 1 contract (also firing: trailing_stop)"),
    (ae.VenueError(method="place_order", request_id="r", error="BudgetExhausted: needs more"),
     "place_order failed: needs more"),
    (ae.Heartbeat(state="running", pid=1, clock="virtual"), "heartbeat: engine running, ? open"),
    (ae.ControlCommand(command="exit", request={"all": True}, ok=False, answer="no"),
     "CONTROL exit --all: refused: no"),
    (ae.PositionClosed(position_id="p", market="M", side=Side.NO, reason="stop_loss", realized_pnl=Decimal("-0.4"),
                       closed_by=ae.CLOSED_FROM_LEDGER),
     "M no: CLOSED by stop_loss (fills taken in from the ledger after a restart), realized -$0.40"),
])
def test_the_console_text_is_the_one_the_emit_sites_wrote(event, text):
    assert event.text() == text


def test_the_reader_stays_lenient_with_older_and_newer_logs():
    old = {"ts": TS.isoformat(), "event": "ORDER_FILLED", "exit_id": "e", "order_id": "o", "contracts": 2,
           "price": "0.5", "market": "M", "retired_key": 3, "message": "an older wording"}
    event = ae.parse(old)
    assert isinstance(event, ae.OrderFilled) and event.price == Decimal("0.5") and event.fee is None
    assert event.extra == {"retired_key": 3} and event.get("retired_key") == 3 and event.get("fee", "-") == "-"
    assert event.text() == "an older wording", "a read event says what was written then"
    newer = ae.parse({"ts": TS.isoformat(), "event": "SOMETHING_NEW", "x": 1, "message": "hi"})
    assert isinstance(newer, ae.UnknownEvent) and newer.event == "SOMETHING_NEW" and newer.extra == {"x": 1}
    with pytest.raises(ae.AuditFieldError, match=r"ORDER_FILLED field 'contracts': expected a whole number, found '2'"):
        ae.parse({**old, "contracts": "2"})
    with pytest.raises(ae.AuditFieldError, match=r"field 'price': expected a decimal amount"):
        ae.parse({**old, "price": "cheap"})


def test_the_event_lists_are_the_ones_arbees_always_had():
    assert set(ae.EVENTS) == {
        "SIGNAL_RECEIVED", "SIGNAL_REJECTED", "TRADE_EXECUTED", "ENTRY_NOT_FILLED", "EXIT_TRIGGERED", "EXIT_HELD",
        "EXIT_ROUTED", "EXIT_PREEMPTED", "ORDER_PLACED", "ORDER_WALKED", "ORDER_ESCALATED", "ORDER_CANCELED",
        "ORDER_FILLED", "ORDER_REJECTED", "ORDER_LOOKUP", "EXIT_GAVE_UP", "EXIT_COMPLETED", "POSITION_CLOSED",
        "POSITION_SETTLED", "CIRCUIT_BREAKER_TRIPPED", "ACTOR_CRASHED", "ACTOR_RESTARTED", "RATE_LIMITED",
        "VENUE_ERROR", "ALERT", "ENGINE_STARTUP", "POSITION_RECONCILED", "CIRCUIT_BREAKER_RESTORED",
        "CIRCUIT_BREAKER_RESET", "SIGNAL_RESUMED", "MODEL_STALE", "REBALANCE", "ENGINE_FAILED_SAFE",
        "POSITIONS_ADOPTED", "EXITS_ADOPTED", "HEARTBEAT", "CONTROL_COMMAND",
        # the market-data WebSocket (issue 13, adapters/kalshi/stream.py)
        "STREAM_CONNECTED", "STREAM_DISCONNECTED", "STREAM_ERROR", "MARKET_STREAMED", "MARKET_POLLED",
        "FILL_AFTER_EXIT",
        "QUOTES_BACK"}          # a market without a current quote known again (actors/price_cache_watch.py)
    assert len(ae.EVENTS) == len(ae.EVENT_CLASSES)
    # QUOTES_BACK: the all-clear after a "no current quote" ALERT reaches the same channels (an INFO line)
    assert ae.ALERT_EVENTS == {"EXIT_GAVE_UP", "CIRCUIT_BREAKER_TRIPPED", "ALERT", "QUOTES_BACK"}
    levels = {cls.EVENT: cls.LEVEL for cls in ae.EVENT_CLASSES}
    assert {e for e, level in levels.items() if level == "WARNING"} == {
        "EXIT_GAVE_UP", "CIRCUIT_BREAKER_TRIPPED", "ACTOR_CRASHED", "ALERT", "ORDER_REJECTED"}
    assert {e for e, level in levels.items() if level == "DEBUG"} == {"HEARTBEAT"}
    assert all(cls.WHEN for cls in ae.EVENT_CLASSES)
