"""Choosing the Kalshi environment, and the `quote` and `positions` commands against the fake."""
from __future__ import annotations

import argparse
import io
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from actors.clock import VirtualClock
from adapters.cli import positions as positions_cmd
from adapters.cli import quote as quote_cmd
from adapters.cli.venue_options import fmt_price
from adapters.kalshi.config import (
    DEMO_BASE_URL, PROD_BASE_URL, KalshiConfigError, is_production_url, resolve_base_url,
)
from tests.fakes.kalshi_server import FakeKalshi, generate_test_key, serve_fake_kalshi, write_test_key
from adapters.paper.venue import PaperVenue
from models.market import Side
from models.orders import Action, OrderRequest, TimeInForce

KEY_ID = "commands-key-id"
T0 = datetime(2026, 1, 12, 20, 0, tzinfo=timezone.utc)
TICKER = "KXNHLGAME-26JAN12NYRBOS-NYR"
D = Decimal


# ---- which Kalshi -------------------------------------------------------------------------------

def test_demo_is_the_default_and_kalshi_api_base_overrides_it():
    assert resolve_base_url("demo", False, {}) == DEMO_BASE_URL
    assert resolve_base_url("demo", False, {"KALSHI_API_BASE": "http://127.0.0.1:8123/trade-api/v2/"}) == \
        "http://127.0.0.1:8123/trade-api/v2"


def test_prod_needs_the_confirmation_flag():
    with pytest.raises(KalshiConfigError, match="--confirm-prod"):
        resolve_base_url("prod", False, {})
    assert resolve_base_url("prod", True, {}) == PROD_BASE_URL
    assert resolve_base_url("prod", True, {"KALSHI_API_BASE": PROD_BASE_URL}) == PROD_BASE_URL


def test_production_is_never_reached_by_accident():
    with pytest.raises(KalshiConfigError, match="production"):
        resolve_base_url("demo", False, {"KALSHI_API_BASE": PROD_BASE_URL})
    with pytest.raises(KalshiConfigError, match="production"):
        resolve_base_url("demo", True, {"KALSHI_API_BASE": "https://trading-api.kalshi.com/trade-api/v2"})
    with pytest.raises(KalshiConfigError, match="unset one"):
        resolve_base_url("prod", True, {"KALSHI_API_BASE": DEMO_BASE_URL})
    assert is_production_url(PROD_BASE_URL) and not is_production_url(DEMO_BASE_URL)


@pytest.mark.parametrize("url", ["ftp://example.com", "demo-api.kalshi.co/trade-api/v2", "http://example.com/trade-api/v2"])
def test_unusable_or_unsafe_urls_are_refused(url):
    with pytest.raises(KalshiConfigError, match="KALSHI_API_BASE"):
        resolve_base_url("demo", False, {"KALSHI_API_BASE": url})


def test_an_unknown_environment_is_refused():
    with pytest.raises(KalshiConfigError, match="--env"):
        resolve_base_url("staging", False, {})


# ---- the commands against the fake --------------------------------------------------------------

def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="run.py")
    subparsers = parser.add_subparsers(dest="command", required=True)
    quote_cmd.register(subparsers)
    positions_cmd.register(subparsers)
    return parser.parse_args(argv)


def invoke(argv: list[str], environ: dict[str, str], clock: VirtualClock) -> tuple[int, str, str]:
    args = parse(*argv)
    out, err = io.StringIO(), io.StringIO()
    code = args.func(args, environ=environ, out=out, err=err, clock=clock)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def kalshi(tmp_path):
    """A fake Kalshi with one market, one filled position and one resting order, and the env to reach it."""
    key = generate_test_key()
    clock = VirtualClock(T0)
    paper = PaperVenue(clock, name="paper")
    paper.set_book(TICKER, [(D("0.61"), 120)], [(D("0.63"), 40)], volume=5321,
                   close_time=datetime(2026, 1, 13, 3, 30, tzinfo=timezone.utc), last=D("0.62"))
    paper.place_order(OrderRequest("cli-buy", TICKER, Side.YES, Action.BUY, 12, D("0.63"), TimeInForce.IOC))
    paper.place_order(OrderRequest("cli-rest", TICKER, Side.YES, Action.SELL, 5, D("0.70")))
    fake = FakeKalshi(paper, key.public_key(), KEY_ID, clock, max_clock_skew=timedelta(seconds=5))
    with serve_fake_kalshi(fake) as running:
        environ = {"KALSHI_API_BASE": running.base_url, "KALSHI_KEY_ID": KEY_ID,
                   "KALSHI_PRIVATE_KEY_PATH": str(write_test_key(key, tmp_path / "kalshi.pem"))}
        yield environ, clock, running


