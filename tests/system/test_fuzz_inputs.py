"""Bad input, fuzzed with hypothesis: every reader either parses or raises its own clear error.

(a) replay lines -> events, or ReplayError naming the file and the line;
(b) Kalshi payloads -> models/ types, or MalformedPayload;
(c) ESPN payloads -> GameStates (UNKNOWN for a game whose parts are broken), or EspnPayloadError;
(d) the signals file follower -> garbage lines skipped and counted, the next good line still taken;
(e) a paper engine fed garbage-but-typed quotes, model updates and signals -> no actor crashes,
    and it still opens a position for a good signal afterwards.

Inputs are arbitrary JSON, arbitrary text or bytes, and valid payloads with one to three fields
replaced by nasty values (non-finite numbers, huge exponents, dates that overflow when moved to
UTC, wrong types) or removed. The @example cases pin the bugs these tests found.
"""
from __future__ import annotations

import copy
import functools
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from loguru import logger

from adapters.espn import EspnPayloadError, parse_scoreboard, parse_summary
from adapters.kalshi import parsing
from adapters.kalshi import wire
from adapters.files.replay import ReplayError, read_replay
from adapters.files.signals import SignalFollower
from models.venue import MalformedPayload
from models.game import GameState
from models.market import Quote, Side
from models.events import ModelProbabilityUpdated
from models.orders import Action, Fill, OrderBook, OrderSnapshot, OrderStatus, VenuePosition
from models.signal import TradingSignal
from tests.paths import SHARED

FUZZ = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])
NOW = datetime(2026, 1, 11, 18, 0, tzinfo=timezone.utc)
DATA = SHARED / "data" / "espn"
DEEP = b"[" * 100_000     # past any recursion limit (hypothesis raises it to about 2,000 while a test runs)


@pytest.fixture(autouse=True)
def quiet_logs():
    """The readers warn on every skipped line; hypothesis makes thousands."""
    logger.disable("adapters")
    yield
    logger.enable("adapters")


# ---- strategies ---------------------------------------------------------------------------------

json_leaf = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
json_value = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=4)
                          | st.dictionaries(st.text(max_size=8), inner, max_size=5), max_leaves=16)
NASTY_TEXT = ["", " ", "NaN", "nan", "Infinity", "-Infinity", "1e999999999", "-1e999999999", "1e5000", "1E+18",
              "-1", "0", "1", "1.5", "0.0000001", "1e-999999", "abc", "10.50", "0001-01-01T00:00:00+05:00",
              "9999-12-31T23:59:59-05:00", "2026-13-45T00:00:00Z", "2026-01-11T18:00:00", "yes", "no", "buy",
              "resting", "executed", "home", "away", "[" * 3000, "9" * 5000]
nasty = (st.sampled_from(NASTY_TEXT) | st.integers(min_value=-2 ** 70, max_value=2 ** 70)
         | st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e308, -0.0, 0.5, 10 ** 20])
         | st.booleans() | st.none() | json_value)
text_line = st.text(alphabet=st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)), max_size=40)
byte_line = st.binary(max_size=40).map(lambda b: b.replace(b"\n", b" "))


def _paths(obj: Any, prefix: tuple = ()):
    if prefix:
        yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


@st.composite
def mutated(draw, payload: Any) -> Any:
    """`payload` with 1-3 fields, at any depth, replaced by a nasty value or removed."""
    obj = copy.deepcopy(payload)
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(obj))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = obj
        for k in path[:-1]:
            parent = parent[k]
        if isinstance(parent, dict) and draw(st.integers(0, 3)) == 0:
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(nasty)
    return obj


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode("utf-8")


# ---- (a) replay lines ----------------------------------------------------------------------------

REPLAY_FIRST = {"ts": "2025-11-22T17:50:00Z", "type": "quote", "ticker": "KXA-CHA", "yes_bid": "0.45",
                "yes_ask": "0.47"}
