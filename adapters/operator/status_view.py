"""What `status` (and the dashboard) show: is the engine alive, its breaker, call budget, alert
delivery, entries paused, and every open position with its exit levels and the exit in flight.

Read from the database (positions) and the audit log (HEARTBEAT, exits in flight); never the
venue. The engine's liveness comes from its HEARTBEAT (actors/heartbeat.py, every 30 s):
- "alive": the last beat is "running" and, on the wall clock, younger than 3 beats;
- "stopped": the last beat is "stopped" (a clean stop), or its process is gone;
- "not responding": a wall-clock engine whose last beat is older than 3 beats (hung, killed,
  or the machine slept);
- "no heartbeat": the log has none (never started, or written by an older version).
A virtual-time run (paper, replay) beats in market time, so its age is not compared with now.
A position's QUOTE AGE is how long ago Arbees last knew its market's book, from the last HEARTBEAT
that carries `quote_ages` (actors/price_cache_watch.py) plus the time since that beat; "STALE" and
a line saying why when the market is past monitoring.quote_stale_alert_secs. A log written before
the beat carried it gives the time of the position's last saved mark instead.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from adapters.audit.files import read_events
from adapters.kalshi.market_data import describe_market_data
from adapters.storage.repository import Repository
from adapters.storage.trade_history import unrealized
from config.schema import Config
from models.money import fmt_money
from models.pnl import price_at_pct
from models.position import PositionState

STALE_BEATS = 3
_EXIT_EVENTS = ("EXIT_ROUTED", "ORDER_PLACED", "ORDER_WALKED", "ORDER_ESCALATED", "EXIT_COMPLETED",
                "EXIT_GAVE_UP", "EXIT_PREEMPTED", "POSITION_CLOSED")
_PRICE = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class Liveness:
    verdict: str            # alive | stopped | not responding | no heartbeat
    text: str
    last: dict[str, Any] | None


def _pid_running(pid: Any) -> bool | None:
    if not isinstance(pid, int) or pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return None
    return True


def liveness(beat: dict[str, Any] | None, now: datetime) -> Liveness:
    if beat is None:
        return Liveness("no heartbeat", "no HEARTBEAT in the audit log (the engine never ran with this log, "
                                        "or an older version wrote it)", None)
    ts = datetime.fromisoformat(beat["ts"])
    if beat.get("state") == "stopped":
        return Liveness("stopped", f"stopped (clean stop at {ts.isoformat(timespec='seconds')})", beat)
    if beat.get("clock") == "virtual":
        if _pid_running(beat.get("pid")) is False:
            return Liveness("stopped", f"stopped (virtual-time run; its process is gone; last beat at market "
                                       f"time {ts.isoformat(timespec='seconds')})", beat)
        return Liveness("alive", f"alive (virtual-time run, last beat at market time "
                                 f"{ts.isoformat(timespec='seconds')})", beat)
    age = int((now - ts).total_seconds())
    interval = int(beat.get("interval_secs") or 30)
    if age <= STALE_BEATS * interval:
        return Liveness("alive", f"alive (last seen {age} s ago)", beat)
    if _pid_running(beat.get("pid")) is False:
        return Liveness("stopped", f"stopped without a clean stop (process gone; last seen {age} s ago)", beat)
    return Liveness("not responding", f"NOT RESPONDING: last seen {age} s ago (beats every {interval} s)", beat)


def _exits_in_flight(audit: Path, position_ids: set[str]) -> dict[str, dict[str, Any]]:
    flights: dict[str, dict[str, Any]] = {}
    if not position_ids:
        return flights
    for r in read_events(audit, _EXIT_EVENTS, contains=position_ids):
        pid = r.get("position_id")
        if pid not in position_ids:
            continue
        ev = r["event"]
        if ev == "EXIT_ROUTED":
            flights[pid] = {"exit_id": r.get("exit_id"), "condition": r.get("condition"),
                            "priority": r.get("priority"), "contracts": r.get("contracts"), "since": r["ts"],
                            "order_price": None, "walk": 0}
        elif ev in ("ORDER_PLACED", "ORDER_WALKED", "ORDER_ESCALATED"):
            f = flights.get(pid)
            if f is not None and f["exit_id"] == r.get("exit_id"):
                f["order_price"] = r.get("price")
                f["walk"] = r.get("walk") or f["walk"]
                f["escalated"] = ev == "ORDER_ESCALATED" or f.get("escalated", False)
        elif flights.get(pid) is not None and (ev == "POSITION_CLOSED" or flights[pid]["exit_id"] == r.get("exit_id")):
            del flights[pid]
    return flights


def position_levels(p: PositionState, config: Config) -> dict[str, Any]:
    """Stop-loss price, trailing stop (when active) and the next partial stage's price."""
    st = config.signal_type(p.signal_type)
    out: dict[str, Any] = {"stop_price": price_at_pct(p.entry_price, -st.stop_loss_pct).quantize(_PRICE),
                           "trailing_stop": p.trailing_stop_price if p.trailing_stop_active else None,
                           "next_stage": None, "next_stage_price": None}
    pe = config.partial_exits
    if pe.enabled and p.partial_stages_done < len(pe.stages):
        stage = pe.stages[p.partial_stages_done]
        out["next_stage"] = p.partial_stages_done + 1
        out["next_stage_price"] = price_at_pct(p.entry_price, stage.profit_pct).quantize(_PRICE)
    elif not pe.enabled:
        out["target_price"] = price_at_pct(p.entry_price, st.profit_target_pct).quantize(_PRICE)
    return out


