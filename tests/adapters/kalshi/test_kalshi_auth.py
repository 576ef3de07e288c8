"""Kalshi request signing: what is signed, how, and that the secrets never leak."""
from __future__ import annotations

import base64
import pickle
import random
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from loguru import logger

from actors.clock import VirtualClock
from adapters.kalshi.auth import (
    HEADER_KEY, HEADER_SIGNATURE, HEADER_TIMESTAMP, CredentialsError, KalshiCredentials, message_to_sign,
    timestamp_ms, verify_signature,
)
from adapters.kalshi.client import KalshiClient, RetryPolicy
from tests.fakes.kalshi_server import FakeKalshi, generate_test_key, serve_fake_kalshi, write_test_key
from adapters.kalshi.venue import KalshiVenue
from adapters.paper.venue import PaperVenue
from models.venue import AuthError, VenueError
from models.market import Side
from models.orders import Action, OrderRequest

PLANTED_KEY_ID = "planted-key-id-6b1f0c2e-7d9a-4e55-9c3b-SECRET"
NOW = datetime(2026, 1, 12, 20, 0, 0, 123000, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def key():
    return generate_test_key()


@pytest.fixture
def key_file(key, tmp_path):
    return write_test_key(key, tmp_path / "kalshi.pem")


@pytest.fixture
def credentials(key_file):
    return KalshiCredentials.load(PLANTED_KEY_ID, key_file)


@pytest.fixture
def log_lines():
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="TRACE", format="{level} {message}", diagnose=True,
                      backtrace=True)
    yield lines
    logger.remove(sink)


def pem_fragments(key_file) -> list[str]:
    """Every base64 line of the PEM body: none of them may show up anywhere."""
    return [line for line in key_file.read_text().splitlines() if line and not line.startswith("-----")]


def verify_strict(public_key, signature_b64: str, message: bytes) -> None:
    """Kalshi's parameters spelled out independently: PSS, MGF1-SHA256, salt = 32 (SHA-256 digest)."""
    public_key.verify(
        base64.b64decode(signature_b64), message,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256(),
    )


def test_the_message_is_timestamp_method_and_path_without_the_query():
    message = message_to_sign(1768248000123, "get", "/trade-api/v2/portfolio/orders?limit=5&cursor=abc")
    assert message == b"1768248000123GET/trade-api/v2/portfolio/orders"


def test_timestamp_is_exact_milliseconds_since_the_epoch():
    assert timestamp_ms(NOW) == 1768248000123
    with pytest.raises(ValueError):
        timestamp_ms(datetime(2026, 1, 12))


def test_signature_verifies_with_the_public_key_and_kalshi_parameters(key, credentials):
    path = "/trade-api/v2/portfolio/balance"
    signature = credentials.sign(1768248000123, "GET", path)
    verify_strict(key.public_key(), signature, b"1768248000123GET/trade-api/v2/portfolio/balance")


def test_signature_does_not_cover_another_method_path_or_time(key, credentials):
    signature = credentials.sign(1768248000123, "GET", "/trade-api/v2/portfolio/balance")
    for message in (b"1768248000124GET/trade-api/v2/portfolio/balance",
                    b"1768248000123POST/trade-api/v2/portfolio/balance",
                    b"1768248000123GET/trade-api/v2/portfolio/orders"):
        with pytest.raises(InvalidSignature):
            verify_strict(key.public_key(), signature, message)


def test_headers_carry_key_id_clock_timestamp_and_a_signature_of_the_bare_path(key, credentials):
    headers = credentials.headers(VirtualClock(NOW), "delete", "/trade-api/v2/portfolio/orders/abc?subaccount=0")
    assert headers[HEADER_KEY] == PLANTED_KEY_ID
    assert headers[HEADER_TIMESTAMP] == "1768248000123"
    verify_strict(key.public_key(), headers[HEADER_SIGNATURE], b"1768248000123DELETE/trade-api/v2/portfolio/orders/abc")
    assert verify_signature(key.public_key(), headers[HEADER_SIGNATURE], "1768248000123", "DELETE",
                            "/trade-api/v2/portfolio/orders/abc")
    assert not verify_signature(key.public_key(), headers[HEADER_SIGNATURE], "1768248000124", "DELETE",
                                "/trade-api/v2/portfolio/orders/abc")


def test_a_signature_from_another_key_does_not_verify(credentials):
    other = generate_test_key()
    signature = credentials.sign(1, "GET", "/trade-api/v2/markets")
    assert not verify_signature(other.public_key(), signature, "1", "GET", "/trade-api/v2/markets")
    assert not verify_signature(other.public_key(), "not base64!", "1", "GET", "/trade-api/v2/markets")


