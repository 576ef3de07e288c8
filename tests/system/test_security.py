"""Security, end to end: a planted private key and key id never appear in any output.

A freshly generated RSA key (PEM file) and a distinctive key id are planted through
KALSHI_KEY_ID / KALSHI_PRIVATE_KEY_PATH; the commands that use them (`quote`, `positions`,
`live`) run through app.main against the loopback fake Kalshi, one that refuses the key, and
an address where nothing listens. Everything they leave is scanned: stdout, stderr (which
carries loguru's console at DEBUG), the audit file, the database files and traceback text.
Also: a key file readable by group or others is warned about, production needs
--confirm-prod, and loguru never prints variable values (diagnose=False) in a traceback.
"""
from __future__ import annotations

import json
import secrets
import socket
import sys
import traceback
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pykka
import pytest
from loguru import logger

from adapters.cli import app
from actors.clock import WallClock
from adapters.audit.log import Audit, configure_logging
from models.audit_events import Alert
from adapters.kalshi.auth import CredentialsError, KalshiCredentials
from tests.fakes.kalshi_server import FakeKalshi, generate_test_key, serve_fake_kalshi, write_test_key
from adapters.paper.venue import PaperVenue

KEY_ID = f"planted-key-id-{secrets.token_hex(8)}"
TICKER = "KXNBAGAME-26JAN11LALBOS-BOS"
D = Decimal


def _now_iso() -> str:
    """Signals are dated when written: a live run refuses one older than signals.max_age_secs."""
    return datetime.now(timezone.utc).isoformat()


@pytest.fixture(scope="module")
def key():
    return generate_test_key()


@pytest.fixture(autouse=True)
def restore_logging():
    """app.main reconfigures loguru; give later tests loguru's default stderr sink back."""
    yield
    logger.remove()
    logger.add(sys.stderr)


def secrets_in(key_path: Path) -> list[str]:
    """The key id and every line of the PEM body (and its armour)."""
    body = [ln.strip() for ln in key_path.read_text(encoding="ascii").splitlines()]
    assert len(body) > 20, "a 2048-bit PEM has about 26 lines"
    return [KEY_ID, "-----BEGIN PRIVATE KEY-----"] + [ln for ln in body if ln and not ln.startswith("-----")]


def assert_clean(blob: str | bytes, where: str, planted: list[str]) -> None:
    for secret in planted:
        needle = secret.encode() if isinstance(blob, bytes) else secret
        assert needle not in blob, f"{where} contains a planted secret ({secret[:12]}...)"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def kalshi(tmp_path, key, monkeypatch):
    """A fake Kalshi (wall clock) knowing KEY_ID and the planted key, with one market; the
    environment points at it. Yields (fake, key_path, paper)."""
    clock = WallClock()
    paper = PaperVenue(clock, name="fake-kalshi-book", starting_balance=D("1000"))
    paper.set_book(TICKER, [(D("0.48"), 200)], [(D("0.50"), 200)], volume=1000)
    fake = FakeKalshi(paper, key.public_key(), KEY_ID, clock, max_clock_skew=timedelta(seconds=5))
    key_path = write_test_key(key, tmp_path / "planted.pem")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with serve_fake_kalshi(fake) as running:
        monkeypatch.setenv("KALSHI_API_BASE", running.base_url)
        monkeypatch.setenv("KALSHI_KEY_ID", KEY_ID)
        monkeypatch.setenv("KALSHI_PRIVATE_KEY_PATH", str(key_path))
        yield fake, key_path, paper
    leaked = pykka.ActorRegistry.get_all()
    if leaked:
        pykka.ActorRegistry.stop_all(block=True, timeout=10)
        pytest.fail(f"pykka actors left running: {sorted({r.actor_class.__name__ for r in leaked})}")


# ---- every output of the commands that use the key ------------------------------------------------

@pytest.mark.parametrize("venue", ["the fake", "a fake that refuses the key", "nothing listening"])
@pytest.mark.parametrize("command", [["quote", TICKER], ["positions"]])
def test_commands_that_use_the_key_never_print_it(kalshi, tmp_path, monkeypatch, capsys, command, venue):
    fake, key_path, _ = kalshi
    if venue == "a fake that refuses the key":
        monkeypatch.setenv("KALSHI_PRIVATE_KEY_PATH", str(write_test_key(generate_test_key(1024), tmp_path / "x.pem")))
    elif venue == "nothing listening":
        monkeypatch.setenv("KALSHI_API_BASE", f"http://127.0.0.1:{closed_port()}/trade-api/v2")
    code = app.main(["-v", *command, "--venue", "kalshi"])
    out, err = capsys.readouterr()
    assert code == {"the fake": 0, "a fake that refuses the key": 2, "nothing listening": 1}[venue], err
    if venue == "a fake that refuses the key":
        assert "refused the credentials" in err
    for text, where in ((out, "stdout"), (err, "stderr")):
        assert_clean(text, f"{' '.join(command)} against {venue}: {where}", secrets_in(key_path))
    assert "Traceback" not in err


