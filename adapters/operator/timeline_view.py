"""One position's whole story, in order, from the audit log (and its row in the database).

The signal and its numbers, the risk decision and the entry order, the entry fill, every
trigger (value and threshold), every routed exit, every order placed, walked, escalated,
canceled and filled (prices, fees), restarts and reconciliation, alerts, and the close with its
realized P&L. Between decisions, the marks the engine's HEARTBEAT recorded (every 30 s when the
mark moved) are shown at a coarser step (`mark_step`, 1 min by default) so the story shows the
price path without drowning it.

A position is named by its id, a unique prefix of it, or a market and side (the latest
position on that market and side).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from adapters.audit.files import read_events
from adapters.storage.repository import Repository
from models.money import fmt_money
from models.position import PositionState


class PositionNotFound(LookupError):
    """No (or more than one) position matches: the message says which and lists candidates."""


@dataclass(frozen=True, slots=True)
class Step:
    ts: datetime
    kind: str          # the audit event, or MARK for a heartbeat's mark
    text: str
    fields: dict[str, Any]


def find_position(repo: Repository, name: str, side: str | None = None) -> PositionState:
    positions = repo.all_positions()
    if side is not None:
        side = side.lower()
        if side not in ("yes", "no"):
            raise PositionNotFound(f"side must be yes or no, found {side!r}")
        matches = [p for p in positions if p.ticker == name and p.side.value == side]
        if not matches:
            raise PositionNotFound(f"no position on {name} {side}")
        return max(matches, key=lambda p: (p.opened_at, p.position_id))
    exact = [p for p in positions if p.position_id == name]
    if exact:
        return exact[0]
    prefix = [p for p in positions if p.position_id.startswith(name)]
    if len(prefix) == 1:
        return prefix[0]
    if len(prefix) > 1:
        shown = ", ".join(p.position_id for p in prefix[:5])
        raise PositionNotFound(f"{name!r} matches {len(prefix)} positions ({shown}{', ...' if len(prefix) > 5 else ''})")
    raise PositionNotFound(f"no position {name!r} (give a position id, or a market and side)")


def _marks(record: dict[str, Any], pid: str) -> dict[str, Any] | None:
    for m in record.get("marks") or ():
        if isinstance(m, dict) and m.get("position_id") == pid:
            return m
    return None


def _mark_text(m: dict[str, Any], entry: Decimal) -> str:
    mark = Decimal(m["mark"])
    parts = [f"mark {mark:.2f} ({(mark - entry) / entry * 100 if entry else 0:+.1f}%)"]
    if m.get("trailing_stop") is not None:
        parts.append(f"trailing stop {Decimal(m['trailing_stop']):.2f}")
    if m.get("model_probability") is not None:
        parts.append(f"model {Decimal(m['model_probability']):.3f}")
    parts.append(f"{m.get('contracts')} held")
    return ", ".join(parts)


def build_timeline(repo: Repository, audit: Path, position: PositionState, *,
                   mark_step: timedelta = timedelta(minutes=1)) -> dict[str, Any]:
    pid = position.position_id
    signal_id = None
    for r in read_events(audit, ("TRADE_EXECUTED",), contains=(pid,)):
        if r.get("position_id") == pid:
            signal_id = r.get("signal_id") or signal_id
    needles = (pid,) if signal_id is None else (pid, signal_id)
    steps: list[Step] = []
    last_shown: datetime | None = None
    pending_mark: Step | None = None
    for r in read_events(audit, contains=needles):
        ts = datetime.fromisoformat(r["ts"])
        if r["event"] == "HEARTBEAT":
            m = _marks(r, pid)
            if m is None:
                continue
            step = Step(ts, "MARK", _mark_text(m, position.entry_price), m)
            if last_shown is None or ts - last_shown >= mark_step:
                steps.append(step)
                last_shown, pending_mark = ts, None
            else:
                pending_mark = step
            continue
        mine = (r.get("position_id") == pid or (signal_id is not None and r.get("signal_id") == signal_id)
                or pid in (r.get("positions") or ()))     # a control command naming it (`exit --all`)
        if not mine:
            continue
        if pending_mark is not None and (last_shown is None or pending_mark.ts - last_shown >= mark_step / 2):
            steps.append(pending_mark)        # the price just before this decision, if it is news
        pending_mark = None
        fields = {k: v for k, v in r.items() if k not in ("ts", "event", "message")}
        steps.append(Step(ts, r["event"], str(r.get("message", "")), fields))
        last_shown = ts
    if pending_mark is not None:
        steps.append(pending_mark)            # the latest price, after the last decision
    p = position
    return {
        "position": {
            "position_id": pid, "market": p.ticker, "side": p.side.value, "signal_type": p.signal_type,
            "sport": p.sport, "status": p.status.value, "entry_price": p.entry_price,
            "initial_contracts": p.initial_contracts, "contracts": p.contracts, "entry_fees": p.entry_fees,
            "exit_fees": p.exit_fees, "realized_pnl": p.realized_pnl, "opened_at": p.opened_at,
            "closed_at": p.closed_at, "exit_reason": p.exit_reason, "mark": p.current_price,
        },
        "signal_id": signal_id,
        "mark_step_secs": int(mark_step.total_seconds()),
        "steps": [{"ts": s.ts, "event": s.kind, "text": s.text, **({"fields": s.fields} if s.fields else {})}
                  for s in steps],
    }


def format_timeline(t: dict[str, Any]) -> str:
    p = t["position"]
    held = f"{p['contracts']} of {p['initial_contracts']} held" if p["status"] != "closed" else \
        f"{p['initial_contracts']} bought"
    lines = [f"Position {p['position_id']}: {p['market']} {p['side'].upper()} ({p['signal_type']}, {p['sport']})",
             f"  {p['status']}, entry {Decimal(p['entry_price']):.4f}, {held}, realized "
             f"{fmt_money(Decimal(p['realized_pnl']))}" + ((f", closed by {p['exit_reason']}" if p["status"] == "closed" else f", last exit: {p['exit_reason']}")
                if p["exit_reason"] else ""),
             f"  marks (·) at most every {t['mark_step_secs']} s between decisions", ""]
    for s in t["steps"]:
        ts = s["ts"].strftime("%Y-%m-%d %H:%M:%S") if isinstance(s["ts"], datetime) else str(s["ts"])
        if s["event"] == "MARK":
            lines.append(f"{ts}  {'':<17}   · {s['text']}")
        else:
            text = s["text"]
            prefix = f"{p['market']} {p['side']}: "
            if text.startswith(prefix):
                text = text[len(prefix):]
            lines.append(f"{ts}  {s['event']:<17} {text}")
    if not t["steps"]:
        lines.append("(no events for this position in the audit log)")
    return "\n".join(lines)