def test_repr_and_str_hide_the_key_id_and_key(credentials, key_file):
    for text in (repr(credentials), str(credentials), f"{credentials}", repr([credentials])):
        assert PLANTED_KEY_ID not in text
        assert "redacted" in text
        assert not any(fragment in text for fragment in pem_fragments(key_file))
    with pytest.raises(TypeError):
        pickle.dumps(credentials)
    assert not hasattr(credentials, "__dict__")


def test_missing_environment_variables_are_named(key_file):
    with pytest.raises(CredentialsError, match="KALSHI_KEY_ID and KALSHI_PRIVATE_KEY_PATH"):
        KalshiCredentials.from_env({})
    with pytest.raises(CredentialsError, match="KALSHI_PRIVATE_KEY_PATH") as info:
        KalshiCredentials.from_env({"KALSHI_KEY_ID": PLANTED_KEY_ID})
    assert PLANTED_KEY_ID not in str(info.value)
    creds = KalshiCredentials.from_env({"KALSHI_KEY_ID": PLANTED_KEY_ID, "KALSHI_PRIVATE_KEY_PATH": str(key_file)})
    assert isinstance(creds, KalshiCredentials)


def test_an_unreadable_or_garbled_key_file_is_a_clear_error_without_its_content(tmp_path):
    with pytest.raises(CredentialsError, match="cannot read the key file"):
        KalshiCredentials.load(PLANTED_KEY_ID, tmp_path / "absent.pem")
    garbled = tmp_path / "garbled.pem"
    garbled.write_text("-----BEGIN PRIVATE KEY-----\nTOPSECRETBYTES0123456789\n-----END PRIVATE KEY-----\n")
    garbled.chmod(0o600)
    with pytest.raises(CredentialsError, match="not an unencrypted RSA private key") as info:
        KalshiCredentials.load(PLANTED_KEY_ID, garbled)
    assert "TOPSECRETBYTES" not in str(info.value) and PLANTED_KEY_ID not in str(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is None  # no library error chained


def test_a_key_file_readable_by_others_is_warned_about(key, tmp_path, log_lines):
    write_test_key(key, tmp_path / "loose.pem", mode=0o644)
    KalshiCredentials.load(PLANTED_KEY_ID, tmp_path / "loose.pem")
    assert any("WARNING" in line and "readable by group or others" in line and "644" in line for line in log_lines)
    log_lines.clear()
    write_test_key(key, tmp_path / "tight.pem", mode=0o600)
    KalshiCredentials.load(PLANTED_KEY_ID, tmp_path / "tight.pem")
    assert not any("readable" in line for line in log_lines)


def test_secrets_never_reach_logs_or_exception_messages(key, key_file, log_lines):
    """A whole session against the fake, including failures, with every log level captured."""
    clock = VirtualClock(NOW)
    paper = PaperVenue(clock, name="paper")
    paper.set_book("KXSEC-1", [(Decimal("0.40"), 10)], [(Decimal("0.45"), 10)])
    fake = FakeKalshi(paper, key.public_key(), PLANTED_KEY_ID, clock)
    credentials = KalshiCredentials.load(PLANTED_KEY_ID, key_file)
    wrong = KalshiCredentials(PLANTED_KEY_ID, generate_test_key())
    errors: list[BaseException] = []

    async def no_sleep(_: float) -> None:
        return None

    with serve_fake_kalshi(fake) as running:
        for creds in (credentials, wrong):
            client = KalshiClient(running.base_url, creds, clock, sleep=no_sleep, rng=random.Random(7),
                                  retry=RetryPolicy(read_attempts=2, rate_limit_attempts=2))
            with KalshiVenue(client) as venue:
                assert PLANTED_KEY_ID not in repr(venue) + repr(client)
                fake.fail_next(503, 1)
                fake.fail_next(429, 1)
                fake.drop_next(1)
                for call in (lambda: venue.get_quotes(["KXSEC-1"]),
                             lambda: venue.get_balance(),
                             lambda: venue.place_order(OrderRequest("sec-1", "KXSEC-1", Side.YES, Action.BUY, 1,
                                                                    Decimal("0.45"))),
                             lambda: venue.cancel_order("UNKNOWN")):
                    try:
                        call()
                    except VenueError as exc:
                        errors.append(exc)
    assert any(isinstance(e, AuthError) for e in errors), "the wrong key must have been refused"
    texts = log_lines + [f"{e!r} {e} {e.__cause__!r}" for e in errors]
    assert log_lines, "the session must have logged something for this test to mean anything"
    for text in texts:
        assert PLANTED_KEY_ID not in text
        assert not any(fragment in text for fragment in pem_fragments(key_file))
