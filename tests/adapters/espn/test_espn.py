"""The ESPN parser: every recorded payload in ../shared/data/espn, and small fixtures of our own
for the odd cases (clocks, overtime, postponed/suspended, tennis retirements, broken fields)."""
from __future__ import annotations

import copy
import json
from collections import Counter
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from adapters.espn import (
    EspnPayloadError, league, parse_clock_text, parse_scoreboard, parse_scoreboard_detailed,
    parse_summary,
)
from models.game import GameStatus
from models.winprob import NoWinProbability, home_win_probability
from tests.paths import SHARED

ESPN_DIR = SHARED / "data" / "espn"
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)

# recorded scoreboard -> (league, expected status counts) from ../shared/data/espn/PROVENANCE.txt
SCOREBOARDS = {
    "atp_scoreboard_roland_garros.json": ("atp", {"final": 574, "scheduled": 51, "retired": 7, "walkover": 3}),
    "epl_scoreboard_fulltime.json": ("eng.1", {"final": 10}),
    "mlb_scoreboard_20250604_live_postponed.json": ("mlb", {"final": 8, "in_progress": 6, "postponed": 1}),
    "mlb_scoreboard_live_and_pre.json": ("mlb", {"in_progress": 7, "scheduled": 8}),
    "mlb_scoreboard_live_postponed.json": ("mlb", {"final": 9, "in_progress": 5, "postponed": 1}),
    "mlb_scoreboard_suspended_extras.json": ("mlb", {"final": 14, "suspended": 1}),
    "mls_scoreboard_scheduled.json": ("usa.1", {"scheduled": 1}),
    "nba_scoreboard_20241215_final.json": ("nba", {"final": 7}),
    "nba_scoreboard_sdvjs_final.json": ("nba", {"final": 10}),
    "ncaaf_scoreboard_sec_pregame.json": ("college-football", {"scheduled": 16}),
    "ncaam_scoreboard_acc_final_ot.json": ("mens-college-basketball", {"final": 9}),
    "nfl_scoreboard_20241215_final.json": ("nfl", {"final": 13}),
    "nfl_scoreboard_pregame.json": ("nfl", {"scheduled": 16}),
    "nhl_scoreboard_final.json": ("nhl", {"final": 1}),
    "nhl_scoreboard_live_overtime.json": ("nhl", {"in_progress": 1}),
    "wnba_scoreboard_scheduled.json": ("wnba", {"scheduled": 2}),
}
# recorded summary -> (league, status, home, away, home score, away score)
SUMMARIES = {
    "nfl_summary_401547417_ATL-GB_final.json": ("nfl", "final", "ATL", "GB", 25, 24),
    "nba_summary_401772994_IND-NY_final.json": ("nba", "final", "IND", "NY", 125, 108),
    "nba_summary_401772994_IND-NY_pregame.json": ("nba", "scheduled", "IND", "NY", 0, 0),
    "nba_summary_401585607_ORL-TOR_final.json": ("nba", "final", "ORL", "TOR", 111, 96),
    "mlb_summary_401472463_final.json": ("mlb", "final", "PIT", "CLE", 7, 5),
    "nhl_summary_401774292_CAR-FLA_final.json": ("nhl", "final", "CAR", "FLA", 3, 5),
    "nhl_summary_401559593_CAR-BUF_final.json": ("nhl", "final", "CAR", "BUF", 6, 2),
}


PRICED = (GameStatus.IN_PROGRESS, GameStatus.SCHEDULED, GameStatus.FINAL, GameStatus.SUSPENDED)


def _load(kind: str, name: str) -> dict:
    path = ESPN_DIR / kind / name
    if not path.exists():
        pytest.skip(f"{path} is absent")
    return json.loads(path.read_text())


def test_every_recorded_scoreboard_is_listed_here():
    folder = ESPN_DIR / "scoreboard"
    if not folder.exists():
        pytest.skip("../shared/data/espn is absent")
    assert {p.name for p in folder.glob("*.json")} == set(SCOREBOARDS)
    assert {p.name for p in (ESPN_DIR / "summary").glob("*.json")} == set(SUMMARIES)


