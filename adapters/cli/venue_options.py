"""The --venue / --env / --confirm-prod options shared by the commands that talk to a venue,
and opening the chosen venue. Paper is the default; Kalshi means the demo host unless
`--env prod --confirm-prod` is given (see adapters/kalshi/config.py)."""
from __future__ import annotations

import argparse
from decimal import Decimal
from typing import Mapping

from actors.clock import Clock
from adapters.kalshi.auth import CredentialsError
from adapters.kalshi.config import CONFIRM_FLAG, ENVIRONMENTS, KalshiConfigError, open_kalshi_venue
from adapters.paper.venue import PaperVenue
from models.venue import Venue

VENUES = ("paper", "kalshi")
PAPER_STARTING_BALANCE = Decimal("1000")

# Errors that mean "the setup is wrong": the command prints them and exits 2, no traceback.
SETUP_ERRORS = (KalshiConfigError, CredentialsError)


def add_venue_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--venue", choices=VENUES, default="paper",
                        help="which venue to ask (default: paper)")
    parser.add_argument("--env", choices=ENVIRONMENTS, default="demo",
                        help="Kalshi environment (default: demo; prod also needs %s)" % CONFIRM_FLAG)
    parser.add_argument(CONFIRM_FLAG, dest="confirm_prod", action="store_true",
                        help="confirm that --env prod may use the production (real money) API")


def open_venue(args: argparse.Namespace, environ: Mapping[str, str], clock: Clock) -> Venue:
    """The venue the options name. Raises one of SETUP_ERRORS when Kalshi is not set up."""
    if args.venue == "kalshi":
        return open_kalshi_venue(environ, clock, env=args.env, confirm_prod=args.confirm_prod)
    return PaperVenue(clock, name="paper", starting_balance=PAPER_STARTING_BALANCE)


def describe(venue: Venue) -> str:
    """'kalshi (https://demo-api.kalshi.co/trade-api/v2)' or 'paper'."""
    base_url = getattr(venue, "base_url", None)
    return f"{venue.name} ({base_url})" if base_url else venue.name


def close_venue(venue: Venue) -> None:
    close = getattr(venue, "close", None)
    if callable(close):
        close()


def fmt_price(price: Decimal | None) -> str:
    """$0.56 (sub-cent prices keep their digits: $0.555); '-' when there is none."""
    if price is None:
        return "-"
    text = format(price.normalize(), "f")
    whole, _, frac = text.partition(".")
    return f"${whole}.{frac.ljust(2, '0')}"