REPLAY_VALID = [
    {"ts": "2025-11-22T17:50:01Z", "type": "quote", "ticker": "KXA-CHA", "yes_bid": "0.45", "yes_ask": "0.47",
     "yes_bid_size": 10, "yes_ask_size": 5, "volume": 100, "close_time": "2025-11-23T03:00:00Z"},
    {"ts": "2025-11-22T17:50:02Z", "type": "game", "game_id": "G1", "sport": "nba", "home_score": 10,
     "away_score": 8, "period": 2, "clock": "300", "possession": "home", "home_team": "CHA", "away_team": "LAC"},
    {"ts": "2025-11-22T17:50:03Z", "type": "signal", "ticker": "KXA-CHA", "side": "yes", "signal_type": "default",
     "win_probability": "0.6", "game_id": "G1", "sport": "nba", "market_price": "0.47", "contracts": 5,
     "signal_id": "s1"},
    {"ts": "2025-11-22T17:50:04Z", "type": "settle", "ticker": "KXA-CHA", "result": "yes"},
]
replay_line = st.one_of(st.sampled_from(REPLAY_VALID).flatmap(mutated).map(dumps), json_value.map(dumps),
                        text_line.map(lambda t: t.encode("utf-8")), byte_line)


@FUZZ
@given(line=replay_line)
@example(line=dumps({**REPLAY_VALID[3], "ts": "0001-01-01T00:00:00+05:00"}))       # astimezone overflowed
@example(line=dumps({**REPLAY_VALID[0], "yes_ask_size": "Infinity"}))              # int(Infinity)
@example(line=dumps({**REPLAY_VALID[1], "period": "NaN"}))                         # int(NaN)
@example(line=dumps({**REPLAY_VALID[0], "volume": "1e999999999"}))                 # int() for minutes
@example(line=dumps({**REPLAY_VALID[0], "volume": float("inf")}))
@example(line=dumps({**REPLAY_VALID[0], "yes_bid": "0.1234567"}))                 # unstorable price
@example(line=DEEP)                                                                # RecursionError
@example(line=b"9" * 5000)                                                         # int digits limit
@example(line=b'{"ts": "2025-11-22T17:50:05Z", "type": "quote", "ticker": "\xff"}')  # not UTF-8
def test_a_replay_line_parses_or_is_a_replay_error_naming_the_file_and_line(tmp_path, line):
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(dumps(REPLAY_FIRST) + b"\n" + line + b"\n")
    try:
        events, _ = read_replay(path)
    except ReplayError as exc:
        assert str(exc).startswith(f"{path}:2: "), str(exc)
        return
    assert 1 <= len(events) <= 2
    assert isinstance(events[0][1], Quote) and events[0][1].yes_bid == Decimal("0.45")


def test_a_replay_path_that_is_not_a_readable_file_is_a_replay_error(tmp_path):
    for path in (tmp_path / "absent.jsonl", tmp_path):
        with pytest.raises(ReplayError, match=str(path)):
            read_replay(path)


# ---- (b) Kalshi payloads -----------------------------------------------------------------------------

_QUOTE = Quote("KXA-1", NOW, Decimal("0.40"), Decimal("0.45"), 10, 12, Decimal("0.41"), 100, NOW)
_ORDER = OrderSnapshot("O1", "c1", "KXA-1", Side.YES, Action.SELL, 10, Decimal("0.40"), OrderStatus.RESTING, 3,
                       Decimal("0.41"), Decimal("0.02"), NOW)
_FILL = Fill("F1", "O1", "c1", "KXA-1", Side.NO, Action.BUY, 3, Decimal("0.55"), Decimal("0.02"), NOW)
_POSITION = VenuePosition("KXA-1", -5, Decimal("2.5"), Decimal("0.1"), Decimal("0.02"))
_BOOK = OrderBook("KXA-1", ((Decimal("0.40"), 10),), ((Decimal("0.55"), 3),))
KALSHI = {
    "market": (lambda b: parsing.parse_quote(b, NOW), wire.market(_QUOTE, NOW)),
    "markets": (lambda b: parsing.parse_markets_response(b, NOW), {"markets": [wire.market(_QUOTE, NOW)],
                                                                  "cursor": ""}),
    "order": (parsing.parse_order_response, {"order": wire.order(_ORDER, NOW)}),
    "orders": (parsing.parse_orders_response, {"orders": [wire.order(_ORDER, NOW)], "cursor": "next"}),
    "orderbook": (lambda b: parsing.parse_orderbook("KXA-1", b), wire.orderbook(_BOOK)),
    "orderbook (legacy)": (lambda b: parsing.parse_orderbook("KXA-1", b), {"orderbook": {"yes": [[40, 10]],
                                                                                        "no": [[55, 3]]}}),
    "fills": (parsing.parse_fills_response, {"fills": [wire.fill(_FILL)], "cursor": None}),
    "fill (legacy)": (parsing.parse_fill, {"trade_id": "T1", "order_id": "O1", "market_ticker": "KXA-1",
                                           "side": "yes", "action": "buy", "count": 3, "yes_price": 40,
                                           "ts": 1768154400}),
    "positions": (parsing.parse_positions_response, {"market_positions": [wire.market_position(_POSITION, NOW)],
                                                     "cursor": None}),
    "balance": (parsing.parse_balance, {"balance": 100000}),
    "exchange status": (parsing.parse_exchange_status, {"exchange_active": True, "trading_active": False,
                                                        "exchange_estimated_resume_time": None}),
}


