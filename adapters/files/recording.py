"""A Kalshi ticker recording turned into Arbees's replay format (`python run.py convert-recording`,
adapters/cli/convert.py, is its command).

Input: JSON Lines as recorded from Kalshi's WebSocket `ticker` channel (one file per market:
"ts_iso", "market_ticker", "yes_bid_prob", "yes_ask_prob", "volume", ...), for example
../shared/data/kalshi-nba-2025-11-22-LAC-CHA/*.jsonl. Output: one replay file (see
adapters/files/replay.py) with the quotes of every input merged in time order, a settle event per
market whose last quote is decided (bid >= 0.90 -> yes, ask <= 0.10 -> no), and, unless
`--signals 0`, N synthetic signals spread over the busiest stretch (clearly marked
"source": "synthetic": the recording has no model), so the replay trades.

The recording carries no close time (nor does the market index). `--close-time TIME` writes
one on every quote of every market, `--close-time TICKER=TIME` on one market's (that wins over
the one for all). A Kalshi game market closes when its result is determined (it "can close
early"; the API's `close_time` is a backstop weeks later): in a recording, the moment the
book empties after sitting at 99/100 (20:25:28Z for the LAC-CHA recording). See the README,
"Close times".
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

CENTS = Decimal("0.0001")


class ConvertError(ValueError):
    pass


def _prob(value: Any, where: str, field: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConvertError(f"{where}: field {field!r}: expected a probability, found {value!r}")
    d = Decimal(str(value)).quantize(CENTS)
    if d < 0 or d > 1:
        raise ConvertError(f"{where}: field {field!r}: expected a probability in [0, 1], found {value!r}")
    return d


def read_recording(path: Path) -> list[dict[str, Any]]:
    out = []
    with path.open(encoding="utf-8") as fh:
        for n, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            where = f"{path}:{n}"
            try:
                rec = json.loads(raw)
                ts = datetime.fromisoformat(str(rec["ts_iso"]).replace("Z", "+00:00")).astimezone(timezone.utc)
                ticker = rec["market_ticker"]
            except (json.JSONDecodeError, KeyError, ValueError, TypeError) as exc:
                raise ConvertError(f"{where}: expected a ticker record with ts_iso and market_ticker ({exc})") from None
            bid = _prob(rec.get("yes_bid_prob"), where, "yes_bid_prob")
            ask = _prob(rec.get("yes_ask_prob"), where, "yes_ask_prob")
            vol = rec.get("volume")
            out.append({"ts": ts, "ticker": ticker, "bid": bid, "ask": ask,
                        "volume": int(vol) if isinstance(vol, (int, float)) and not isinstance(vol, bool) else None})
    return out


def parse_close_times(values: list[str]) -> dict[str | None, datetime]:
    """`--close-time` values: "TIME" (every market, key None) or "TICKER=TIME" (one market)."""
    out: dict[str | None, datetime] = {}
    for value in values:
        ticker, sep, text = value.rpartition("=") if "=" in value else (None, "", value)
        key = ticker if sep else None
        if sep and not ticker:
            raise ConvertError(f"--close-time {value!r}: expected TIME or TICKER=TIME, found an empty ticker")
        try:
            t = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            t = None
        if t is None or t.tzinfo is None:
            raise ConvertError(f"--close-time {value!r}: expected an ISO-8601 time with a UTC offset "
                               "(e.g. 2025-11-22T20:25:28Z), optionally after TICKER=")
        out[key] = t.astimezone(timezone.utc)
    return out


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def convert(paths: list[Path], *, signals: int = 6, sport: str = "nba", edge: Decimal = Decimal("0.06"),
            close_times: dict[str | None, datetime] | None = None) -> list[dict]:
    records = sorted((r for p in paths for r in read_recording(p)), key=lambda r: (r["ts"], r["ticker"]))
    if not records:
        raise ConvertError("no records in the input")
    close_times = close_times or {}
    unknown = sorted(t for t in close_times if t is not None and t not in {r["ticker"] for r in records})
    if unknown:
        raise ConvertError(f"--close-time: {', '.join(unknown)} is not a market of the recording")
    lines: list[dict[str, Any]] = []
    game_id = records[0]["ticker"].rsplit("-", 1)[0]

    for r in records:
        q: dict[str, Any] = {"ts": r["ts"].isoformat().replace("+00:00", "Z"), "type": "quote", "ticker": r["ticker"],
                             "yes_bid": None if r["bid"] is None else str(r["bid"]),
                             "yes_ask": None if r["ask"] is None else str(r["ask"])}
        if r["volume"] is not None:
            q["volume"] = r["volume"]
        close = close_times.get(r["ticker"], close_times.get(None))
        if close is not None:
            q["close_time"] = _iso(close)
        lines.append(q)
    if signals > 0:
        lines.extend(_signals(records, signals, game_id, sport, edge))
    last_bid: dict[str, Decimal] = {}
    last_ask: dict[str, Decimal] = {}
    for r in records:   # the last non-empty side of each market (an empty side is 0 or 1)
        if r["bid"] is not None and r["bid"] > 0:
            last_bid[r["ticker"]] = r["bid"]
        if r["ask"] is not None and r["ask"] < 1:
            last_ask[r["ticker"]] = r["ask"]
    end = records[-1]["ts"] + timedelta(seconds=1)
    for ticker in sorted({r["ticker"] for r in records}):
        bid, ask = last_bid.get(ticker), last_ask.get(ticker)
        result = "yes" if bid is not None and bid >= Decimal("0.90") else (
            "no" if ask is not None and ask <= Decimal("0.10") else None)
        if result:
            lines.append({"ts": end.isoformat().replace("+00:00", "Z"), "type": "settle", "ticker": ticker,
                          "result": result})
    lines.sort(key=lambda x: (x["ts"], {"quote": 0, "signal": 1, "settle": 2}[x["type"]]))
    return lines


def _signals(records, n, game_id, sport, edge):  # type: ignore[no-untyped-def]
    """N signals spread evenly over the stretch with the most quotes (the game itself)."""
    gaps = [(records[i + 1]["ts"] - records[i]["ts"], i) for i in range(len(records) - 1)]
    big = max(gaps)[1] if gaps else -1
    live = records[big + 1:] if big >= 0 and max(gaps)[0] > timedelta(hours=1) else records
    start, stop = live[0]["ts"], live[-1]["ts"]
    span = stop - start
    out = []
    by_time = {}
    for r in live:
        by_time.setdefault(r["ticker"], []).append(r)
    tickers = sorted(by_time)
    for k in range(n):
        at = start + span * (k + 1) / (n + 2)
        ticker = tickers[k % len(tickers)]
        ref = next((r for r in by_time[ticker] if r["ts"] >= at), by_time[ticker][-1])
        if ref["ask"] is None or ref["bid"] is None:
            continue
        side = "yes" if k % 2 == 0 else "no"
        ask = ref["ask"] if side == "yes" else 1 - ref["bid"]
        prob = min(Decimal("0.99"), ask + edge)
        out.append({"ts": ref["ts"].isoformat().replace("+00:00", "Z"), "type": "signal", "ticker": ticker,
                    "side": side, "signal_type": ("model_edge", "momentum", "default")[k % 3],
                    "win_probability": str(prob), "market_price": str(ask), "game_id": game_id, "sport": sport,
                    "signal_id": f"synthetic-{k + 1}", "source": "synthetic"})
    return out
