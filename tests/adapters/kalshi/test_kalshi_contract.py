"""Contract tests: the client's requests and the fake's responses against Kalshi's OpenAPI spec.

A scenario drives every endpoint the client uses through the loopback fake; each recorded
exchange is then checked against ../shared/reference/kalshi/openapi.yaml (v3.13.0):
- the route and method exist in the spec;
- every query parameter the client sent is declared for that operation and fits its schema;
- the client's JSON body fits the operation's request schema, with no undeclared fields;
- every 2xx answer of the fake fits the response schema with no undeclared fields (so no legacy
  integer fields: the spec no longer declares them), and error answers fit the error schema
  wherever the spec declares one for that status.
The checker below handles the OpenAPI 3.0 subset the spec uses for these operations.
"""
from __future__ import annotations

import random
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

import pytest
import yaml

from actors.clock import VirtualClock
from adapters.kalshi.auth import KalshiCredentials
from adapters.kalshi.client import KalshiClient
from tests.fakes.kalshi_server import Exchange, FakeKalshi, generate_test_key, serve_fake_kalshi
from adapters.kalshi.venue import KalshiVenue
from adapters.paper.venue import PaperVenue
from models.venue import VenueError
from models.market import Side
from models.orders import Action, OrderRequest, OrderStatus, TimeInForce
from tests.paths import SHARED

SPEC_PATH = SHARED / "reference" / "kalshi" / "openapi.yaml"
T0 = datetime(2026, 1, 12, 20, 0, tzinfo=timezone.utc)
D = Decimal
DOLLARS = re.compile(r"^-?\d+\.\d{1,6}$")
COUNT_FP = re.compile(r"^-?\d+\.\d{2}$")


# ---- a small OpenAPI 3.0 schema checker ------------------------------------------------------------

class SchemaChecker:
    def __init__(self, spec: dict) -> None:
        self.spec = spec

    def resolve(self, node: dict) -> dict:
        while "$ref" in node:
            target: Any = self.spec
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return node

    def check(self, value: Any, schema: dict, where: str, *, strict: bool) -> list[str]:
        """Problems found (empty when `value` fits). strict: undeclared object fields are problems."""
        ref = schema.get("$ref", "")
        s = self.resolve(schema)
        if value is None:
            return [] if s.get("nullable") else [f"{where}: null but not nullable"]
        problems: list[str] = []
        for part in s.get("allOf", ()):
            problems += self.check(value, part, where, strict=strict)
        if "enum" in s and value not in s["enum"]:
            problems.append(f"{where}: {value!r} not in {s['enum']}")
        kind = s.get("type")
        if kind == "object" or (kind is None and "properties" in s):
            if not isinstance(value, dict):
                return problems + [f"{where}: expected an object, found {type(value).__name__}"]
            props = s.get("properties", {})
            problems += [f"{where}.{name}: required but missing" for name in s.get("required", ()) if name not in value]
            for name, item in value.items():
                if name in props:
                    problems += self.check(item, props[name], f"{where}.{name}", strict=strict)
                elif strict and not s.get("additionalProperties"):
                    problems.append(f"{where}.{name}: not declared by the spec")
        elif kind == "array":
            if not isinstance(value, list):
                return problems + [f"{where}: expected an array"]
            for i, item in enumerate(value):
                problems += self.check(item, s.get("items", {}), f"{where}[{i}]", strict=strict)
        elif kind == "string":
            if not isinstance(value, str):
                return problems + [f"{where}: expected a string, found {value!r}"]
            if s.get("format") == "date-time":
                try:
                    datetime.fromisoformat(value)
                except ValueError:
                    problems.append(f"{where}: {value!r} is not a date-time")
            if ref.endswith("/FixedPointDollars") and not DOLLARS.match(value):
                problems.append(f"{where}: {value!r} is not a fixed-point dollar string")
            if ref.endswith("/FixedPointCount") and not COUNT_FP.match(value):
                problems.append(f"{where}: {value!r} is not a 2-decimal fixed-point count")
        elif kind == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                return problems + [f"{where}: expected an integer, found {value!r}"]
            problems += self._bounds(value, s, where)
        elif kind == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                problems.append(f"{where}: expected a number, found {value!r}")
        elif kind == "boolean" and not isinstance(value, bool):
            problems.append(f"{where}: expected a boolean, found {value!r}")
        return problems

    @staticmethod
    def _bounds(value: int, s: dict, where: str) -> list[str]:
        out = []
        if "minimum" in s and value < s["minimum"]:
            out.append(f"{where}: {value} < minimum {s['minimum']}")
        if "maximum" in s and value > s["maximum"]:
            out.append(f"{where}: {value} > maximum {s['maximum']}")
        return out

    def check_query(self, name: str, text: str, schema: dict, where: str) -> list[str]:
        s = self.resolve(schema)
        if s.get("type") == "integer":
            try:
                value = int(text)
            except ValueError:
                return [f"{where}: {text!r} is not an integer"]
            return self._bounds(value, s, where)
        if "enum" in s and text not in s["enum"]:
            return [f"{where}: {text!r} not in {s['enum']}"]
        return []