@pytest.mark.parametrize("name", list(KALSHI))
def test_the_valid_kalshi_payloads_parse(name):
    parse, payload = KALSHI[name]
    assert parse(copy.deepcopy(payload)) is not None


@pytest.mark.parametrize("name", list(KALSHI))
@settings(FUZZ, max_examples=60)
@given(data=st.data())
def test_a_kalshi_payload_parses_or_is_malformed_payload(name, data):
    parse, payload = KALSHI[name]
    body = data.draw(st.one_of(mutated(payload), json_value), label="body")
    try:
        parse(body)
    except MalformedPayload as exc:
        assert str(exc).startswith("Kalshi payload "), str(exc)


@pytest.mark.parametrize("name, change, field", [
    ("fill (legacy)", {"ts": -1180591620717411303423}, "ts"),                 # fromtimestamp overflowed
    ("fill (legacy)", {"ts": 637319848213029}, "ts"),                         # year 20197832
    ("markets", {"markets": [{**wire.market(_QUOTE, NOW), "volume_fp": "1e999999999"}]}, "volume_fp"),
    ("order", {"order": {**wire.order(_ORDER, NOW), "taker_fill_cost_dollars": "1e999"}}, "taker_fill_cost"),
    ("order", {"order": {**wire.order(_ORDER, NOW), "taker_fees_dollars": "1e999999999"}}, "taker_fees"),
    ("market", {"yes_bid_dollars": "0.1234567"}, "yes_bid_dollars"),        # more places than storable
])
def test_the_kalshi_values_that_used_to_escape_are_malformed_payloads_naming_the_field(name, change, field):
    parse, payload = KALSHI[name]
    with pytest.raises(MalformedPayload, match=field):
        parse({**copy.deepcopy(payload), **change})


@FUZZ
@given(body=st.one_of(json_value, text_line, st.binary(max_size=40), st.sampled_from(NASTY_TEXT)))
def test_an_error_body_of_any_shape_gives_a_short_message(body):
    text = parsing.error_message(body)
    assert isinstance(text, str) and 0 < len(text) <= 300


# ---- (c) ESPN payloads -------------------------------------------------------------------------------

_ESPN_KEYS = {"events", "id", "date", "competitions", "competitors", "homeAway", "score", "team", "abbreviation",
              "displayName", "shortDisplayName", "status", "type", "name", "state", "completed", "period",
              "displayClock", "clock", "situation", "possession", "down", "distance", "yardLine",
              "possessionText", "odds", "spread", "linescores", "value", "winner", "groupings", "athlete",
              "startDate", "header", "pickcenter", "shortDetail", "detail", "periodPrefix", "shortName"}
ESPN_FILES = [("scoreboard/nfl_scoreboard_20241215_final.json", "nfl"),
              ("scoreboard/ncaaf_scoreboard_sec_pregame.json", "college-football"),
              ("scoreboard/nhl_scoreboard_live_overtime.json", "nhl"),
              ("scoreboard/mlb_scoreboard_live_and_pre.json", "mlb"),
              ("scoreboard/atp_scoreboard_roland_garros.json", "atp"),
              ("scoreboard/epl_scoreboard_fulltime.json", "eng.1"),
              ("summary/nba_summary_401772994_IND-NY_final.json", "nba"),
              ("summary/nfl_summary_401547417_ATL-GB_final.json", "nfl")]


def _trim(value: Any) -> Any:
    """The fields the parser reads, two of each list: small enough to mutate thoroughly."""
    if isinstance(value, dict):
        return {k: _trim(v) for k, v in value.items() if k in _ESPN_KEYS}
    if isinstance(value, list):
        return [_trim(v) for v in value[:2]]
    return value


