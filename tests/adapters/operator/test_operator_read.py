"""status, timeline, report and the HEARTBEAT they read: on the files of a paper run stopped
mid-game (one position open, half sold by a partial exit, its next stage resting)."""
from __future__ import annotations

import io
import json
import os
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from adapters.cli import app
from actors.clock import WallClock
from adapters.audit.files import read_events
from adapters.cli import report as report_cmd
from adapters.cli import status as status_cmd
from adapters.cli import timeline as timeline_cmd
from adapters.storage.database import connect
from adapters.storage.repository import Repository
from adapters.operator.status_view import liveness
from adapters.cli.summary import build_summary, format_summary
from models.duration import fmt_duration
from tests.paper_files import paper_files


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return paper_files(tmp_path_factory.mktemp("paper"), minutes=116)


@pytest.fixture(scope="module")
def repo(files):
    db = connect(str(files.db))
    yield Repository(db, WallClock())
    db.close()


def _run(module, argv, out=None):
    out, err = io.StringIO(), io.StringIO()
    args = app.build_parser().parse_args(argv)
    code = module.run(args, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def _read(files):
    return ["--db", str(files.db), "--audit", str(files.audit)]


# --- HEARTBEAT ------------------------------------------------------------------------------

def test_the_engine_beats_every_30_s_of_its_clock_and_says_when_it_stopped(files):
    beats = list(read_events(files.audit, ("HEARTBEAT",)))
    times = [datetime.fromisoformat(b["ts"]) for b in beats]
    assert len(beats) > 100
    gaps = {b - a for a, b in zip(times[:-2], times[1:-1])}
    assert gaps == {timedelta(seconds=30)}
    assert [b["state"] for b in beats[:-1]] == ["running"] * (len(beats) - 1)
    assert beats[-1]["state"] == "stopped" and beats[-1]["pid"] == os.getpid()
    assert beats[0]["clock"] == "virtual" and beats[0]["calls_per_minute"] == 60


def test_heartbeat_marks_are_the_database_marks_of_open_positions(files, repo):
    (open_position,) = repo.load_open_positions()
    last = None
    for b in read_events(files.audit, ("HEARTBEAT",)):
        for m in b["marks"]:
            if m["position_id"] == open_position.position_id:
                last = m
    assert last is not None
    assert Decimal(last["mark"]) == open_position.current_price
    assert last["contracts"] == open_position.contracts
    assert Decimal(last["trailing_stop"]) == open_position.trailing_stop_price


# --- status -----------------------------------------------------------------------------------

def test_status_shows_the_open_position_its_levels_and_the_exit_in_flight(files, repo):
    code, out, err = _run(status_cmd, ["status", *_read(files), "--json"])
    assert code == 0, err
    s = json.loads(out)
    assert s["engine"]["verdict"] == "stopped"
    assert s["breaker"] == "" and s["calls_per_minute"] == 60
    (p,) = s["positions"]
    (db,) = repo.load_open_positions()
    assert (p["position_id"], p["contracts"], p["initial_contracts"]) == (db.position_id, 43, 85)
    entry = Decimal(p["entry_price"])
    assert Decimal(p["stop_price"]) == (entry * Decimal("0.88")).quantize(Decimal("0.0001"))   # 12% stop
    assert p["next_stage"] == 2 and Decimal(p["next_stage_price"]) == (entry * Decimal("1.25")).quantize(Decimal("0.0001"))
    assert Decimal(p["trailing_stop"]) == db.trailing_stop_price
    assert Decimal(p["unrealized_pnl"]) == (db.current_price - db.entry_price) * 43
    flight = p["exit_in_flight"]
    assert flight["condition"] == "partial_exit_target" and flight["priority"] == "MEDIUM"
    assert Decimal(flight["order_price"]) == Decimal("0.40") and flight["walk"] == 0
    # the model probability's age: since the first beat that saw its current value
    seen = [(b["ts"], m["model_probability"]) for b in read_events(files.audit, ("HEARTBEAT",))
            for m in b["marks"] if m["position_id"] == db.position_id]
    assert Decimal(seen[-1][1]) == db.model_probability
    first = min(ts for ts, v in seen if v == seen[-1][1] and ts >= max((t for t, x in seen if x != seen[-1][1]),
                                                                      default=""))
    last_beat = list(read_events(files.audit, ("HEARTBEAT",)))[-1]["ts"]
    assert p["model_probability_age_s"] == int((datetime.fromisoformat(last_beat)
                                                - datetime.fromisoformat(first)).total_seconds())
    code, text, _ = _run(status_cmd, ["status", *_read(files)])
    assert "Engine: stopped (clean stop" in text and "43/85" in text and "partial_exit_target (MEDIUM)" in text


def test_status_on_a_missing_database_is_bad_input(tmp_path):
    code, _, err = _run(status_cmd, ["status", "--db", str(tmp_path / "none.db"), "--audit", str(tmp_path / "a.jsonl")])
    assert code == 2 and "none.db: no such database file" in err


NOW = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("beat, verdict", [
    (None, "no heartbeat"),
    ({"ts": (NOW - timedelta(seconds=40)).isoformat(), "state": "running", "clock": "wall", "pid": os.getpid()}, "alive"),
    ({"ts": (NOW - timedelta(seconds=95)).isoformat(), "state": "running", "clock": "wall", "pid": os.getpid()},
     "not responding"),
    ({"ts": (NOW - timedelta(seconds=9)).isoformat(), "state": "stopped", "clock": "wall", "pid": os.getpid()}, "stopped"),
    ({"ts": (NOW - timedelta(hours=3)).isoformat(), "state": "running", "clock": "wall", "pid": 2 ** 22 + 7}, "stopped"),
])
def test_liveness_from_the_last_heartbeat(beat, verdict):
    assert liveness(beat, NOW).verdict == verdict


# --- timeline ---------------------------------------------------------------------------------

def test_timeline_tells_a_closed_positions_story_in_order(files, repo):
    closed = [p for p in repo.all_positions() if p.status.value == "closed" and p.partial_stages_done]
    target = closed[0]
    code, out, err = _run(timeline_cmd, ["timeline", target.position_id, *_read(files), "--json"])
    assert code == 0, err
    t = json.loads(out)
    events = [s["event"] for s in t["steps"] if s["event"] != "MARK"]
    assert events[:3] == ["SIGNAL_RECEIVED", "ORDER_PLACED", "TRADE_EXECUTED"]
    assert events[-1] == "POSITION_CLOSED"
    for needed in ("EXIT_TRIGGERED", "EXIT_ROUTED", "ORDER_FILLED", "EXIT_COMPLETED"):
        assert needed in events
    ts = [s["ts"] for s in t["steps"]]
    assert ts == sorted(ts)
    triggered = next(s for s in t["steps"] if s["event"] == "EXIT_TRIGGERED")
    assert {"value", "threshold", "condition", "priority"} <= set(triggered["fields"])
    filled = [s["fields"] for s in t["steps"] if s["event"] == "ORDER_FILLED"]
    assert sum(f["contracts"] for f in filled) == target.initial_contracts


def test_timeline_shows_marks_between_decisions_at_a_coarser_step(files, repo):
    (p,) = repo.load_open_positions()
    code, out, _ = _run(timeline_cmd, ["timeline", p.ticker, p.side.value, *_read(files), "--json",
                                       "--mark-step-secs", "30"])
    assert code == 0
    t = json.loads(out)
    assert t["position"]["position_id"] == p.position_id
    marks = [s for s in t["steps"] if s["event"] == "MARK"]
    assert marks and Decimal(marks[-1]["fields"]["mark"]) == p.current_price   # the latest price ends the story
    code, text, _ = _run(timeline_cmd, ["timeline", p.position_id, *_read(files)])
    assert "· mark 0." in text and "ENTRY buy 85" in text


def test_marks_between_two_decisions_twenty_minutes_apart_come_at_the_step(tmp_path):
    from adapters.audit.log import to_jsonable
    from adapters.operator.timeline_view import build_timeline
    from models.market import Side
    from models.position import PositionState

    t0 = datetime(2026, 11, 20, 1, 0, tzinfo=timezone.utc)
    p = PositionState("pos-1", "MKT", Side.YES, "default", "nba", None, Decimal("0.50"), 10, 10, Decimal("0.1"), t0)
    lines = [{"ts": t0, "event": "TRADE_EXECUTED", "position_id": "pos-1", "message": "opened"}]
    for i in range(1, 40):                                   # a beat every 30 s, the mark moving each time
        lines.append({"ts": t0 + timedelta(seconds=30 * i), "event": "HEARTBEAT",
                      "marks": [{"position_id": "pos-1", "mark": str(Decimal("0.50") + Decimal(i) / 1000),
                                 "contracts": 10}, {"position_id": "pos-2", "mark": "0.9", "contracts": 1}]})
    lines.append({"ts": t0 + timedelta(minutes=20), "event": "EXIT_TRIGGERED", "position_id": "pos-1", "message": "x"})
    audit = tmp_path / "a.jsonl"
    audit.write_text("".join(json.dumps(to_jsonable(r)) + "\n" for r in lines), encoding="utf-8")

    def marks(step_s):
        t = build_timeline(None, audit, p, mark_step=timedelta(seconds=step_s))
        return [s["ts"] - t0 for s in t["steps"] if s["event"] == "MARK"]

    # every step, and the price just before the decision (4.5 min after the last shown mark)
    assert marks(300) == [timedelta(minutes=m) for m in (5, 10, 15)] + [timedelta(minutes=19, seconds=30)]
    assert len(marks(60)) == 20 and len(marks(30)) == 39


def test_timeline_of_an_unknown_or_ambiguous_position_is_bad_input(files):
    code, _, err = _run(timeline_cmd, ["timeline", "pos-nope", *_read(files)])
    assert code == 2 and "no position 'pos-nope'" in err
    code, _, err = _run(timeline_cmd, ["timeline", "pos-sim", *_read(files)])
    assert code == 2 and "matches" in err


# --- report -----------------------------------------------------------------------------------

def test_report_totals_match_the_database(files, repo):
    code, out, err = _run(report_cmd, ["report", *_read(files), "--json", "--today", "2026-11-20"])
    assert code == 0, err
    r = json.loads(out)
    positions = repo.all_positions()
    closed = [p for p in positions if p.status.value == "closed"]
    realized = sum((p.realized_pnl for p in positions), Decimal(0))
    assert abs(Decimal(r["realized_pnl"]) - realized) <= Decimal("0.000001") * len(positions)
    assert Decimal(r["realized_today"]) == Decimal(r["realized_pnl"])
    for key in ("by_day", "by_sport", "by_exit_reason", "by_signal_type"):
        assert sum(Decimal(v) for v in r[key].values()) == Decimal(r["realized_pnl"])
    assert r["positions_closed"] == len(closed) and r["positions_open"] == 1
    assert r["wins"] == sum(1 for p in closed if p.realized_pnl > 0)
    worst = min(closed, key=lambda p: p.realized_pnl)
    assert r["largest_loss"]["position_id"] == worst.position_id
    assert Decimal(r["fees"]) == sum((p.entry_fees + p.exit_fees for p in positions), Decimal(0))
    code, out, _ = _run(report_cmd, ["report", *_read(files), "--json", "--today", "2026-11-21"])
    assert Decimal(json.loads(out)["realized_today"]) == 0


def test_report_since_keeps_later_sales_only(files):
    _, full, _ = _run(report_cmd, ["report", *_read(files), "--json"])
    _, later, _ = _run(report_cmd, ["report", *_read(files), "--json", "--since", "2026-11-20T01:00:00"])
    full, later = json.loads(full), json.loads(later)
    assert later["positions_closed"] < full["positions_closed"]
    assert later["since"] == "2026-11-20T01:00:00+00:00"
    code, _, err = _run(report_cmd, ["report", *_read(files), "--since", "yesterday"])
    assert code == 2 and "--since 'yesterday'" in err


def test_report_html_is_one_file_with_inline_svg_charts(files, repo, tmp_path):
    out_file = tmp_path / "report.html"
    code, out, _ = _run(report_cmd, ["report", *_read(files), "--html", str(out_file)])
    assert code == 0 and f"HTML report: {out_file}" in out
    html = out_file.read_text(encoding="utf-8")
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert 'aria-label="Cumulative realized P&amp;L"' in html and 'aria-label="P&amp;L by exit reason"' in html
    for p in repo.all_positions():
        assert f"<section id='{p.position_id}'>" in html
    (open_p,) = repo.load_open_positions()
    chart = html.split(f"<section id='{open_p.position_id}'>")[1].split("</section>")[0]
    for name in ("mark", "entry", "stop", "trailing stop", "exit fills"):
        assert f">{name}</text>" in chart
    assert chart.count("<circle") == 1          # its one exit fill so far (stage 1)


# --- summary ----------------------------------------------------------------------------------

def test_summary_shows_contracts_held_now_unrealized_and_today(files, repo):
    s = build_summary(repo, today=datetime(2026, 11, 20).date())
    (p,) = [x for x in s["positions"] if x["status"] == "open"]
    assert (p["contracts"], p["contracts_held"]) == (85, 43)
    (db,) = repo.load_open_positions()
    assert Decimal(p["unrealized_pnl"]) == (db.current_price - db.entry_price) * 43
    text = format_summary(s)
    assert " 85    43 open" in text
    assert f"all time, {text.split('all time, ')[1].split(' today')[0]} today (2026-11-20)" in text
    assert "Unrealized P&L at the mark" in text
    # how long each position lived: closed ones from open to close, the open one until now
    now = repo._clock.now()
    for row in s["positions"]:
        db_row = repo.load_position(row["position_id"])
        end = db_row.closed_at if db_row.closed_at is not None else now
        assert row["held_s"] == int((end - db_row.opened_at).total_seconds())
    closed = sorted(x["held_s"] for x in s["positions"] if x["status"] == "closed")
    assert s["totals"]["hold_s"] == {"median": closed[(len(closed) - 1) // 2], "shortest": closed[0],
                                     "longest": closed[-1]}
    assert f"Hold (closed positions): median {fmt_duration(closed[(len(closed) - 1) // 2])}" in text
    assert f" {fmt_duration(p['held_s'])}+ " in text        # still open: held so far


def test_status_reads_a_log_being_written_or_torn_by_a_kill(files, tmp_path):
    torn = tmp_path / "torn.jsonl"
    torn.write_text(files.audit.read_text(encoding="utf-8") + '{"ts":"2026-11-20T01:56:00+00:00","event":"HEAR',
                    encoding="utf-8")
    code, out, err = _run(status_cmd, ["status", "--db", str(files.db), "--audit", str(torn), "--json"])
    assert code == 0, err
    assert json.loads(out)["engine"]["verdict"] == "stopped" and len(json.loads(out)["positions"]) == 1
    code, out, _ = _run(status_cmd, ["status", "--db", str(files.db), "--audit", str(tmp_path / "none.jsonl")])
    assert code == 0 and "no HEARTBEAT in the audit log" in out