def _model_since(beats: list[dict[str, Any]], pids: set[str]) -> dict[str, datetime]:
    """When each position's model probability took its current value, as the heartbeats saw it
    (to their 30 s resolution): the first beat of the latest run of equal values."""
    since: dict[str, tuple[Any, datetime]] = {}
    for b in beats:
        for m in b.get("marks") or ():
            pid = m.get("position_id") if isinstance(m, dict) else None
            if pid in pids and m.get("model_probability") is not None:
                value = Decimal(str(m["model_probability"]))
                if pid not in since or since[pid][0] != value:
                    since[pid] = (value, datetime.fromisoformat(b["ts"]))
    return {pid: ts for pid, (_, ts) in since.items()}


def _quote_ages(beats: list[dict[str, Any]], clock_now: datetime) -> tuple[dict[str, int], dict[str, str]] | None:
    """Each market's quote age now and why the stale ones are, from the last beat that carries them."""
    beat = next((b for b in reversed(beats) if isinstance(b.get("quote_ages"), dict)), None)
    if beat is None:
        return None
    since = max(0, int((clock_now - datetime.fromisoformat(beat["ts"])).total_seconds()))
    return ({t: int(a) + since for t, a in beat["quote_ages"].items()},
            dict(beat.get("quotes_stale") or {}))


def build_status(repo: Repository, audit: Path, config: Config, now: datetime) -> dict[str, Any]:
    beats = list(read_events(audit, ("HEARTBEAT",))) if audit.exists() or audit.parent.is_dir() else []
    beat = beats[-1] if beats else None
    live = liveness(beat, now)
    positions = repo.load_open_positions()
    flights = _exits_in_flight(audit, {p.position_id for p in positions})
    clock_now = now if (beat is None or beat.get("clock") != "virtual") else datetime.fromisoformat(beat["ts"])
    model_since = _model_since(beats, {p.position_id for p in positions})
    quotes = _quote_ages(beats, clock_now)
    rows = []
    for p in positions:
        u = unrealized(p)
        m_since = model_since.get(p.position_id) if p.model_probability is not None else None
        rows.append({
            "position_id": p.position_id, "market": p.ticker, "side": p.side.value, "status": p.status.value,
            "signal_type": p.signal_type, "contracts": p.contracts, "initial_contracts": p.initial_contracts,
            "entry_price": p.entry_price, "mark": p.current_price, "unrealized_pnl": u,
            "unrealized_pnl_pct": p.unrealized_pnl_pct if p.current_price is not None else None,
            **position_levels(p, config),
            "exit_in_flight": flights.get(p.position_id),
            **_quote_age(p, quotes, clock_now),
            "model_probability": p.model_probability,
            "model_probability_age_s": None if m_since is None else max(0, int((clock_now - m_since).total_seconds())),
        })
    b = beat or {}
    return {
        "now": now.isoformat(timespec="seconds"),
        "engine": {"verdict": live.verdict, "text": live.text, "last_heartbeat": b.get("ts"), "pid": b.get("pid"),
                   "clock": b.get("clock")},
        "breaker": b.get("breaker") if beat is not None else None,
        "calls_last_minute": b.get("calls_last_minute"), "calls_per_minute": b.get("calls_per_minute"),
        "entries_paused": b.get("entries_paused"),
        "alerts": b.get("alerts"),
        "market_data": _market_data(b, audit),
        "positions": rows,
    }