@functools.lru_cache(maxsize=None)
def _recorded(name: str) -> Any:
    return _trim(json.loads((DATA / name).read_text(encoding="utf-8")))


def _parse_espn(kind: str, payload: Any, league: str) -> list[GameState]:
    if kind == "summary":
        return [parse_summary(payload, league)]
    return parse_scoreboard(payload, league, observed_at=NOW)


@pytest.mark.parametrize("name, league", ESPN_FILES, ids=[n.split("/")[1].split(".")[0] for n, _ in ESPN_FILES])
@settings(FUZZ, max_examples=60)
@given(data=st.data())
def test_a_mutated_recorded_espn_payload_gives_states_or_espn_payload_error(name, league, data):
    if not (DATA / name).exists():
        pytest.skip(f"{DATA / name} is not available")
    kind = name.split("/")[0]
    body = data.draw(mutated(_recorded(name)), label="payload")
    try:
        states = _parse_espn(kind, body, league)
    except EspnPayloadError:
        return
    assert all(isinstance(s, GameState) for s in states)


@pytest.mark.parametrize("league", ["nfl", "nba", "mlb", "atp", "eng.1"])
@settings(FUZZ, max_examples=40)
@given(body=json_value | st.dictionaries(st.sampled_from(["events", "header", "situation"]), json_value))
def test_arbitrary_json_as_an_espn_payload_gives_states_or_espn_payload_error(league, body):
    for kind in ("scoreboard", "summary"):
        try:
            states = _parse_espn(kind, body, league)
        except EspnPayloadError:
            continue
        assert all(isinstance(s, GameState) for s in states)


def _competition(**home: Any) -> dict:
    team = {"homeAway": "home", "team": {"id": "1", "abbreviation": "AAA"}, "score": "1"}
    return {"events": [{"id": "E1", "date": "2026-01-11T18:00Z", "groupings": None, "competitions": [{
        "id": "C1", "date": "2026-01-11T18:00Z", "status": {"type": {"name": "STATUS_IN_PROGRESS"}},
        "competitors": [{**team, **home}, {**team, "homeAway": "away", "team": {"id": "2", "abbreviation": "BBB"}}],
    }]}]}


@pytest.mark.parametrize("league, change", [
    ("atp", {"linescores": [{"value": float("nan")}]}),      # int(float(nan)) in the set scores
    ("atp", {"linescores": [{"value": {"x": 1}}]}),           # float() of a dict
    ("nba", {"linescores": 1.5}),                             # len() of a float
    ("nba", {"score": "1e999999999"}),                        # int() for minutes
])
def test_the_espn_values_that_used_to_escape_now_give_a_state(league, change):
    payload = _competition(**change)
    if league == "atp":     # tennis nests matches in groupings
        event = payload["events"][0]
        event["groupings"] = [{"competitions": event.pop("competitions")}]
    (state,) = parse_scoreboard(payload, league, observed_at=NOW)
    assert state.game_id == "C1"


def test_groupings_that_are_not_a_list_are_reported_not_crashed_on():
    from adapters.espn import parse_scoreboard_detailed

    payload = _competition()
    payload["events"][0]["groupings"] = 7
    result = parse_scoreboard_detailed(payload, "atp", observed_at=NOW)
    assert any("groupings" in str(e) for e in result.errors)


# ---- (d) the signals file follower -------------------------------------------------------------------

GOOD_SIGNAL = {"type": "signal", "ts": "2026-01-11T18:00:00Z", "ticker": "KXNBAGAME-26JAN11LALBOS-BOS",
               "side": "yes", "signal_type": "model_edge", "win_probability": "0.62", "market_price": "0.55"}
signal_line = st.one_of(mutated(GOOD_SIGNAL).map(dumps), json_value.map(dumps),
                        text_line.map(lambda t: t.encode("utf-8")), byte_line)