@pytest.fixture(scope="module")
def spec() -> dict:
    if not SPEC_PATH.is_file():
        pytest.skip("../shared/reference/kalshi/openapi.yaml is absent")
    return yaml.safe_load(SPEC_PATH.read_text())


def operation(spec: dict, exchange: Exchange) -> dict:
    path_item = spec["paths"].get(exchange.route)
    assert path_item is not None, f"{exchange.route} is not a path of the spec"
    op = path_item.get(exchange.method.lower())
    assert op is not None, f"{exchange.method} {exchange.route} is not an operation of the spec"
    return op


def problems_in(spec: dict, exchange: Exchange) -> list[str]:
    checker = SchemaChecker(spec)
    op = operation(spec, exchange)
    label = f"{exchange.method} {exchange.route}"
    problems: list[str] = []
    params = {p["name"]: p for p in (checker.resolve(p) for p in op.get("parameters", ())) if p["in"] == "query"}
    for name, text in exchange.query.items():
        if name not in params:
            problems.append(f"{label}: query parameter {name!r} is not declared")
        else:
            problems += checker.check_query(name, text, params[name]["schema"], f"{label}?{name}")
    if exchange.request_json is not None:
        body_schema = op["requestBody"]["content"]["application/json"]["schema"]
        problems += checker.check(exchange.request_json, body_schema, f"{label} request", strict=True)
    response = op["responses"].get(str(exchange.status))
    if 200 <= exchange.status < 300:
        assert response is not None, f"{label}: the spec declares no {exchange.status} answer"
    if response is not None:
        response = checker.resolve(response)
        content = response.get("content", {}).get("application/json")
        if content:
            problems += checker.check(exchange.response_json, content["schema"], f"{label} {exchange.status}",
                                      strict=200 <= exchange.status < 300)
    return problems


# ---- the scenario -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def exchanges(spec) -> list[Exchange]:
    """Every endpoint the client uses, with successes and each error the fake can give."""
    key = generate_test_key()
    clock = VirtualClock(T0)
    paper = PaperVenue(clock, name="paper")
    ticker, other = "KXNBAGAME-26JAN12LALBOS-LAL", "KXNBAGAME-26JAN12LALBOS-BOS"
    paper.set_book(ticker, [(D("0.55"), 100)], [(D("0.58"), 40), (D("0.60"), 100)], volume=10,
                   close_time=T0 + timedelta(hours=2), last=D("0.56"))
    paper.set_book(other, [], [])
    fake = FakeKalshi(paper, key.public_key(), "contract-key", clock)

    async def no_sleep(_: float) -> None:
        return None

    with serve_fake_kalshi(fake) as running:
        client = KalshiClient(running.base_url, KalshiCredentials("contract-key", key), clock, sleep=no_sleep,
                              rng=random.Random(1), page_limit=2)
        with KalshiVenue(client) as venue:
            venue.get_exchange_status()
            venue.get_quotes([ticker, other, "KXNOPE-1"])
            venue.get_quote(ticker)
            venue.get_quote("KXNOPE-1")
            venue.get_orderbook(ticker)
            venue.get_orderbook(other)
            resting = venue.place_order(OrderRequest("k-1", ticker, Side.YES, Action.BUY, 5, D("0.50")))
            venue.place_order(OrderRequest("k-2", ticker, Side.YES, Action.BUY, 45, D("0.60"), TimeInForce.IOC))
            venue.place_order(OrderRequest("k-3", ticker, Side.NO, Action.BUY, 2, D("0.30"), TimeInForce.FOK))
            venue.place_order(OrderRequest("k-4", ticker, Side.YES, Action.SELL, 5, D("0.55"), TimeInForce.IOC))
            venue.get_order(resting.order_id)
            venue.list_orders()
            venue.list_orders(ticker=ticker, status=OrderStatus.RESTING)
            venue.find_order("k-2")
            venue.cancel_order(resting.order_id)
            venue.cancel_order(resting.order_id)          # 404, then a look-up
            venue.get_positions()
            venue.get_fills()
            venue.get_fills(since=T0)
            venue.get_balance()
            fake.fail_next(429, 1)
            venue.get_balance()
            fake.fail_next(503, 1)
            venue.get_positions()
            for failing in (
                lambda: venue.place_order(OrderRequest("k-1", ticker, Side.YES, Action.BUY, 1, D("0.50"))),  # 409
                lambda: venue.place_order(OrderRequest("k-5", "KXNOPE-1", Side.YES, Action.BUY, 1, D("0.50"))),  # 400
                lambda: venue.get_order("PAPER-999"),                                                          # 404
            ):
                with pytest.raises(VenueError):
                    failing()
    return list(fake.exchanges)