_FEED_EVENTS = ("STREAM_CONNECTED", "STREAM_DISCONNECTED", "STREAM_ERROR", "MARKET_STREAMED", "MARKET_POLLED")


def _market_data(beat: dict[str, Any], audit: Path) -> dict[str, Any] | None:
    """The live stream's state at the last HEARTBEAT, and its last transition (issue 13)."""
    md = beat.get("market_data")
    if not md:
        return None
    last = None
    for last in read_events(audit, _FEED_EVENTS):
        pass
    return {**md, "last_change": None if last is None else {"ts": last["ts"], "event": last["event"],
                                                             "message": last.get("message")}}


def _quote_age(p: PositionState, quotes: tuple[dict[str, int], dict[str, str]] | None,
               clock_now: datetime) -> dict[str, Any]:
    if quotes is None or p.ticker not in quotes[0]:      # an older log: the time of the last saved mark
        return {"quote_age_s": None if p.last_update is None else int((clock_now - p.last_update).total_seconds()),
                "quote_stale": None}
    return {"quote_age_s": quotes[0][p.ticker], "quote_stale": quotes[1].get(p.ticker)}


def _p(v: Any) -> str:
    return "-" if v is None else f"{Decimal(v):.2f}"


def format_status(s: dict[str, Any]) -> str:
    e = s["engine"]
    lines = [f"Engine: {e['text']}" + (f", pid {e['pid']}" if e.get("pid") else "")]
    if s["breaker"] is not None:
        lines.append(f"Circuit breaker: {'TRIPPED: ' + s['breaker'] if s['breaker'] else 'ok'}")
    if s["calls_last_minute"] is not None:
        lines.append(f"Venue calls in the last minute: {s['calls_last_minute']} of {s['calls_per_minute']} "
                     "(as of the last heartbeat)")
    if s.get("entries_paused") is not None:
        lines.append(f"New entries: {'PAUSED (' + str(s['entries_paused']) + ')' if s['entries_paused'] else 'on'}")
    alerts = s.get("alerts")
    if alerts:
        lines.append("Alerts: " + ", ".join(f"{name} sent {a.get('sent', 0)}, failed {a.get('failed', 0)}, "
                                            f"dropped {a.get('dropped', 0)}" for name, a in sorted(alerts.items())))
    feed = describe_market_data(s.get("market_data"))
    if feed is not None:
        lines.append(feed)
        change = s["market_data"].get("last_change")
        if change:
            lines.append(f"  last change {change['ts']}: {change['message']}")
    positions = s["positions"]
    lines.append(f"Open positions: {len(positions)}")
    header = ("MARKET", "SIDE", "HELD", "ENTRY", "MARK", "UNREAL.", "STOP", "TRAIL", "NEXT STAGE", "QUOTE AGE",
              "MODEL P", "EXIT IN FLIGHT")
    rows = []
    for p in positions:
        f = p["exit_in_flight"]
        flight = "-" if f is None else (f"{f['condition']} ({f['priority']}) order {_p(f['order_price'])} "
                                        f"walk {f['walk']}{' escalated' if f.get('escalated') else ''}")
        stage = "-" if p["next_stage"] is None else f"#{p['next_stage']} at {_p(p['next_stage_price'])}"
        u = p["unrealized_pnl"]
        pct = p["unrealized_pnl_pct"]
        unreal = "-" if u is None else f"{fmt_money(Decimal(u))} ({Decimal(pct):+.1f}%)"
        rows.append((p["market"], p["side"].upper(), f"{p['contracts']}/{p['initial_contracts']}", _p(p["entry_price"]),
                     _p(p["mark"]), unreal, _p(p["stop_price"]), _p(p["trailing_stop"]), stage,
                     "-" if p["quote_age_s"] is None else f"{p['quote_age_s']} s"
                     + (" STALE" if p.get("quote_stale") else ""),
                     "-" if p["model_probability"] is None else f"{Decimal(p['model_probability']):.3f}"
                     + ("" if p["model_probability_age_s"] is None else f" ({p['model_probability_age_s']} s)"),
                     flight))
    if rows:
        widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
        lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in (header, *rows)]
        lines += [f"  {p['market']} {p['side']}: {p['position_id']}" for p in positions]
        lines += [f"  STALE {p['market']} {p['side']}: no current quote for {p['quote_age_s']} s: {p['quote_stale']}"
                  for p in positions if p.get("quote_stale")]
    return "\n".join(lines)


__all__ = ["build_status", "format_status", "liveness", "position_levels"]
