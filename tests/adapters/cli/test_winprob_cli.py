"""The `winprob` command: by hand, from ESPN (a local fake server), and in batch."""
from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import threading
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from aiohttp import web

from actors.clock import VirtualClock
from adapters.cli import winprob
from models.game import GameState, GameStatus
from models.winprob import home_win_probability

NOW = datetime(2025, 6, 1, 20, 0, tzinfo=timezone.utc)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="run.py")
    winprob.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["winprob", *argv])


def call(*argv: str) -> tuple[int, str, str]:
    args = parse(*argv)
    out, err = io.StringIO(), io.StringIO()
    code = args.func(args, out=out, err=err, clock=VirtualClock(NOW))
    return code, out.getvalue(), err.getvalue()


def test_prints_the_models_probability_for_a_hand_made_state():
    code, out, err = call("--sport", "nba", "--home-score", "99", "--away-score", "98", "--period", "4",
                          "--clock", "20.2", "--spread", "0", "--possession", "home")
    expected = home_win_probability(GameState(
        game_id="x", sport="nba", ts=NOW, status=GameStatus.IN_PROGRESS, home_score=99, away_score=98,
        period=4, clock_secs=Decimal("20.2"), possession="home", home_spread=Decimal(0)))
    assert (code, err) == (0, "")
    assert f"home win probability: {expected:.4f}" in out
    assert "clock 20.2" in out and "Stern 1994" in out


def test_json_output_carries_the_state_and_soccer_three_way():
    code, out, _ = call("--sport", "nfl", "--home-score", "17", "--away-score", "20", "--period", "4",
                        "--clock", "1:52", "--possession", "away", "--down", "2", "--distance", "4",
                        "--yards-to-endzone", "54", "--spread", "-4", "--json")
    body = json.loads(out)
    assert code == 0
    assert body["state"]["clock_secs"] == 112.0 and body["state"]["yards_to_endzone"] == 54
    assert 0.0 < body["home_win_probability"] < 0.3
    code, out, _ = call("--sport", "eng.1", "--home-score", "1", "--away-score", "1", "--period", "2",
                        "--clock", "300", "--json")
    soccer = json.loads(out)
    assert code == 0
    total = soccer["home_win_probability"] + soccer["draw_probability"] + soccer["away_win_probability"]
    assert total == pytest.approx(1.0, abs=1e-5) and soccer["draw_probability"] > 0.5


def test_scheduled_state_uses_period_zero_and_mlb_takes_outs():
    code, out, _ = call("--sport", "nfl", "--home-score", "0", "--away-score", "0", "--period", "0", "--spread", "0")
    assert code == 0 and "home win probability: 0.5000" in out and "scheduled" in out
    _, two_outs, _ = call("--sport", "mlb", "--home-score", "3", "--away-score", "2", "--period", "9",
                          "--possession", "away", "--outs", "2", "--json")
    _, no_outs, _ = call("--sport", "mlb", "--home-score", "3", "--away-score", "2", "--period", "9",
                         "--possession", "away", "--outs", "0", "--json")
    assert json.loads(two_outs)["home_win_probability"] > json.loads(no_outs)["home_win_probability"]


@pytest.mark.parametrize("argv,flag", [
    (("--sport", "nba", "--home-score", "1", "--away-score", "0", "--period", "2"), "--clock is required"),
    (("--sport", "nba", "--period", "2", "--clock", "10"), "--home-score, --away-score"),
    (("--sport", "nba", "--home-score", "1", "--away-score", "0", "--period", "2", "--clock", "5", "--out", "x.csv"),
     "--out is only used with --batch"),
    (("--batch", "in.csv",), "--batch needs --out"),
    (("--espn-event", "401",), "--espn-event needs --sport or --league"),
    (("--espn-event", "401", "--sport", "soccer"), "needs --league"),
])
def test_bad_combinations_are_usage_errors_naming_the_flag(argv, flag):
    code, out, err = call(*argv)
    assert code == 2 and out == ""
    assert err.startswith("winprob: error:") and flag in err


@pytest.mark.parametrize("argv,flag", [
    (("--clock", "1:99"), "argument --clock"),
    (("--sport", "curling"), "argument --sport"),
    (("--home-score", "-1"), "argument --home-score"),
    (("--possession", "left"), "argument --possession"),
    (("--spread", "abc"), "argument --spread"),
    (("--best-of", "4"), "argument --best-of"),
])
def test_bad_values_are_refused_by_argparse(argv, flag, capsys):
    with pytest.raises(SystemExit) as exc:
        parse(*argv)
    assert exc.value.code == 2
    assert flag in capsys.readouterr().err


# --- --espn-event against a local fake ESPN ------------------------------------------------------

def _summary(event_id: str, status: str, state: str, period: int, display: str, home: str, away: str) -> dict:
    comp = {"id": event_id, "date": "2025-06-01T18:00Z",
            "status": {"displayClock": display, "period": period,
                       "type": {"name": status, "state": state, "shortDetail": display}},
            "competitors": [{"homeAway": "home", "score": home, "team": {"id": "11", "abbreviation": "IND"}},
                            {"homeAway": "away", "score": away, "team": {"id": "18", "abbreviation": "NY"}}]}
    return {"header": {"id": event_id, "competitions": [comp]}}


