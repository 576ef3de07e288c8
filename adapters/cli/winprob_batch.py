"""`winprob --batch IN.csv --out OUT.csv`: price every row of a CSV file.

Required columns: sport, home_score, away_score, period, clock (empty for MLB and tennis, and
before the start). Optional: spread, possession (home|away; MLB: the batting side), down,
distance, yards_to_endzone, outs (MLB), best_of (tennis, 3 or 5). Other columns are carried
through untouched. Each good row is written again with `home_win_probability` (6 decimals) at
the end; a bad row is reported on stderr as "IN.csv line N: reason" (N counts the header as
line 1) and skipped. Returns 0 when every row was priced, 1 when any row was bad or a required
column is missing, 2 when IN.csv cannot be opened or OUT.csv cannot be written.
"""
from __future__ import annotations

import csv
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import TextIO

from adapters.espn.fields import parse_clock_text
from models.game import GameState, GameStatus
from models.winprob import NoWinProbability, home_win_probability, sport_key

REQUIRED = ("sport", "home_score", "away_score", "period", "clock")
OPTIONAL = ("spread", "possession", "down", "distance", "yards_to_endzone", "outs", "best_of")
OUTPUT_COLUMN = "home_win_probability"
_TIMED = {"nfl", "ncaaf", "nba", "wnba", "ncaab", "nhl", "soccer"}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)     # rows carry no time; the models need none


class BadRow(ValueError):
    """A row we cannot price; the message names the column."""


def _int(row: dict, column: str, lo: int = 0, hi: int | None = None, required: bool = True) -> int | None:
    text = (row.get(column) or "").strip()
    if not text:
        if required:
            raise BadRow(f"{column} is empty")
        return None
    try:
        value = int(text)
    except ValueError:
        raise BadRow(f"{column}: expected a whole number, got {text!r}") from None
    if value < lo or (hi is not None and value > hi):
        bounds = f"from {lo} to {hi}" if hi is not None else f">= {lo}"
        raise BadRow(f"{column}: expected a number {bounds}, got {value}")
    return value


def row_state(row: dict) -> tuple[GameState, int | None, int]:
    """(state, outs, best_of) for one CSV row; BadRow names the offending column."""
    try:
        sport = sport_key(row.get("sport") or "")
    except ValueError as exc:
        raise BadRow(f"sport: {exc}") from None
    home, away = _int(row, "home_score"), _int(row, "away_score")
    period = _int(row, "period")
    clock_text = (row.get("clock") or "").strip()
    clock = None
    if clock_text:
        try:
            clock = parse_clock_text(clock_text)
        except ValueError as exc:
            raise BadRow(f"clock: {exc}") from None
    elif sport in _TIMED and period:
        raise BadRow(f"clock is empty, and {sport} needs it once the game has started")
    spread_text = (row.get("spread") or "").strip()
    spread = None
    if spread_text:
        try:
            spread = Decimal(spread_text)
        except InvalidOperation:
            raise BadRow(f"spread: expected a number, got {spread_text!r}") from None
        if not spread.is_finite():
            raise BadRow(f"spread: expected a finite number, got {spread_text!r}")
    possession = (row.get("possession") or "").strip().lower() or None
    if possession not in (None, "home", "away"):
        raise BadRow(f"possession: expected home, away or empty, got {possession!r}")
    outs = _int(row, "outs", 0, 2, required=False)
    best_of = _int(row, "best_of", 3, 5, required=False) or 3
    if best_of == 4:
        raise BadRow("best_of: expected 3 or 5, got 4")
    state = GameState(
        game_id="batch", sport=sport, ts=_EPOCH,
        status=GameStatus.SCHEDULED if period == 0 else GameStatus.IN_PROGRESS,
        home_score=home, away_score=away, period=period, clock_secs=clock, possession=possession,
        down=_int(row, "down", 0, 4, required=False), distance=_int(row, "distance", required=False),
        yards_to_endzone=_int(row, "yards_to_endzone", 0, 100, required=False), home_spread=spread,
    )
    return state, outs, best_of


def price_rows(reader: csv.DictReader, writer: csv.DictWriter, name: str, err: TextIO) -> int:
    """Write each priced row; report the bad ones. Returns the number of bad rows."""
    bad = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return bad
        except csv.Error as exc:            # unreadable CSV from here on (e.g. a NUL byte)
            print(f"{name} line {reader.line_num}: {exc}; the rest of the file is skipped", file=err)
            return bad + 1
        line = reader.line_num
        try:
            if None in row:
                raise BadRow(f"{len(row[None])} more field(s) than the header has")
            state, outs, best_of = row_state(row)
            prob = home_win_probability(state, outs=outs, best_of=best_of)
        except (BadRow, NoWinProbability, ValueError) as exc:
            print(f"{name} line {line}: {exc}", file=err)
            bad += 1
            continue
        writer.writerow({**row, OUTPUT_COLUMN: f"{prob:.6f}"})


def run_batch(in_path: str, out_path: str, *, out: TextIO, err: TextIO) -> int:
    try:
        source = open(in_path, newline="", encoding="utf-8")
    except OSError as exc:
        print(f"winprob: error: argument --batch: cannot open {in_path}: {exc.strerror}", file=err)
        return 2
    with source:
        reader = csv.DictReader(source)
        header = reader.fieldnames or []
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            print(f"{in_path}: missing column(s) {', '.join(missing)}; need {', '.join(REQUIRED)}", file=err)
            return 1
        columns = list(header) + ([OUTPUT_COLUMN] if OUTPUT_COLUMN not in header else [])
        try:
            sink = out if out_path == "-" else open(out_path, "w", newline="", encoding="utf-8")
        except OSError as exc:
            print(f"winprob: error: argument --out: cannot write {out_path}: {exc.strerror}", file=err)
            return 2
        try:
            writer = csv.DictWriter(sink, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            bad = price_rows(reader, writer, in_path, err)
        finally:
            if sink is not out:
                sink.close()
    if bad:
        print(f"{in_path}: {bad} bad row(s) skipped", file=err)
        return 1
    return 0