@pytest.mark.parametrize("name", sorted(SCOREBOARDS))
def test_recorded_scoreboard_parses_into_the_expected_games(name):
    slug, expected = SCOREBOARDS[name]
    result = parse_scoreboard_detailed(_load("scoreboard", name), slug, observed_at=NOW)
    assert result.errors == ()
    assert Counter(s.status.value for s in result.states) == expected
    sport = league(slug).sport
    for state in result.states:
        assert state.sport == sport and state.ts == NOW
        assert state.home_team and state.away_team
        assert state.home_team != state.away_team or "TBD" in state.home_team   # undrawn tennis slots
        assert state.home_score >= 0 and state.away_score >= 0
        if state.status in PRICED:
            prob = home_win_probability(state)          # every game on or done can be priced
            assert 0.0 <= prob <= 1.0
        else:
            with pytest.raises(NoWinProbability):
                home_win_probability(state)


@pytest.mark.parametrize("name", sorted(SUMMARIES))
def test_recorded_summary_parses(name):
    slug, status, home, away, hs, as_ = SUMMARIES[name]
    state = parse_summary(_load("summary", name), slug, observed_at=NOW)
    assert (state.status.value, state.home_team, state.away_team, state.home_score, state.away_score) == (
        status, home, away, hs, as_)
    assert state.game_id in name


def test_recorded_details_land_in_the_right_fields():
    mlb = {s.game_id: s for s in parse_scoreboard(_load("scoreboard", "mlb_scoreboard_live_and_pre.json"), "mlb")}
    assert (mlb["401695601"].period, mlb["401695601"].possession) == (4, "away")      # "End 3rd"
    assert (mlb["401695593"].period, mlb["401695593"].possession) == (1, "home")      # "Mid 1st"
    nhl = parse_scoreboard(_load("scoreboard", "nhl_scoreboard_live_overtime.json"), "nhl")[0]
    assert (nhl.period, nhl.clock_secs, nhl.detail) == (4, Decimal(1029), "17:09 - OT")
    epl = parse_scoreboard(_load("scoreboard", "epl_scoreboard_fulltime.json"), "eng.1")[0]
    assert (epl.clock_secs, epl.added_time_secs) == (Decimal(0), Decimal(300))       # "90'+5'"
    nfl = {s.home_team: s for s in parse_scoreboard(_load("scoreboard", "nfl_scoreboard_pregame.json"), "nfl")}
    assert nfl["PHI"].home_spread == Decimal(7)        # "PHI -7": home favoured
    assert nfl["LAC"].home_spread == Decimal(-3)       # "KC -3": away favoured
    assert nfl["IND"].home_spread == 0                 # "EVEN"
    atp = {s.game_id: s for s in parse_scoreboard(_load("scoreboard", "atp_scoreboard_roland_garros.json"), "atp")}
    assert (atp["158612"].home_score, atp["158612"].away_score, atp["158612"].detail) == (2, 1, "Final 6-3 3-6 6-3")
    assert atp["158636"].status is GameStatus.RETIRED and atp["158636"].detail == "Retired 5-1"
    assert atp["158635"].status is GameStatus.WALKOVER
    ot = {s.home_team: s for s in parse_scoreboard(_load("scoreboard", "ncaam_scoreboard_acc_final_ot.json"),
                                                   "mens-college-basketball")}
    assert (ot["VT"].period, ot["VT"].detail) == (3, "Final/OT")


# --- our own fixtures ---------------------------------------------------------------------------

def _competitor(side: str, abbr: str, team_id: str, score: str | None = "0", **extra) -> dict:
    c = {"id": team_id, "homeAway": side, "team": {"id": team_id, "abbreviation": abbr}, **extra}
    if score is not None:
        c["score"] = score
    return c


def _event(status_name: str, state: str, period=1, display="12:00", clock=720.0, *, event_id="1",
           home=("HOM", "10", "0"), away=("AWY", "20", "0"), detail="", **comp_extra) -> dict:
    status = {"clock": clock, "displayClock": display, "period": period,
              "type": {"name": status_name, "state": state, "completed": state == "post",
                       "detail": detail, "shortDetail": detail}}
    comp = {"id": event_id, "date": "2025-01-05T18:00Z", "status": status,
            "competitors": [_competitor("home", home[0], home[1], home[2]),
                            _competitor("away", away[0], away[1], away[2])], **comp_extra}
    return {"id": event_id, "date": "2025-01-05T18:00Z", "competitions": [comp]}


def _board(*events) -> dict:
    return {"events": list(events)}