@pytest.fixture
def espn():
    """A fake ESPN on 127.0.0.1 in a thread of its own (the command runs its own event loop)."""
    routes: dict[str, tuple[int, dict]] = {}
    seen: list[tuple[str, dict]] = []
    ready = threading.Event()
    box: dict = {}

    async def handle(request: web.Request) -> web.Response:
        seen.append((request.path, dict(request.query)))
        status, body = routes.get(f"{request.path}?{request.query.get('event')}", (404, {"error": "none"}))
        return web.json_response(body, status=status)

    def serve():
        loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_get("/{tail:.*}", handle)
        runner = web.AppRunner(app)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        box.update(loop=loop, runner=runner, port=site._server.sockets[0].getsockname()[1])
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)
    base = f"http://127.0.0.1:{box['port']}/apis/site/v2/sports"
    yield routes, seen, base
    box["loop"].call_soon_threadsafe(box["loop"].stop)
    thread.join(10)


def test_espn_event_is_fetched_and_printed_beside_the_probability(espn):
    routes, seen, base = espn
    routes["/apis/site/v2/sports/basketball/nba/summary?401772994"] = (
        200, _summary("401772994", "STATUS_IN_PROGRESS", "in", 4, "2:30", "101", "97"))
    code, out, err = call("--espn-event", "401772994", "--sport", "nba", "--spread", "1.5",
                          "--espn-base-url", base)
    assert (code, err) == (0, "")
    assert seen == [("/apis/site/v2/sports/basketball/nba/summary", {"event": "401772994"})]
    lines = out.splitlines()
    assert lines[0] == "ESPN nba event 401772994"
    assert "NY 97 @ IND 101" in lines[1] and "clock 2:30" in lines[1] and "spread +1.5" in lines[1]
    assert lines[2].startswith("home win probability: 0.")


def test_espn_failure_is_a_clear_error_and_non_zero(espn):
    routes, _, base = espn
    routes["/apis/site/v2/sports/hockey/nhl/summary?5"] = (503, {"error": "busy"})
    code, out, err = call("--espn-event", "5", "--sport", "nhl", "--espn-base-url", base)
    assert code == 1 and out == ""
    assert "could not get ESPN event 5 (nhl)" in err and "HTTP 503" in err


def test_espn_game_that_is_off_prints_the_state_but_no_probability(espn):
    routes, _, base = espn
    routes["/apis/site/v2/sports/basketball/nba/summary?7"] = (
        200, _summary("7", "STATUS_POSTPONED", "post", 0, "0:00", "0", "0"))
    code, out, err = call("--espn-event", "7", "--league", "nba", "--espn-base-url", base)
    assert code == 1 and "postponed" in out and "no win probability" in err


def test_espn_network_failure_without_a_server():
    code, out, err = call("--espn-event", "7", "--league", "nba", "--espn-base-url", "http://127.0.0.1:9/api")
    assert code == 1 and "could not get ESPN event 7" in err


# --- --batch ---------------------------------------------------------------------------------------

def test_batch_prices_good_rows_and_reports_bad_ones_by_line(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text(
        "sport,home_score,away_score,period,clock,spread,possession,down,distance,yards_to_endzone,note\n"
        "nba,99,98,4,20.2,0,home,,,,a\n"                  # line 2: fine
        "nfl,17,20,4,1:52,-4,away,2,4,54,b\n"             # line 3: fine
        "nba,99,98,4,,0,,,,,c\n"                          # line 4: no clock
        "hockey,2,x,3,60,,,,,,d\n"                        # line 5: bad away_score
        "mlb,3,2,9,,,away,,,,e\n"                         # line 6: fine
        "nfl,1,2,3,10:00,0,sideways,,,,f\n"               # line 7: bad possession
        "curling,1,0,1,10,,,,,,g\n")                      # line 8: unknown sport
    dst = tmp_path / "out.csv"
    args = parse("--batch", str(src), "--out", str(dst))
    err = io.StringIO()
    code = args.func(args, out=io.StringIO(), err=err)
    rows = list(csv.DictReader(dst.open()))
    assert code == 1
    assert [r["note"] for r in rows] == ["a", "b", "e"]
    assert all(0.0 <= float(r["home_win_probability"]) <= 1.0 for r in rows)
    assert rows[0]["clock"] == "20.2" and rows[0]["sport"] == "nba"
    messages = err.getvalue().splitlines()
    assert [m.split(":")[0] for m in messages[:4]] == [f"{src} line {n}" for n in (4, 5, 7, 8)]
    assert "clock is empty" in messages[0] and "away_score" in messages[1]
    assert "possession" in messages[2] and "unknown sport 'curling'" in messages[3]
    assert messages[4] == f"{src}: 4 bad row(s) skipped"


def test_batch_all_good_to_stdout_matches_the_model(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("sport,home_score,away_score,period,clock\nnhl,2,1,3,120\nncaaf,0,0,0,\n")
    args = parse("--batch", str(src), "--out", "-")
    out = io.StringIO()
    assert args.func(args, out=out, err=io.StringIO()) == 0
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    nhl = GameState(game_id="x", sport="nhl", ts=NOW, status=GameStatus.IN_PROGRESS, home_score=2,
                    away_score=1, period=3, clock_secs=Decimal(120))
    assert rows[0]["home_win_probability"] == f"{home_win_probability(nhl):.6f}"
    assert len(rows) == 2


def test_batch_file_problems(tmp_path):
    missing_col = tmp_path / "m.csv"
    missing_col.write_text("sport,home_score,away_score,period\nnba,1,1,1\n")
    args = parse("--batch", str(missing_col), "--out", str(tmp_path / "o.csv"))
    err = io.StringIO()
    assert args.func(args, out=io.StringIO(), err=err) == 1
    assert "missing column(s) clock" in err.getvalue()
    args = parse("--batch", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "o.csv"))
    err = io.StringIO()
    assert args.func(args, out=io.StringIO(), err=err) == 2
    assert "argument --batch: cannot open" in err.getvalue()
