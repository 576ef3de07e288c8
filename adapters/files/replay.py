"""Replay files: JSON Lines, one event a line, parsed once (at the edge) into domain types.

Every line is an object with "ts" (ISO-8601 with a UTC offset, e.g. "2025-11-22T17:50:01Z")
and "type":
- "quote":  ticker, yes_bid, yes_ask (dollar strings such as "0.4500"; null, "0" for a bid or
            "1" for an ask mean that side is empty); optional yes_bid_size, yes_ask_size,
            volume, close_time.
- "game":   game_id, sport, home_score, away_score, period, clock (seconds left in the period);
            optional possession ("home"/"away"), home_team, away_team (team codes: a ticker whose
            last part names one of them is linked to the game, YES = that team wins).
- "signal": ticker, side ("yes"/"no"), signal_type, win_probability (of the named side);
            optional game_id, sport, market_price, contracts (forces the size), signal_id.
- "settle": ticker, result ("yes"/"no").
Unknown types and unknown fields are skipped (newer files keep working; skipped types are
counted and reported). Anything malformed is a ReplayError naming the file, the line, the
field, what was expected and what was found; the file is read whole before anything runs,
so a bad file changes nothing.
"""
from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from adapters.sim.session import MarketLink
from models.events import MarketSettled
from models.game import GameState, GameStatus
from models.market import Quote, Side
from models.money import ONE, ZERO, to_decimal, to_price
from models.signal import TradingSignal

KNOWN_TYPES = ("quote", "game", "signal", "settle")
MAX_WHOLE = 10 ** 12    # sizes, volumes, scores, periods and contracts all stay far below it
PRICE_PLACES = Decimal("0.000001")


class ReplayError(ValueError):
    pass


class _Line:
    def __init__(self, path: Path, number: int, obj: dict[str, Any]) -> None:
        self.path, self.number, self.obj = path, number, obj

    def fail(self, field: str, expected: str, found: Any) -> ReplayError:
        return ReplayError(f"{self.path}:{self.number}: field {field!r}: expected {expected}, found {found!r}")

    def req(self, field: str) -> Any:
        if field not in self.obj or self.obj[field] is None:
            raise self.fail(field, "a value", None)
        return self.obj[field]

    def text(self, field: str, optional: bool = False) -> str | None:
        v = self.obj.get(field)
        if v is None and optional:
            return None
        if not isinstance(v, str) or not v.strip():
            raise self.fail(field, "a non-empty string", v)
        return v.strip()

    def time(self, field: str, optional: bool = False) -> datetime | None:
        v = self.obj.get(field)
        if v is None and optional:
            return None
        if not isinstance(v, str):
            raise self.fail(field, "an ISO-8601 time with a UTC offset", v)
        try:
            t = datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            raise self.fail(field, "an ISO-8601 time with a UTC offset", v) from None
        if t.tzinfo is None:
            raise self.fail(field, "an ISO-8601 time with a UTC offset (e.g. Z or +00:00)", v)
        try:
            return t.astimezone(timezone.utc)
        except OverflowError:      # "0001-01-01T00:00:00+05:00" is before the first representable UTC time
            raise self.fail(field, "an ISO-8601 time between the years 1 and 9999 in UTC", v) from None

    def price(self, field: str, optional: bool = False) -> Decimal | None:
        v = self.obj.get(field)
        if v is None:
            if optional:
                return None
            raise self.fail(field, "a dollar price such as \"0.4500\"", v)
        if isinstance(v, bool) or not isinstance(v, (str, int, float)):
            raise self.fail(field, "a dollar price such as \"0.4500\"", v)
        try:
            d = to_price(v, field)
        except ValueError:
            raise self.fail(field, "a dollar price between 0 and 1 such as \"0.4500\"", v) from None
        if d != d.quantize(PRICE_PLACES):   # the database keeps 6 places and never rounds money
            raise self.fail(field, "a dollar price with at most 6 decimal places", v)
        return d

    def integer(self, field: str, optional: bool = False, minimum: int = 0) -> int | None:
        v = self.obj.get(field)
        if v is None and optional:
            return None
        if isinstance(v, bool):
            raise self.fail(field, "a whole number", v)
        if isinstance(v, str):
            try:
                v = Decimal(v)
            except ArithmeticError:
                raise self.fail(field, "a whole number", v) from None
        if isinstance(v, float):
            v = Decimal(repr(v))            # nan and inf stay non-finite and are refused below
        if isinstance(v, Decimal):
            # Checked before int(): int() of NaN or Infinity raises, of "1e999999" takes minutes.
            if not v.is_finite() or v.copy_abs() >= MAX_WHOLE or v != v.to_integral_value():
                raise self.fail(field, f"a whole number >= {minimum}", self.obj.get(field))
            v = int(v)
        if not isinstance(v, int) or v < minimum or v >= MAX_WHOLE:
            raise self.fail(field, f"a whole number >= {minimum}", self.obj.get(field))
        return v

    def side(self, field: str) -> Side:
        v = self.obj.get(field)
        if v not in ("yes", "no"):
            raise self.fail(field, '"yes" or "no"', v)
        return Side(v)