def _one(payload: dict, slug: str):
    return parse_scoreboard(payload, slug, observed_at=NOW)[0]


@pytest.mark.parametrize("text,secs", [("12:34", Decimal(754)), ("0:07", Decimal(7)), ("20.2", Decimal("20.2")),
                                       ("0.0", Decimal(0)), ("15:00", Decimal(900)), ("1:02.5", Decimal("62.5"))])
def test_period_clocks(text, secs):
    assert parse_clock_text(text) == secs


@pytest.mark.parametrize("bad", ["", "ab", "12:75", "-1:00", "90'"])
def test_bad_period_clocks_are_refused(bad):
    with pytest.raises(ValueError, match="clock"):
        parse_clock_text(bad)


def test_a_basketball_clock_under_a_minute_keeps_its_tenths():
    s = _one(_board(_event("STATUS_IN_PROGRESS", "in", 4, "20.2", 20.2, home=("IND", "11", "99"),
                           away=("NY", "18", "98"))), "nba")
    assert (s.status, s.period, s.clock_secs, s.home_score, s.away_score) == (
        GameStatus.IN_PROGRESS, 4, Decimal("20.2"), 99, 98)


def test_the_numeric_clock_is_used_when_display_clock_is_missing():
    event = _event("STATUS_IN_PROGRESS", "in", 2, "", 95.5)
    assert _one(_board(event), "nba").clock_secs == Decimal("95.5")


@pytest.mark.parametrize("display,clock,period,left,added", [
    ("67'", 4020.0, 2, Decimal(1380), None),
    ("90'+5'", 5400.0, 2, Decimal(0), Decimal(300)),
    ("45'+2'", 2700.0, 1, Decimal(0), Decimal(120)),
    ("105'", 6300.0, 3, Decimal(0), None),
])
def test_soccer_clocks_count_up_and_carry_stoppage(display, clock, period, left, added):
    s = _one(_board(_event("STATUS_SECOND_HALF", "in", period, display, clock)), "eng.1")
    assert (s.status, s.clock_secs, s.added_time_secs) == (GameStatus.IN_PROGRESS, left, added)


def test_soccer_statuses():
    assert _one(_board(_event("STATUS_FULL_TIME", "post", 2, "90'+4'", 5400.0)), "usa.1").status is GameStatus.FINAL
    assert _one(_board(_event("STATUS_HALFTIME", "in", 1, "45'+3'", 2700.0)), "esp.1").status is GameStatus.HALFTIME
    shootout = _one(_board(_event("STATUS_FINAL_PEN", "post", 4, "120'", 7200.0)), "uefa.champions")
    assert shootout.status is GameStatus.FINAL
    assert _one(_board(_event("STATUS_ABANDONED", "post", 1, "30'", 1800.0)), "eng.1").status is GameStatus.CANCELED


@pytest.mark.parametrize("slug,period,display,clock", [
    ("nfl", 5, "7:12", 432.0), ("nhl", 4, "3:10", 190.0), ("nba", 6, "2:01", 121.0),
    ("mens-college-basketball", 3, "4:00", 240.0)])
def test_overtime_periods_keep_their_number_and_clock(slug, period, display, clock):
    s = _one(_board(_event("STATUS_IN_PROGRESS", "in", period, display, clock, detail=f"{display} - OT")), slug)
    assert (s.period, s.clock_secs) == (period, Decimal(str(int(clock))))
    assert 0.0 <= home_win_probability(s) <= 1.0


@pytest.mark.parametrize("name,status", [("STATUS_POSTPONED", GameStatus.POSTPONED),
                                         ("STATUS_SUSPENDED", GameStatus.SUSPENDED),
                                         ("STATUS_CANCELED", GameStatus.CANCELED),
                                         ("STATUS_DELAYED", GameStatus.DELAYED),
                                         ("STATUS_END_PERIOD", GameStatus.END_OF_PERIOD),
                                         ("STATUS_HALFTIME", GameStatus.HALFTIME)])
def test_status_names(name, status):
    state = "post" if name in ("STATUS_POSTPONED", "STATUS_CANCELED") else "in"
    assert _one(_board(_event(name, state, 2, "0:00", 0.0)), "nfl").status is status