def test_a_live_run_leaves_the_key_in_no_output_file_or_log(kalshi, tmp_path, capsys):
    fake, key_path, paper = kalshi
    signals = tmp_path / "signals.jsonl"
    signals.write_text(json.dumps({
        "type": "signal", "ts": _now_iso(), "signal_id": "sec-1", "ticker": TICKER, "side": "yes",
        "signal_type": "default", "win_probability": "0.90", "market_price": "0.50", "game_id": "G1",
        "sport": "nba", "contracts": 5}) + "\n{not json\n", encoding="utf-8")
    db, audit = tmp_path / "live.db", tmp_path / "live-audit.jsonl"

    code = app.main(["live", "-v", "--duration-s", "1", "--signals", str(signals), "--no-auto-signals",
                     "--db", str(db), "--audit", str(audit)])

    out, err = capsys.readouterr()
    assert code == 0, err
    planted = secrets_in(key_path)
    # The run did real work (signed requests, a position, audit lines, rows), so the scan means something.
    assert any(e.path.endswith("/portfolio/orders") for e in fake.exchanges if e.method == "POST")
    assert "TRADE_EXECUTED" in audit.read_text(encoding="utf-8") and "skipped" in err
    assert_clean(out, "live stdout", planted)
    assert_clean(err, "live stderr (loguru console at DEBUG)", planted)
    assert_clean(audit.read_bytes(), "the audit file", planted)
    files = [p for p in tmp_path.iterdir() if p.name.startswith(db.name)]
    assert db in files
    for path in files:
        assert_clean(path.read_bytes(), f"database file {path.name}", planted)


# ---- tracebacks -----------------------------------------------------------------------------------

def test_loguru_tracebacks_show_no_variable_values_on_any_sink(tmp_path, key):
    """diagnose=False on every sink configure_logging adds: locals holding secrets are not
    printed in a traceback. A control sink with diagnose=True, fed the same record, shows
    that they would be (so the scan can fail)."""
    key_path = write_test_key(key, tmp_path / "planted.pem")
    planted = secrets_in(key_path)
    console, control, audit_path = StringIO(), StringIO(), tmp_path / "audit.jsonl"
    configure_logging(audit_path, stream=console, verbose=True)
    logger.add(control, diagnose=True, backtrace=False, filter=lambda r: "audit" not in r["extra"])

    def sign_with(key_id: str, pem_line: str) -> None:
        raise RuntimeError(f"the signer failed ({len(key_id)}-character id, {len(pem_line)}-character line)")

    key_id, pem_line = KEY_ID, planted[2]
    try:
        sign_with(key_id, pem_line)
    except RuntimeError:
        logger.exception("signing failed")
        logger.bind(audit={"event": "ALERT", "message": "x"}).exception("signing failed (audit)")
    Audit(WallClock()).emit(Alert(said="after the failure", detail="nothing secret"))
    assert KEY_ID in control.getvalue() and pem_line in control.getvalue(), "the control sink shows locals"
    text = console.getvalue()
    assert "Traceback" in text and "RuntimeError: the signer failed" in text and "sign_with" in text
    assert_clean(text, "the console traceback", planted)
    assert_clean(audit_path.read_bytes(), "the audit file", planted)


def test_a_bad_key_file_fails_with_a_traceback_that_holds_none_of_it(tmp_path, key):
    good = write_test_key(key, tmp_path / "planted.pem")
    lines = good.read_text(encoding="ascii").splitlines()
    broken = tmp_path / "broken.pem"
    broken.write_text("\n".join(lines[:5] + lines[6:]) + "\n", encoding="ascii")   # one body line missing
    broken.chmod(0o600)
    with pytest.raises(CredentialsError) as info:
        KalshiCredentials.from_env({"KALSHI_KEY_ID": KEY_ID, "KALSHI_PRIVATE_KEY_PATH": str(broken)})
    text = "".join(traceback.format_exception(info.value))
    assert str(broken) in text and "not an unencrypted RSA private key" in text
    assert_clean(text, "the credentials error's traceback", secrets_in(good))


# ---- the key file's permissions ----------------------------------------------------------------------

@pytest.mark.parametrize("mode, warned", [(0o600, False), (0o400, False), (0o640, True), (0o604, True),
                                          (0o644, True)])
def test_a_key_file_readable_by_group_or_others_is_warned_about(kalshi, tmp_path, monkeypatch, capsys, key,
                                                               mode, warned):
    path = write_test_key(key, tmp_path / f"key-{mode:o}.pem", mode=mode)
    monkeypatch.setenv("KALSHI_PRIVATE_KEY_PATH", str(path))
    assert app.main(["quote", TICKER, "--venue", "kalshi"]) == 0
    err = capsys.readouterr().err
    warning = [ln for ln in err.splitlines() if "readable by group or others" in ln]
    assert bool(warning) is warned, err
    if warned:
        assert "WARNING" in warning[0] and str(path) in warning[0] and f"mode {mode:o}" in warning[0]
        assert "chmod 600" in warning[0]
    assert_clean(err, "the permission warning", secrets_in(path))


# ---- production needs its explicit flag -----------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["quote", TICKER, "--venue", "kalshi", "--env", "prod"],
    ["positions", "--venue", "kalshi", "--env", "prod"],
    ["live", "--env", "prod", "--duration-s", "0"],
    # Confirmed, but KALSHI_API_BASE (the fake) is not production: refused rather than guessed.
    ["live", "--env", "prod", "--confirm-prod", "--duration-s", "0"],
])
def test_production_needs_env_prod_and_confirm_prod_and_nothing_is_sent_without(kalshi, tmp_path, capsys, argv):
    fake, _, _ = kalshi
    if argv[0] == "live":
        argv = [*argv, "--db", str(tmp_path / "x.db"), "--audit", str(tmp_path / "x.jsonl")]
    code = app.main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert ("--confirm-prod" in err and "real money" in err) if "--confirm-prod" not in argv else "unset one" in err
    assert fake.exchanges == [], "a request was sent before the production check"
    assert not (tmp_path / "x.db").exists()
