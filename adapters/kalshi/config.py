"""Which Kalshi to talk to, from the environment and the command line.

KALSHI_API_BASE picks the API root (default: the demo host). Production is reached only with
`--env prod` together with an explicit confirmation flag, and never by accident: a
KALSHI_API_BASE that points at a production host is refused unless both were given, and plain
http is allowed only towards this machine (the loopback fake server), since every request
carries the key id and a signature.
"""
from __future__ import annotations

from typing import Mapping
from urllib.parse import urlsplit

from actors.clock import Clock
from adapters.kalshi.auth import KalshiCredentials
from adapters.kalshi.client import KalshiClient, RetryPolicy
from adapters.kalshi.venue import KalshiVenue
from config.loader import ConfigError

API_BASE_ENV = "KALSHI_API_BASE"
DEMO_BASE_URL = "https://demo-api.kalshi.co/trade-api/v2"
PROD_BASE_URL = "https://api.elections.kalshi.com/trade-api/v2"
ENVIRONMENTS = ("demo", "prod")
CONFIRM_FLAG = "--confirm-prod"
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class KalshiConfigError(ConfigError):
    """The Kalshi environment settings are unusable or unsafe; the message says how to fix them."""


def is_production_url(url: str) -> bool:
    """True for any host under kalshi.com (production); the demo host is under kalshi.co."""
    host = (urlsplit(url).hostname or "").lower()
    return host == "kalshi.com" or host.endswith(".kalshi.com")


def _checked(url: str) -> str:
    split = urlsplit(url.strip())
    if split.scheme not in ("http", "https") or not split.hostname:
        raise KalshiConfigError(f"{API_BASE_ENV}: expected an http(s) URL such as {DEMO_BASE_URL}, found {url!r}")
    if split.scheme == "http" and split.hostname not in _LOOPBACK_HOSTS:
        raise KalshiConfigError(f"{API_BASE_ENV}: plain http is only allowed to this machine, found {url!r}; use https")
    return url.strip().rstrip("/")


def resolve_base_url(env: str, confirm_prod: bool, environ: Mapping[str, str]) -> str:
    """The API root for `env` ("demo" or "prod").

    demo: KALSHI_API_BASE if set (must not be a production host), else the demo host.
    prod: the production host, only with confirm_prod; KALSHI_API_BASE, if set, must agree."""
    if env not in ENVIRONMENTS:
        raise KalshiConfigError(f"--env: expected one of {', '.join(ENVIRONMENTS)}, found {env!r}")
    configured = environ.get(API_BASE_ENV, "").strip()
    if env == "prod":
        if not confirm_prod:
            raise KalshiConfigError(
                f"--env prod trades real money at {PROD_BASE_URL}; add {CONFIRM_FLAG} to confirm"
            )
        if configured and _checked(configured) != PROD_BASE_URL:
            raise KalshiConfigError(
                f"--env prod selects {PROD_BASE_URL} but {API_BASE_ENV} is {configured!r}; unset one of them"
            )
        return PROD_BASE_URL
    url = _checked(configured) if configured else DEMO_BASE_URL
    if is_production_url(url):
        raise KalshiConfigError(
            f"{API_BASE_ENV} points at Kalshi production ({url}); use --env prod {CONFIRM_FLAG} to trade there"
        )
    return url


def open_kalshi_venue(
    environ: Mapping[str, str],
    clock: Clock,
    *,
    env: str = "demo",
    confirm_prod: bool = False,
    retry: RetryPolicy = RetryPolicy(),
    call_timeout_secs: float = 60.0,
) -> KalshiVenue:
    """Resolve the URL, load the credentials once, and start a KalshiVenue (close() it after).

    Raises KalshiConfigError or auth.CredentialsError with a message fit for the user."""
    base_url = resolve_base_url(env, confirm_prod, environ)
    credentials = KalshiCredentials.from_env(environ)
    client = KalshiClient(base_url, credentials, clock, retry=retry)
    return KalshiVenue(client, call_timeout_secs=call_timeout_secs)
