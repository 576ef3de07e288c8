"""`winprob`: print the home side's win probability for a game state.

    winprob --sport S --home-score H --away-score A --period P --clock SECONDS
            [--spread X] [--possession home|away] [--down D --distance N --yards-to-endzone Y]
            [--outs N] [--best-of 3|5] [--added-time SECONDS] [--json]
    winprob --espn-event ID (--sport S | --league SLUG) [--spread X] [--json]
    winprob --batch IN.csv --out OUT.csv

- A state given by hand is in progress when --period >= 1 and scheduled when it is 0. --clock is
  the time left in the period, seconds ("754", "20.2") or "12:34"; it is required for the timed
  sports (not MLB or tennis). Soccer's --clock is what is left of the half.
- --espn-event fetches the game from ESPN's summary endpoint first and prints the state beside
  the probability; --spread then overrides ESPN's line (ESPN has none once a game is over).
- --batch reads CSV rows (columns sport, home_score, away_score, period, clock and optionally
  spread, possession, down, distance, yards_to_endzone, outs, best_of) and writes each row again
  with `home_win_probability` added. A bad row is reported on stderr with its line number and
  skipped.
Exit codes: 0 done; 1 no probability (ESPN unreachable or unreadable, a game that is off) or at
least one bad batch row (the good rows are still written); 2 bad arguments (argparse-style
message naming the flag).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Callable, TextIO

from actors.clock import Clock, WallClock
from adapters.cli.arg_types import whole_number
from adapters.cli.winprob_batch import run_batch
from adapters.espn import DEFAULT_BASE_URL, EspnClient, EspnError, parse_clock_text
from models.game import GameState, GameStatus
from models.winprob import MODEL_NAMES, NoWinProbability, result_probabilities, sport_key

TIMED = {"nfl", "ncaaf", "nba", "wnba", "ncaab", "nhl", "soccer"}
DEFAULT_LEAGUE = {"nfl": "nfl", "ncaaf": "college-football", "nba": "nba", "wnba": "wnba",
                  "ncaab": "mens-college-basketball", "nhl": "nhl", "mlb": "mlb"}
PROG = "winprob"


_nonneg_int = whole_number(0)


def clock_arg(text: str) -> Decimal:
    try:
        return parse_clock_text(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value.is_finite():
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _sport(text: str) -> str:
    try:
        return sport_key(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(PROG, help="print the home win probability of a game state",
                              description="Home win probability from a game state, an ESPN event, or a CSV batch.")
    p.add_argument("--sport", type=_sport, help="nfl, ncaaf, nba, wnba, ncaab, nhl, mlb, soccer, tennis")
    p.add_argument("--home-score", type=_nonneg_int)
    p.add_argument("--away-score", type=_nonneg_int)
    p.add_argument("--period", type=_nonneg_int, help="quarter/half/period/inning/set; 0 = not started")
    p.add_argument("--clock", type=clock_arg, help="time left in the period: seconds or M:SS")
    p.add_argument("--spread", type=_decimal, help="pre-game expected margin, positive = home favoured")
    p.add_argument("--possession", choices=("home", "away"),
                   help="side with the ball (MLB: the batting side)")
    p.add_argument("--down", type=int, choices=(0, 1, 2, 3, 4))
    p.add_argument("--distance", type=_nonneg_int)
    p.add_argument("--yards-to-endzone", type=_nonneg_int)
    p.add_argument("--outs", type=int, choices=(0, 1, 2), help="MLB: outs in the half-inning")
    p.add_argument("--best-of", type=int, choices=(3, 5), default=3, help="tennis: sets (default 3)")
    p.add_argument("--added-time", type=clock_arg, help="soccer: stoppage time played so far")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--espn-event", metavar="ID", help="fetch the state of this ESPN event first")
    p.add_argument("--league", help="ESPN league slug for --espn-event (eng.1, atp, ...)")
    p.add_argument("--espn-base-url", default=DEFAULT_BASE_URL, help=argparse.SUPPRESS)
    p.add_argument("--batch", metavar="IN.csv", help="price every row of a CSV file")
    p.add_argument("--out", metavar="OUT.csv", help="where --batch writes ('-' = stdout)")
    p.set_defaults(func=run)


def _usage_error(err: TextIO, message: str) -> int:
    print(f"{PROG}: error: {message}", file=err)
    return 2


def run(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None,
        clock: Clock | None = None, client_factory: Callable[[str], EspnClient] | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    clock = clock or WallClock()
    if args.batch is not None:
        if args.out is None:
            return _usage_error(err, "--batch needs --out OUT.csv (or --out - for stdout)")
        if args.espn_event is not None:
            return _usage_error(err, "--batch and --espn-event cannot be combined")
        return run_batch(args.batch, args.out, out=out, err=err)
    if args.out is not None:
        return _usage_error(err, "--out is only used with --batch")
    if args.espn_event is not None:
        return _run_espn(args, out, err, clock, client_factory)
    missing = [flag for flag, value in (("--sport", args.sport), ("--home-score", args.home_score),
                                        ("--away-score", args.away_score), ("--period", args.period))
               if value is None]
    if missing:
        return _usage_error(err, f"the following arguments are required: {', '.join(missing)}")
    if args.sport in TIMED and args.period > 0 and args.clock is None:
        return _usage_error(err, f"--clock is required for {args.sport} once the game has started")
    state = GameState(
        game_id="cli", sport=args.sport, ts=clock.now(),
        status=GameStatus.SCHEDULED if args.period == 0 else GameStatus.IN_PROGRESS,
        home_score=args.home_score, away_score=args.away_score, period=args.period,
        clock_secs=args.clock, possession=args.possession, down=args.down, distance=args.distance,
        yards_to_endzone=args.yards_to_endzone, home_spread=args.spread, added_time_secs=args.added_time,
    )
    return _print_probability(state, args, out, err, source=None)


def _run_espn(args: argparse.Namespace, out: TextIO, err: TextIO, clock: Clock,
              client_factory: Callable[[str], EspnClient] | None) -> int:
    if args.league is None and args.sport is None:
        return _usage_error(err, "--espn-event needs --sport or --league")
    league = args.league or DEFAULT_LEAGUE.get(args.sport or "")
    if league is None:
        return _usage_error(err, f"--espn-event for {args.sport} needs --league (e.g. eng.1, usa.1, atp, wta)")
    factory = client_factory or (lambda base: EspnClient(clock, base_url=base))

    async def fetch() -> GameState:
        async with factory(args.espn_base_url) as client:
            return await client.fetch_summary(league, args.espn_event)

    try:
        state = asyncio.run(fetch())
    except ValueError as exc:                       # a bad league slug or event id
        return _usage_error(err, str(exc))
    except EspnError as exc:
        print(f"{PROG}: error: could not get ESPN event {args.espn_event} ({league}): {exc}", file=err)
        return 1
    if args.spread is not None:
        state = replace(state, home_spread=args.spread)
    return _print_probability(state, args, out, err, source=f"ESPN {league} event {args.espn_event}")


def describe(state: GameState) -> dict:
    """The state as plain JSON-able values."""
    def num(x):
        return None if x is None else float(x)
    return {
        "game_id": state.game_id, "sport": state.sport, "status": state.status.value,
        "home_team": state.home_team, "away_team": state.away_team,
        "home_score": state.home_score, "away_score": state.away_score, "period": state.period,
        "clock_secs": num(state.clock_secs), "possession": state.possession, "down": state.down,
        "distance": state.distance, "yards_to_endzone": state.yards_to_endzone,
        "home_spread": num(state.home_spread), "added_time_secs": num(state.added_time_secs),
        "detail": state.detail,
    }


def _clock_text(secs: Decimal | None) -> str:
    if secs is None:
        return "-"
    whole = int(secs)
    if secs < 60 and secs != whole:
        return f"{secs}"
    return f"{whole // 60}:{whole % 60:02d}"


def state_line(state: GameState) -> str:
    home = state.home_team or "home"
    away = state.away_team or "away"
    parts = [f"{state.sport}  {away} {state.away_score} @ {home} {state.home_score}",
             f"{state.status.value}", f"period {state.period}", f"clock {_clock_text(state.clock_secs)}"]
    if state.possession:
        parts.append(f"possession {state.possession}")
    if state.down:
        parts.append(f"down {state.down} & {state.distance if state.distance is not None else '?'}")
    if state.yards_to_endzone is not None:
        parts.append(f"{state.yards_to_endzone} yds to go")
    parts.append(f"spread {'-' if state.home_spread is None else f'{state.home_spread:+}'}")
    if state.detail:
        parts.append(f"({state.detail})")
    return "  ".join(parts)


def _print_probability(state: GameState, args: argparse.Namespace, out: TextIO, err: TextIO,
                       source: str | None) -> int:
    try:
        probs = result_probabilities(state, outs=args.outs, best_of=args.best_of)
    except NoWinProbability as exc:
        if args.json:
            print(json.dumps({"source": source, "state": describe(state), "home_win_probability": None,
                              "reason": str(exc)}), file=out)
        else:
            print(state_line(state), file=out)
            print(f"no win probability: {exc}", file=err)
        return 1
    model = MODEL_NAMES[sport_key(state.sport)]
    if args.json:
        body = {"source": source, "state": describe(state), "model": model,
                "home_win_probability": round(probs.home, 6)}
        if sport_key(state.sport) == "soccer":
            body.update(draw_probability=round(probs.draw, 6), away_win_probability=round(probs.away, 6))
        print(json.dumps(body), file=out)
        return 0
    if source:
        print(source, file=out)
    print(state_line(state), file=out)
    line = f"home win probability: {probs.home:.4f}"
    if sport_key(state.sport) == "soccer":
        line += f"  draw {probs.draw:.4f}  away {probs.away:.4f}"
    print(f"{line}  [{model}]", file=out)
    return 0
