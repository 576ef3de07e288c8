"""The live dashboard: a read-only web page on 127.0.0.1 (aiohttp) showing what `status` shows,
the open positions' price charts and the recent decisions; a position links to its timeline.

Only GET routes exist (any other method is 405, any other path 404), nothing is written, and it
reads the database and the audit log like `status`, so it runs beside the engine or on a
finished run's files. The page loads its panel with a small script from /static/refresh.js and
reloads it every `refresh_secs` (without scripts, a meta refresh does the same). Every value
shown is HTML-escaped; a Content-Security-Policy allows only this origin's script.

Routes: /  (the page), /panel (its live part), /timeline/{position_id}, /api/status,
/api/timeline/{position_id}, /static/refresh.js.
"""
from __future__ import annotations

import asyncio
import json
import threading
from collections import deque
from datetime import datetime, timezone
from decimal import Decimal
from html import escape
from typing import Any, Callable

from aiohttp import web

from adapters.audit.files import read_events
from adapters.audit.log import EVENTS, to_jsonable
from adapters.cli.read_options import EngineFiles, ReadInputError, open_repository
from adapters.operator.report_view import _price_paths, position_chart
from adapters.operator.status_view import build_status
from adapters.operator.timeline_view import PositionNotFound, build_timeline, find_position, format_timeline
from models.money import fmt_money

DECISIONS = tuple(e for e in EVENTS if e != "HEARTBEAT")
RECENT = 40
_CSP = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:"
_CSS = ("body{font:14px sans-serif;margin:20px;color:#222;max-width:1100px}table{border-collapse:collapse}"
        "td,th{padding:2px 8px;border-bottom:1px solid #eee;text-align:left;font-size:13px}.ok{color:#2e7d32}"
        ".bad{color:#c62828;font-weight:bold}.muted{color:#777}pre{font-size:12px;white-space:pre-wrap}")
_SCRIPT = """(function () {
  var panel = document.getElementById('panel');
  var every = parseInt(panel.getAttribute('data-refresh-secs'), 10) * 1000;
  function load() {
    fetch('/panel', {cache: 'no-store'}).then(function (r) { return r.text(); })
      .then(function (html) { panel.innerHTML = html; panel.setAttribute('data-loaded', new Date().toISOString()); })
      .catch(function () { panel.setAttribute('data-error', 'unreachable'); });
  }
  load();
  setInterval(load, every);
})();
"""


def _money(v: Any) -> str:
    return "-" if v is None else escape(fmt_money(Decimal(v)))


def _price(v: Any) -> str:
    return "-" if v is None else f"{Decimal(v):.2f}"


def _stale(p: dict[str, Any]) -> str:
    """A position whose market has had no current quote past the limit: STALE, and why."""
    why = p.get("quote_stale")
    return "" if not why else f" <b class='bad' title='{escape(why)}'>STALE</b>"


def _page(title: str, body: str, *, refresh_secs: int | None = None) -> str:
    meta = f"<noscript><meta http-equiv='refresh' content='{refresh_secs}'></noscript>" if refresh_secs else ""
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>{meta}"
            f"<style>{_CSS}</style></head><body>{body}</body></html>")