def test_the_scenario_covers_every_endpoint_the_client_uses(exchanges):
    routes = {(e.method, e.route) for e in exchanges}
    assert routes == {
        ("GET", "/exchange/status"), ("GET", "/markets"), ("GET", "/markets/{ticker}"),
        ("GET", "/markets/{ticker}/orderbook"), ("POST", "/portfolio/orders"), ("GET", "/portfolio/orders"),
        ("GET", "/portfolio/orders/{order_id}"), ("DELETE", "/portfolio/orders/{order_id}"),
        ("GET", "/portfolio/positions"), ("GET", "/portfolio/fills"), ("GET", "/portfolio/balance"),
    }
    assert {e.status for e in exchanges} >= {200, 201, 400, 404, 409, 429, 503}


def test_requests_and_responses_match_the_spec(spec, exchanges):
    problems = [p for e in exchanges for p in problems_in(spec, e)]
    assert problems == []


def test_the_checker_catches_what_it_should(spec):
    """The checker must be able to fail: a legacy field, a wrong type, a missing field, a bad query."""
    def exchange(**changes) -> Exchange:
        base = dict(method="POST", route="/portfolio/orders", path="/trade-api/v2/portfolio/orders", query={},
                    request_json={"ticker": "T", "side": "yes", "action": "buy", "count": 1, "yes_price": 50},
                    status=201, response_json={"order": {}})
        return Exchange(**{**base, **changes})

    found = problems_in(spec, exchange())
    assert any("order.order_id: required but missing" in p for p in found)
    assert any("type" in p for p in problems_in(spec, exchange(request_json={"ticker": "T", "side": "yes", "action": "buy",
                                                                             "type": "limit"})))
    assert any("yes_price: 150 > maximum" in p for p in problems_in(spec, exchange(
        request_json={"ticker": "T", "side": "yes", "action": "buy", "yes_price": 150})))
    legacy = problems_in(spec, exchange(method="GET", route="/portfolio/balance", request_json=None, status=200,
                                        response_json={"balance": 1, "portfolio_value": 2, "updated_ts": 3,
                                                       "fill_count": 4}))
    assert legacy == ["GET /portfolio/balance 200.fill_count: not declared by the spec"]
    dollars = problems_in(spec, exchange(method="GET", route="/markets/{ticker}/orderbook", request_json=None,
                                         status=200, response_json={"orderbook_fp": {"yes_dollars": [["56", "1.00"]],
                                                                                     "no_dollars": []}}))
    assert dollars == []  # PriceLevelDollarsCountFp items are plain strings in the spec
    assert problems_in(spec, exchange(method="GET", route="/portfolio/fills", request_json=None, status=200,
                                      query={"since": "1"}, response_json={"fills": [], "cursor": ""})) == [
        "GET /portfolio/fills: query parameter 'since' is not declared"]
    bad_fp = problems_in(spec, exchange(method="GET", route="/portfolio/fills", request_json=None, status=200,
                                        response_json={"fills": [], "cursor": 5}))
    assert bad_fp == ["GET /portfolio/fills 200.cursor: expected a string, found 5"]


def test_every_price_and_count_the_fake_serves_is_a_fixed_point_string(exchanges):
    """Today's wire format: *_dollars and *_fp fields are strings that parse as decimals."""
    def walk(value: Any, where: str):
        if isinstance(value, dict):
            for k, v in value.items():
                if k.endswith("_dollars") and isinstance(v, list):
                    for i, level in enumerate(v):
                        yield f"{where}.{k}[{i}]", level[0]
                        yield f"{where}.{k}[{i}]", level[1]
                elif (k.endswith(("_dollars", "_fp")) or k == "fee_cost") and not isinstance(v, dict):
                    yield f"{where}.{k}", v
                else:
                    yield from walk(v, f"{where}.{k}")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                yield from walk(item, f"{where}[{i}]")

    seen = 0
    for e in exchanges:
        if 200 <= e.status < 300:
            for where, value in walk(e.response_json, e.route):
                seen += 1
                assert isinstance(value, str), where
                try:
                    Decimal(value)
                except InvalidOperation:
                    pytest.fail(f"{where}: {value!r}")
    assert seen > 50