@FUZZ
@given(lines=st.lists(signal_line, min_size=1, max_size=6))
@example(lines=[DEEP])                                              # RecursionError escaped poll()
@example(lines=[dumps({**GOOD_SIGNAL, "contracts": "Infinity"}), b"\xff\xfe{"])
def test_garbage_signal_lines_are_skipped_and_counted_and_the_next_good_line_is_taken(tmp_path, lines):
    path = tmp_path / "signals.jsonl"
    good = dumps({**GOOD_SIGNAL, "signal_id": "the-good-one"})
    path.write_bytes(b"".join(line + b"\n" for line in lines) + good + b"\n")
    received: list[TradingSignal] = []
    follower = SignalFollower(path, received.append, platform="kalshi")
    try:
        taken = follower.poll()
    finally:
        follower.stop()
    nonblank = sum(1 for line in lines if line.decode("utf-8", errors="replace").strip()) + 1
    assert follower.accepted + follower.skipped == nonblank
    assert taken == follower.accepted == len(received)
    assert received[-1].signal_id == "the-good-one" and received[-1].platform == "kalshi"


# ---- (e) no actor dies on garbage -------------------------------------------------------------------

TICKERS = ("KXFZ-A", "KXFZ-B")
price = st.none() | st.sampled_from([Decimal(x) for x in ("0", "1", "0.5", "-0.25", "1.75", "0.000001",
                                                          "0.999999", "0.1234567", "2")]) \
    | st.decimals(min_value=-1, max_value=2, allow_nan=False, allow_infinity=False, places=4)
size = st.none() | st.integers(min_value=-10, max_value=10 ** 6)
seconds = st.integers(min_value=-100_000, max_value=100_000)
probability = st.decimals(min_value=-1, max_value=2, allow_nan=False, allow_infinity=False, places=3)
garbage_quote = st.tuples(st.just("quote"), st.sampled_from(TICKERS + ("", "KXFZ-UNKNOWN")), seconds, price, price,
                          size, size, price, size, st.none() | seconds)
garbage_signal = st.tuples(st.just("signal"), st.sampled_from(TICKERS + ("KXFZ-C", "")), st.sampled_from(list(Side)),
                           st.sampled_from(["default", "model_edge", "nonexistent", ""]), probability,
                           st.none() | probability, st.none() | st.integers(min_value=-5, max_value=10 ** 7),
                           st.sampled_from(["nba", "nfl", "", "curling"]))
garbage_model = st.tuples(st.just("model"), st.sampled_from(TICKERS), probability)
step = st.one_of(garbage_quote, garbage_signal, garbage_model, st.tuples(st.just("run"), st.integers(0, 90)))


@settings(FUZZ, max_examples=30)
@given(steps=st.lists(step, min_size=1, max_size=20))
def test_garbage_quotes_model_updates_and_signals_crash_no_actor(make_engine, steps):
    h = make_engine()
    try:
        for ticker in TICKERS:
            h.market(ticker, "0.49", "0.50", push=True)
        h.enter(TICKERS[0], "yes", contracts=10, win_probability="0.80", market_price="0.50")
        h.enter(TICKERS[1], "no", contracts=10, win_probability="0.80", market_price="0.51")
        for n, s in enumerate(steps):
            if s[0] == "quote":
                _, ticker, dt, bid, ask, bid_size, ask_size, last, volume, close = s
                h.system.push_quote(Quote(ticker, h.now() + timedelta(seconds=dt), bid, ask, bid_size, ask_size,
                                          last, volume, None if close is None else h.now() + timedelta(seconds=close)))
            elif s[0] == "signal":
                _, ticker, side, signal_type, p, market_price, contracts, sport = s
                h.system.push_signal(TradingSignal(f"fz-{n}", h.now(), "G1", sport, ticker, "paper", side,
                                                   signal_type, p, market_price, contracts=contracts))
            elif s[0] == "model":
                h.system.push_model_probability(ModelProbabilityUpdated(s[1], s[2], h.now()))
            else:
                h.run(s[1])
        h.run(60)
        assert h.events("ACTOR_CRASHED") == [], h.events("ACTOR_CRASHED")[:3]
        # Still alive: the entry manager decides on a good signal (the caps may be used up by the
        # garbage, so either decision will do), and every open position has a live actor.
        h.market("KXFZ-AFTER", "0.49", "0.50", push=True)
        sig = h.signal("KXFZ-AFTER", "yes", contracts=3, win_probability="0.80", market_price="0.50")
        h.run(0)
        assert h.events("TRADE_EXECUTED", signal_id=sig.signal_id) or h.events("SIGNAL_REJECTED",
                                                                              signal_id=sig.signal_id)
        h.system.flush()
        for position in h.repo.load_open_positions():
            ref = h.position_ref(position.position_id)
            assert ref is not None and ref.is_alive(), position.position_id
    finally:
        h.stop()