def test_an_unfamiliar_status_falls_back_on_its_state_or_becomes_unknown():
    in_play = _one(_board(_event("STATUS_SOMETHING_NEW", "in", 2, "5:00", 300.0)), "nba")
    assert in_play.status is GameStatus.IN_PROGRESS
    assert _one(_board(_event("STATUS_SOMETHING_NEW", "pre")), "nba").status is GameStatus.SCHEDULED
    assert _one(_board(_event("STATUS_ODD", "weird")), "nba").status is GameStatus.UNKNOWN


def test_a_suspended_baseball_game_keeps_its_score_and_inning():
    s = _one(_board(_event("STATUS_SUSPENDED", "post", 7, "0:00", 0.0, detail="Suspended",
                           home=("CIN", "17", "3"), away=("ARI", "29", "3"))), "mlb")
    assert (s.status, s.period, s.home_score, s.away_score, s.clock_secs) == (GameStatus.SUSPENDED, 7, 3, 3, None)
    assert 0.0 < home_win_probability(s) < 1.0          # it resumes later: still priced


def _tennis_board(status_name: str, state: str, home_sets: list, away_sets: list, **status_extra) -> dict:
    def comp(side, name, sets):
        return {"id": name, "homeAway": side, "athlete": {"displayName": name},
                "linescores": [{"value": v, "winner": w} for v, w in sets]}
    match = {"id": "900", "date": "2025-05-30T10:00Z",
             "status": {"period": max(1, len(home_sets)), "type": {"name": status_name, "state": state,
                                                                   "detail": status_extra.get("detail", "")}},
             "competitors": [comp("home", "A. Player", home_sets), comp("away", "B. Player", away_sets)]}
    return {"events": [{"id": "172-2025", "date": "2025-05-19T04:00Z",
                        "groupings": [{"grouping": {"slug": "mens-singles"}, "competitions": [match]}]}]}


def test_tennis_retirement_and_walkover_inside_groupings():
    retired = _one(_tennis_board("STATUS_RETIRED", "post", [(6.0, True), (2.0, False)],
                                 [(3.0, False), (1.0, False)], detail="Retired"), "atp")
    assert (retired.status, retired.home_score, retired.away_score, retired.detail) == (
        GameStatus.RETIRED, 1, 0, "Retired 6-3 2-1")
    walkover = _one(_tennis_board("STATUS_WALKOVER", "post", [], [], detail="Walkover"), "wta")
    assert (walkover.status, walkover.home_score, walkover.period) == (GameStatus.WALKOVER, 0, 1)
    live = _one(_tennis_board("STATUS_IN_PROGRESS", "in", [(6.0, True), (4.0, False)],
                              [(4.0, False), (3.0, False)]), "atp")
    assert (live.home_score, live.away_score, live.period) == (1, 0, 2)
    assert home_win_probability(live) > 0.5


def test_football_situation_gives_down_distance_field_position_and_possession():
    sit = {"down": 3, "distance": 7, "yardLine": 75, "possessionText": "GB 25", "possession": "9"}
    s = _one(_board(_event("STATUS_IN_PROGRESS", "in", 2, "4:12", 252.0, home=("ATL", "1", "10"),
                           away=("GB", "9", "7"), situation=sit)), "nfl")
    assert (s.possession, s.down, s.distance, s.yards_to_endzone) == ("away", 3, 7, 75)
    # without possessionText, yardLine is measured from the home goal line
    sit2 = {"down": 1, "distance": 10, "yardLine": 20, "possession": "1"}
    s2 = _one(_board(_event("STATUS_IN_PROGRESS", "in", 1, "9:00", 540.0, home=("ATL", "1", "0"),
                            away=("GB", "9", "0"), situation=sit2)), "college-football")
    assert (s2.possession, s2.yards_to_endzone) == ("home", 80)
    kickoff = {"down": -1, "distance": 0, "yardLine": 35, "possessionText": "ATL 35", "possession": "1"}
    s3 = _one(_board(_event("STATUS_IN_PROGRESS", "in", 1, "15:00", 900.0, home=("ATL", "1", "0"),
                            away=("GB", "9", "0"), situation=kickoff)), "nfl")
    assert (s3.down, s3.yards_to_endzone) == (0, 65)


def test_possession_flag_on_a_competitor():
    event = _event("STATUS_IN_PROGRESS", "in", 3, "6:00", 360.0)
    event["competitions"][0]["competitors"][1]["possession"] = True
    assert _one(_board(event), "nba").possession == "away"


# --- broken input: a clear error naming the field, or an UNKNOWN state -------------------------