def test_quote_prints_bid_ask_last_volume_and_close_time(kalshi):
    environ, clock, running = kalshi
    code, out, err = invoke(["quote", TICKER, "--venue", "kalshi"], environ, clock)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"{TICKER} on kalshi ({running.base_url})",
        "  bid     $0.61  (120 contracts)",
        "  ask     $0.63  (28 contracts)",
        "  last    $0.63",
        "  volume  5333",
        "  closes  2026-01-13 03:30:00 UTC",
    ]


def test_quote_of_an_unknown_ticker_exits_1(kalshi):
    environ, clock, _ = kalshi
    code, out, err = invoke(["quote", "KXNOPE-1", "--venue", "kalshi"], environ, clock)
    assert code == 1 and out == "" and "no market KXNOPE-1" in err


def test_positions_prints_open_positions_and_resting_orders(kalshi):
    environ, clock, _ = kalshi
    code, out, err = invoke(["positions", "--venue", "kalshi"], environ, clock)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("Open positions on kalshi (http://127.0.0.1:")
    assert lines[1].split() == ["TICKER", "SIDE", "CONTRACTS", "EXPOSURE", "REALIZED", "FEES"]
    assert lines[2].split() == [TICKER, "YES", "12", "$7.56", "+$0.00", "$0.20"]  # fee: ceil(0.07 x 12 x 0.63 x 0.37)
    assert lines[3].startswith("Resting orders on kalshi")
    assert lines[4].split() == ["ORDER", "ID", "TICKER", "SIDE", "ACTION", "PRICE", "FILLED", "CLIENT", "ORDER", "ID"]
    assert lines[5].split() == ["PAPER-000002", TICKER, "YES", "SELL", "$0.70", "0/5", "cli-rest"]
    assert len(lines) == 6


@pytest.mark.parametrize("command", [["quote", TICKER, "--venue", "kalshi"], ["positions", "--venue", "kalshi"]])
def test_missing_credentials_are_a_clear_error_with_exit_2(kalshi, command):
    environ, clock, _ = kalshi
    code, out, err = invoke(command, {"KALSHI_API_BASE": environ["KALSHI_API_BASE"]}, clock)
    assert code == 2 and out == ""
    assert err.startswith("error: Kalshi credentials missing: set KALSHI_KEY_ID and KALSHI_PRIVATE_KEY_PATH")
    assert "Traceback" not in err


def test_refused_credentials_exit_2(kalshi, tmp_path):
    environ, clock, _ = kalshi
    wrong = {**environ, "KALSHI_PRIVATE_KEY_PATH": str(write_test_key(generate_test_key(), tmp_path / "other.pem"))}
    code, _, err = invoke(["positions", "--venue", "kalshi"], wrong, clock)
    assert code == 2 and "refused the credentials" in err and "401" in err


def test_prod_without_confirmation_exits_2_before_any_request(kalshi):
    environ, clock, running = kalshi
    before = len(running.fake.exchanges)
    code, _, err = invoke(["quote", TICKER, "--venue", "kalshi", "--env", "prod"], {}, clock)
    assert code == 2 and "--confirm-prod" in err
    assert len(running.fake.exchanges) == before


def test_paper_is_the_default_venue():
    clock = VirtualClock(T0)
    code, out, err = invoke(["positions"], {}, clock)
    assert code == 0 and out.splitlines()[0] == "Open positions on paper" and "(none)" in out
    code, _, err = invoke(["quote", TICKER], {}, clock)
    assert code == 1 and "paper has no market" in err


def test_price_formatting():
    assert [fmt_price(p) for p in (D("0.5600"), D("0.5"), D("0.555"), None)] == ["$0.56", "$0.50", "$0.555", "-"]
