"""Kalshi request signing: the API key id and RSA private key, loaded once, and the three headers.

Kalshi authenticates each request with an RSA-PSS signature (SHA-256, MGF1-SHA256, salt length =
digest length) over `timestamp_ms + METHOD + path`, where path starts with `/trade-api/v2` and
carries no query string; the body is not signed. The headers are KALSHI-ACCESS-KEY,
KALSHI-ACCESS-TIMESTAMP and KALSHI-ACCESS-SIGNATURE (base64).

Secrets stay inside KalshiCredentials: its repr/str never show the key id or the key, no log line
or exception message here contains either, and the PEM bytes are dropped as soon as the key is
parsed. Timestamps come from an injected clock, never from the system time directly.
"""
from __future__ import annotations

import base64
import os
import stat
from datetime import datetime, timezone, timedelta
from pathlib import Path
from typing import Mapping

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from loguru import logger

from actors.clock import Clock
from models.venue import AuthError

KEY_ID_ENV = "KALSHI_KEY_ID"
KEY_PATH_ENV = "KALSHI_PRIVATE_KEY_PATH"

HEADER_KEY = "KALSHI-ACCESS-KEY"
HEADER_TIMESTAMP = "KALSHI-ACCESS-TIMESTAMP"
HEADER_SIGNATURE = "KALSHI-ACCESS-SIGNATURE"

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)


class CredentialsError(AuthError):
    """The Kalshi credentials are missing or unusable. The message names the environment
    variable or file at fault, never the key id or the key."""


def pss_padding() -> padding.PSS:
    """The padding Kalshi expects; shared by the signer and the fake server's verifier."""
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)


def message_to_sign(timestamp_ms: int | str, method: str, path: str) -> bytes:
    """`timestamp_ms + METHOD + path`, the path cut at its query string."""
    return f"{timestamp_ms}{method.upper()}{path.split('?', 1)[0]}".encode("utf-8")


def timestamp_ms(now: datetime) -> int:
    """Milliseconds since the epoch, computed exactly (no float)."""
    if now.tzinfo is None:
        raise ValueError("timestamp_ms needs a timezone-aware datetime")
    return (now - _EPOCH) // _MS


class KalshiCredentials:
    """The API key id and private key. Build with `from_env` or `load`; sign with `headers`."""

    __slots__ = ("_key_id", "_private_key")

    def __init__(self, key_id: str, private_key: rsa.RSAPrivateKey) -> None:
        if not key_id or not key_id.strip():
            raise CredentialsError(f"{KEY_ID_ENV}: the API key id is empty")
        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise CredentialsError(f"{KEY_PATH_ENV}: expected an RSA private key")
        self._key_id = key_id.strip()
        self._private_key = private_key

    @classmethod
    def load(cls, key_id: str, key_path: str | os.PathLike[str]) -> "KalshiCredentials":
        """Read the PEM file once; warn when group or others can read it."""
        path = Path(key_path).expanduser()
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            raise CredentialsError(f"{KEY_PATH_ENV}: cannot read the key file {path} ({exc.strerror})") from None
        if not stat.S_ISREG(mode):
            raise CredentialsError(f"{KEY_PATH_ENV}: {path} is not a regular file")
        if mode & 0o077:
            logger.warning(
                "Kalshi private key file {} is readable by group or others (mode {:o}); run chmod 600 on it",
                path, stat.S_IMODE(mode),
            )
        try:
            pem = path.read_bytes()
        except OSError as exc:
            raise CredentialsError(f"{KEY_PATH_ENV}: cannot read the key file {path} ({exc.strerror})") from None
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            # `from None`: the library error is not needed, and the PEM stays out of any traceback.
            key = None
        finally:
            del pem
        if not isinstance(key, rsa.RSAPrivateKey):
            raise CredentialsError(
                f"{KEY_PATH_ENV}: {path} is not an unencrypted RSA private key in PEM format"
            )
        return cls(key_id, key)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> "KalshiCredentials":
        """From KALSHI_KEY_ID and KALSHI_PRIVATE_KEY_PATH; a clear CredentialsError when unset."""
        missing = [name for name in (KEY_ID_ENV, KEY_PATH_ENV) if not environ.get(name, "").strip()]
        if missing:
            raise CredentialsError(
                f"Kalshi credentials missing: set {' and '.join(missing)} "
                f"(the API key id and the path of its RSA private key PEM file)"
            )
        return cls.load(environ[KEY_ID_ENV], environ[KEY_PATH_ENV].strip())

    def sign(self, timestamp_ms: int, method: str, path: str) -> str:
        """Base64 RSA-PSS signature of `timestamp_ms + METHOD + path` (query removed)."""
        signature = self._private_key.sign(message_to_sign(timestamp_ms, method, path), pss_padding(), hashes.SHA256())
        return base64.b64encode(signature).decode("ascii")

    def headers(self, clock: Clock, method: str, path: str) -> dict[str, str]:
        """The three authentication headers for one request, timestamped by `clock`."""
        ts = timestamp_ms(clock.now())
        return {
            HEADER_KEY: self._key_id,
            HEADER_TIMESTAMP: str(ts),
            HEADER_SIGNATURE: self.sign(ts, method, path),
        }

    def public_key(self) -> rsa.RSAPublicKey:
        return self._private_key.public_key()

    def __repr__(self) -> str:
        return "KalshiCredentials(key_id=<redacted>, private_key=<redacted>)"

    __str__ = __repr__

    def __reduce__(self) -> object:
        raise TypeError("KalshiCredentials cannot be pickled or copied (it holds a private key)")


def verify_signature(
    public_key: rsa.RSAPublicKey, signature_b64: str, timestamp_ms_text: str, method: str, path: str
) -> bool:
    """True when the signature is Kalshi-valid for this request (used by the fake server and tests)."""
    if not timestamp_ms_text.isdigit():
        return False
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        public_key.verify(signature, message_to_sign(timestamp_ms_text, method, path), pss_padding(), hashes.SHA256())
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True
