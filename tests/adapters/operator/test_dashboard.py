"""The dashboard in a real browser: headless Chromium loads the page of a paper run stopped with
a position open, runs its script, and the DOM it built shows the open position, its price chart,
the recent decisions, and (following the link) the position's timeline. Skips, saying why, when
no Chromium is installed (.ci/run installs Debian's `chromium`)."""
from __future__ import annotations

import os
import shutil
import subprocess
import urllib.error
import urllib.request

import pytest

from adapters.cli.read_options import EngineFiles
from adapters.operator.dashboard import Dashboard, DashboardServer
from config.loader import load_config
from tests.paper_files import paper_files

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _browser() -> str | None:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def headless(url: str, *extra: str) -> subprocess.CompletedProcess:
    browser = _browser()
    if browser is None:
        pytest.skip("no Chromium found (apt-get install chromium; .ci/run installs it where missing)")
    args = [browser, "--headless", "--disable-gpu", "--no-first-run", "--disable-extensions",
            "--virtual-time-budget=4000", *extra, url]
    if os.geteuid() == 0:
        args.insert(1, "--no-sandbox")             # Chromium refuses to run as root with its sandbox
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    files = paper_files(tmp_path_factory.mktemp("dash"), minutes=116)
    s = DashboardServer(Dashboard(EngineFiles(str(files.db), files.audit, load_config(None)), refresh_secs=2)).start()
    yield s, files
    s.stop()


def test_chromium_shows_the_open_position_its_chart_and_the_recent_decisions(server):
    s, _ = server
    dom = headless(s.url + "/", "--dump-dom").stdout
    assert "loading…" not in dom, "the page's script did not load its panel"
    assert "data-loaded=" in dom
    assert "data-position-id=\"pos-sim-nfl-nyj-at-buf-8-sig-015\"" in dom
    assert ">SIM-NFL-NYJATBUF</a>" in dom and ">43/85<" in dom
    assert "partial_exit_target (MEDIUM) order 0.40 walk 0" in dom
    assert "<svg" in dom and ">trailing stop</text>" in dom
    assert "id=\"decisions\"" in dom and "ORDER_PLACED" in dom
    assert "Engine: stopped (clean stop" in dom


def test_chromium_follows_a_position_to_its_timeline(server):
    s, _ = server
    dom = headless(s.url + "/timeline/pos-sim-nfl-nyj-at-buf-8-sig-015", "--dump-dom").stdout
    assert "<pre id=\"timeline\">" in dom
    for text in ("SIGNAL_RECEIVED", "TRADE_EXECUTED", "OPENED 85 at 0.3100", "sell 21 placed 0.40"):
        assert text in dom


def test_it_is_read_only_on_the_loopback_only(server):
    s, _ = server
    assert s.url.startswith("http://127.0.0.1:")
    for method in ("POST", "PUT", "DELETE"):
        req = urllib.request.Request(s.url + "/api/status", data=b"{}", method=method)
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(req, timeout=10)
        assert info.value.code == 405
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(s.url + "/timeline/pos-nope", timeout=10)
    assert info.value.code == 404
    with urllib.request.urlopen(s.url + "/", timeout=10) as resp:
        assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