def _quote(ln: _Line, ts: datetime) -> Quote:
    bid = ln.price("yes_bid", optional=True)
    ask = ln.price("yes_ask", optional=True)
    bid = None if bid is not None and bid <= ZERO else bid
    ask = None if ask is not None and ask >= ONE else ask
    if bid is not None and ask is not None and bid > ask:
        raise ln.fail("yes_bid", f"a bid at or below the ask {ask}", str(bid))
    return Quote(ticker=ln.text("ticker"), ts=ts, yes_bid=bid, yes_ask=ask,
                 yes_bid_size=ln.integer("yes_bid_size", optional=True),
                 yes_ask_size=ln.integer("yes_ask_size", optional=True),
                 volume=ln.integer("volume", optional=True), close_time=ln.time("close_time", optional=True))


def _game(ln: _Line, ts: datetime) -> GameState:
    clock = ln.req("clock")
    try:
        clock_secs = to_decimal(clock, "clock")
    except ValueError:
        raise ln.fail("clock", "seconds left in the period", clock) from None
    if clock_secs < 0:
        raise ln.fail("clock", "seconds left in the period (>= 0)", clock)
    possession = ln.obj.get("possession")
    if possession not in (None, "home", "away"):
        raise ln.fail("possession", '"home", "away" or absent', possession)
    return GameState(game_id=ln.text("game_id"), sport=ln.text("sport").lower(), ts=ts,
                     status=GameStatus.IN_PROGRESS, home_team=ln.text("home_team", True) or "",
                     away_team=ln.text("away_team", True) or "", home_score=ln.integer("home_score"),
                     away_score=ln.integer("away_score"), period=ln.integer("period", minimum=1),
                     clock_secs=clock_secs, possession=possession)


def _signal(ln: _Line, ts: datetime, sports: dict[str, str]) -> TradingSignal:
    wp = ln.req("win_probability")
    try:
        prob = to_price(wp, "win_probability")
    except ValueError:
        raise ln.fail("win_probability", "a probability between 0 and 1", wp) from None
    game_id = ln.text("game_id", optional=True)
    sport = ln.text("sport", optional=True) or (sports.get(game_id, "") if game_id else "") or "default"
    ticker = ln.text("ticker")
    side = ln.side("side")
    sid = ln.text("signal_id", optional=True) or f"r{ln.number}-{ticker}-{side.value}"
    return TradingSignal(signal_id=sid, ts=ts, game_id=game_id, sport=sport.lower(), ticker=ticker,
                         platform="replay", side=side, signal_type=ln.text("signal_type"),
                         win_probability=prob, market_price=ln.price("market_price", optional=True),
                         source="replay", contracts=ln.integer("contracts", optional=True, minimum=1))


def read_replay(path: Path) -> tuple[list[tuple[datetime, Any]], dict[str, list[MarketLink]]]:
    """Parse a whole replay file: (events in file order, game_id -> linked markets)."""
    if not path.exists():
        raise ReplayError(f"{path}: no such file")
    events: list[tuple[datetime, Any]] = []
    skipped: Counter[str] = Counter()
    sports: dict[str, str] = {}
    teams: dict[str, tuple[str, str]] = {}
    tickers_of_game: dict[str, set[str]] = {}
    last_ts: datetime | None = None
    try:
        fh = path.open("rb")     # bytes, decoded line by line: a bad byte is reported on its own line
    except OSError as exc:
        raise ReplayError(f"{path}: cannot read the file ({exc.strerror or type(exc).__name__})") from None
    with fh:
        for number, data in enumerate(fh, start=1):
            try:
                raw = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ReplayError(f"{path}:{number}: not UTF-8 text (byte {exc.start + 1})") from None
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ReplayError(f"{path}:{number}: not valid JSON ({exc.msg} at column {exc.colno})") from None
            except (ValueError, RecursionError) as exc:   # a 5,000-digit number; arrays nested 1,000 deep
                raise ReplayError(f"{path}:{number}: not valid JSON ({type(exc).__name__}: "
                                  f"{str(exc)[:80]})") from None
            if not isinstance(obj, dict):
                raise ReplayError(f"{path}:{number}: expected a JSON object, found {type(obj).__name__}")
            ln = _Line(path, number, obj)
            kind = obj.get("type")
            if not isinstance(kind, str):
                raise ln.fail("type", f"one of {', '.join(KNOWN_TYPES)}", kind)
            ts = ln.time("ts")
            assert ts is not None
            if last_ts is not None and ts < last_ts:
                raise ln.fail("ts", f"a time at or after the previous line's {last_ts.isoformat()}", obj.get("ts"))
            last_ts = ts
            if kind == "quote":
                events.append((ts, _quote(ln, ts)))
            elif kind == "game":
                g = _game(ln, ts)
                sports[g.game_id] = g.sport
                if g.home_team and g.away_team:
                    teams[g.game_id] = (g.home_team.upper(), g.away_team.upper())
                events.append((ts, g))
            elif kind == "signal":
                sig = _signal(ln, ts, sports)
                if sig.game_id:
                    tickers_of_game.setdefault(sig.game_id, set()).add(sig.ticker)
                events.append((ts, sig))
            elif kind == "settle":
                events.append((ts, MarketSettled(ln.text("ticker"), ln.side("result"), ts)))
            else:
                skipped[kind] += 1
    links: dict[str, list[MarketLink]] = {}
    for game_id, (home, away) in teams.items():
        for ticker in sorted(tickers_of_game.get(game_id, ())):
            suffix = ticker.rsplit("-", 1)[-1].upper()
            if suffix in (home, away):
                links.setdefault(game_id, []).append(MarketLink(ticker, suffix == home))
    if skipped:
        from loguru import logger
        logger.warning("{}: skipped events of unknown types: {}", path, dict(skipped))
    return events, links