def test_a_broken_game_becomes_unknown_and_the_rest_of_the_board_survives():
    good = _event("STATUS_IN_PROGRESS", "in", 2, "5:00", 300.0, event_id="1")
    no_competitors = _event("STATUS_IN_PROGRESS", "in", 2, "5:00", 300.0, event_id="2")
    del no_competitors["competitions"][0]["competitors"]
    bad_clock = _event("STATUS_IN_PROGRESS", "in", 2, "five", 300.0, event_id="3")
    bad_score = _event("STATUS_IN_PROGRESS", "in", 2, "5:00", 300.0, event_id="4")
    bad_score["competitions"][0]["competitors"][0]["score"] = "lots"
    bad_poss = _event("STATUS_IN_PROGRESS", "in", 2, "5:00", 300.0, event_id="5", situation={"possession": "77"})
    states = {s.game_id: s for s in parse_scoreboard(_board(good, no_competitors, bad_clock, bad_score, bad_poss),
                                                      "nfl", observed_at=NOW)}
    assert states["1"].status is GameStatus.IN_PROGRESS
    assert "competitions[0].competitors" in states["2"].detail and "a list" in states["2"].detail
    assert "displayClock" in states["3"].detail
    assert "competitors[home].score" in states["4"].detail
    assert "situation.possession" in states["5"].detail
    for gid in "2345":
        assert states[gid].status is GameStatus.UNKNOWN
        with pytest.raises(NoWinProbability):
            home_win_probability(states[gid])


def test_parts_that_name_no_game_are_reported_not_raised():
    no_id = _event("STATUS_FINAL", "post", 4, "0:00", 0.0)
    del no_id["id"], no_id["competitions"][0]["id"]
    result = parse_scoreboard_detailed(_board(no_id, "junk", {"id": "9"}), "nba", observed_at=NOW)
    assert result.states == ()
    fields = [e.field for e in result.errors]
    assert fields == ["events[0].competitions[0].id", "events[1]", "events[2].competitions"]


def test_structural_errors_name_the_field():
    with pytest.raises(EspnPayloadError, match="field events: expected a list"):
        parse_scoreboard({"leagues": []}, "nfl")
    with pytest.raises(EspnPayloadError, match="field payload: expected an object"):
        parse_scoreboard([], "nfl")
    with pytest.raises(EspnPayloadError, match="field header: expected an object"):
        parse_summary({"boxscore": {}}, "nba")
    with pytest.raises(EspnPayloadError, match="header.competitions"):
        parse_summary({"header": {"id": "1", "competitions": []}}, "nba")
    with pytest.raises(ValueError, match="unknown ESPN league 'curling'"):
        parse_scoreboard({"events": []}, "curling")


def test_a_missing_date_without_observed_at_is_an_error_but_with_it_is_fine():
    event = _event("STATUS_FINAL", "post", 4, "0:00", 0.0)
    del event["date"], event["competitions"][0]["date"]
    result = parse_scoreboard_detailed(_board(event), "nba")
    assert [e.field for e in result.errors] == ["events[0].competitions[0].date"]
    assert parse_scoreboard(_board(copy.deepcopy(event)), "nba", observed_at=NOW)[0].ts == NOW


def test_a_summary_with_a_broken_status_is_an_unknown_state():
    body = {"header": {"id": "55", "competitions": [{"id": "55", "date": "2025-01-05T18:00Z", "status": "??",
                                                     "competitors": []}]}}
    state = parse_summary(body, "nhl", observed_at=NOW)
    assert (state.game_id, state.status) == ("55", GameStatus.UNKNOWN)
    assert "header.competitions[0].status" in state.detail


def test_summary_reads_situation_and_pickcenter_spread():
    comp = _event("STATUS_IN_PROGRESS", "in", 3, "8:00", 480.0, home=("ATL", "1", "17"),
                  away=("GB", "9", "14"))["competitions"][0]
    body = {"header": {"id": "1", "competitions": [comp]},
            "situation": {"down": 2, "distance": 4, "possessionText": "ATL 40", "possession": "1"},
            "pickcenter": [{"spread": -2.5, "details": "ATL -2.5"}]}
    s = parse_summary(body, "nfl", observed_at=NOW)
    assert (s.possession, s.down, s.yards_to_endzone, s.home_spread) == ("home", 2, 60, Decimal("2.5"))