class Dashboard:
    def __init__(self, files: EngineFiles, *, refresh_secs: int = 5, now: Callable[[], datetime] | None = None) -> None:
        self.files = files
        self.refresh_secs = refresh_secs
        self.now = now or (lambda: datetime.now(timezone.utc))

    # reads (blocking; run in the executor) ------------------------------------------------
    def status(self) -> dict[str, Any]:
        with open_repository(self.files.db) as repo:
            return build_status(repo, self.files.audit, self.files.config, self.now())

    def panel_html(self) -> str:
        with open_repository(self.files.db) as repo:
            s = build_status(repo, self.files.audit, self.files.config, self.now())
            open_positions = repo.load_open_positions()
            marks, trails, fills = _price_paths(self.files.audit, {p.position_id for p in open_positions})
            charts = {p.position_id: position_chart(p, self.files.config, marks.get(p.position_id, []),
                                                    trails.get(p.position_id, []), fills.get(p.position_id, []))
                      for p in open_positions}
        recent: deque[dict[str, Any]] = deque(maxlen=RECENT)
        for r in read_events(self.files.audit, DECISIONS):
            recent.append(r)
        e = s["engine"]
        alive = e["verdict"] == "alive"
        parts = [f"<p id='engine' class='{'ok' if alive else 'bad'}'>Engine: {escape(e['text'])}</p><ul>"]
        if s["breaker"] is not None:
            parts.append(f"<li>Circuit breaker: <span class='{'bad' if s['breaker'] else 'ok'}'>"
                         f"{escape('TRIPPED: ' + s['breaker']) if s['breaker'] else 'ok'}</span></li>")
        if s["calls_last_minute"] is not None:
            parts.append(f"<li>Venue calls in the last minute: {s['calls_last_minute']} of {s['calls_per_minute']}</li>")
        if s.get("entries_paused"):
            parts.append(f"<li class='bad'>New entries PAUSED ({escape(str(s['entries_paused']))})</li>")
        for name, a in sorted((s.get("alerts") or {}).items()):
            parts.append(f"<li>Alerts {escape(name)}: sent {a.get('sent', 0)}, failed {a.get('failed', 0)}, "
                         f"dropped {a.get('dropped', 0)}</li>")
        parts.append(f"</ul><h2>Open positions ({len(s['positions'])})</h2>")
        if s["positions"]:
            parts.append("<table id='positions'><tr><th>market</th><th>side</th><th>held</th><th>entry</th><th>mark</th>"
                         "<th>unrealized</th><th>stop</th><th>trail</th><th>next stage</th><th>quote age</th>"
                         "<th>exit in flight</th></tr>")
            for p in s["positions"]:
                f = p["exit_in_flight"]
                flight = "-" if f is None else escape(f"{f['condition']} ({f['priority']}) order "
                                                      f"{_price(f['order_price'])} walk {f['walk']}")
                stage = "-" if p["next_stage"] is None else f"#{p['next_stage']} at {_price(p['next_stage_price'])}"
                pid = escape(p["position_id"])
                parts.append(
                    f"<tr class='position' data-position-id='{pid}'><td><a href='/timeline/{pid}'>{escape(p['market'])}"
                    f"</a></td><td>{escape(p['side'].upper())}</td><td>{p['contracts']}/{p['initial_contracts']}</td>"
                    f"<td>{_price(p['entry_price'])}</td><td>{_price(p['mark'])}</td><td>{_money(p['unrealized_pnl'])}</td>"
                    f"<td>{_price(p['stop_price'])}</td><td>{_price(p['trailing_stop'])}</td><td>{stage}</td>"
                    f"<td>{'-' if p['quote_age_s'] is None else str(p['quote_age_s']) + ' s'}{_stale(p)}</td>"
                    f"<td>{flight}</td></tr>")
            parts.append("</table>")
            parts += [f"<div class='chart'>{charts[p['position_id']]}</div>" for p in s["positions"]]
        else:
            parts.append("<p class='muted'>none</p>")
        parts.append(f"<h2>Recent decisions (last {RECENT})</h2><table id='decisions'>")
        for r in reversed(recent):
            pid = r.get("position_id")
            link = f" <a href='/timeline/{escape(pid)}'>timeline</a>" if pid else ""
            parts.append(f"<tr><td class='muted'>{escape(str(r['ts'])[:19])}</td><td>{escape(r['event'])}</td>"
                         f"<td>{escape(str(r.get('message', '')))}{link}</td></tr>")
        parts.append("</table>")
        return "".join(parts)

    def timeline(self, pid: str) -> tuple[dict[str, Any], str]:
        with open_repository(self.files.db) as repo:
            position = find_position(repo, pid)
            t = build_timeline(repo, self.files.audit, position)
            marks, trails, fills = _price_paths(self.files.audit, {position.position_id})
            chart = position_chart(position, self.files.config, marks.get(position.position_id, []),
                                   trails.get(position.position_id, []), fills.get(position.position_id, []))
        return t, chart

    # handlers -----------------------------------------------------------------------------
    async def _blocking(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)

    async def index(self, request: web.Request) -> web.Response:
        body = (f"<h1>Arbees</h1><p class='muted'>read-only; {escape(str(self.files.db))}, "
                f"{escape(str(self.files.audit))}; refreshed every {self.refresh_secs} s</p>"
                f"<div id='panel' data-refresh-secs='{self.refresh_secs}'>loading…</div>"
                "<script src='/static/refresh.js'></script>")
        return self._html(_page("Arbees dashboard", body, refresh_secs=self.refresh_secs))

    async def panel(self, request: web.Request) -> web.Response:
        try:
            return self._html(await self._blocking(self.panel_html))
        except ReadInputError as exc:
            return self._html(f"<p class='bad'>{escape(str(exc))}</p>", status=503)

    async def timeline_page(self, request: web.Request) -> web.Response:
        pid = request.match_info["position_id"]
        try:
            t, chart = await self._blocking(self.timeline, pid)
        except PositionNotFound as exc:
            return self._html(_page("not found", f"<p>{escape(str(exc))}</p>"), status=404)
        except ReadInputError as exc:
            return self._html(_page("unavailable", f"<p class='bad'>{escape(str(exc))}</p>"), status=503)
        body = (f"<p><a href='/'>back</a></p><h1>{escape(t['position']['position_id'])}</h1>"
                f"<div class='chart'>{chart}</div><pre id='timeline'>{escape(format_timeline(t))}</pre>")
        return self._html(_page(f"timeline {t['position']['position_id']}", body))

    async def api_status(self, request: web.Request) -> web.Response:
        try:
            return self._json(await self._blocking(self.status))
        except ReadInputError as exc:
            return self._json({"error": str(exc)}, status=503)

    async def api_timeline(self, request: web.Request) -> web.Response:
        try:
            t, _ = await self._blocking(self.timeline, request.match_info["position_id"])
        except PositionNotFound as exc:
            return self._json({"error": str(exc)}, status=404)
        return self._json(t)

    async def script(self, request: web.Request) -> web.Response:
        return web.Response(text=_SCRIPT, content_type="application/javascript", headers=self._headers())

    def _headers(self) -> dict[str, str]:
        return {"Content-Security-Policy": _CSP, "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
                "Referrer-Policy": "no-referrer"}

    def _html(self, text: str, status: int = 200) -> web.Response:
        return web.Response(text=text, content_type="text/html", status=status, headers=self._headers())

    def _json(self, value: Any, status: int = 200) -> web.Response:
        return web.Response(text=json.dumps(to_jsonable(value)), content_type="application/json", status=status,
                            headers=self._headers())

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self.index)
        app.router.add_get("/panel", self.panel)
        app.router.add_get("/timeline/{position_id}", self.timeline_page)
        app.router.add_get("/api/status", self.api_status)
        app.router.add_get("/api/timeline/{position_id}", self.api_timeline)
        app.router.add_get("/static/refresh.js", self.script)
        return app


class DashboardServer:
    """The dashboard on 127.0.0.1 in a thread of its own (its own event loop); port 0 picks one."""

    def __init__(self, dashboard: Dashboard, port: int = 0) -> None:
        self.dashboard = dashboard
        self.port = port
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="dashboard", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "DashboardServer":
        self._thread.start()
        self._ready.wait(15)
        if self._error is not None:
            raise self._error
        return self

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._runner = web.AppRunner(self.dashboard.app(), access_log=None)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", self.port)
            self._loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]   # noqa: SLF001 - the port chosen
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def wait(self) -> None:
        self._thread.join()


__all__ = ["Dashboard", "DashboardServer"]
