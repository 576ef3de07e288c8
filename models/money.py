"""Money and price helpers. Prices are Decimal dollars in [0, 1]; counts are int contracts."""
from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation

ZERO = Decimal("0")
ONE = Decimal("1")
CENT = Decimal("0.01")
HUNDRED = Decimal("100")
TAKER_FEE_RATE = Decimal("0.07")


def to_decimal(value: object, field: str = "value") -> Decimal:
    """Parse a number that arrived as str/int/Decimal (never float arithmetic)."""
    if isinstance(value, bool):
        raise ValueError(f"{field}: expected a number, found a boolean")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, (int, str)):
        try:
            d = Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise ValueError(f"{field}: expected a decimal number, found {value!r}") from exc
        if not d.is_finite():
            raise ValueError(f"{field}: expected a finite number, found {value!r}")
        return d
    if isinstance(value, float):  # only from YAML/JSON; go through repr, not binary value
        return to_decimal(repr(value), field)
    raise ValueError(f"{field}: expected a number, found {type(value).__name__} {value!r}")


def to_price(value: object, field: str = "price") -> Decimal:
    """A dollar price in [0, 1], e.g. "0.5600" -> Decimal("0.5600")."""
    d = to_decimal(value, field)
    if d < ZERO or d > ONE:
        raise ValueError(f"{field}: expected a price between 0 and 1 dollars, found {value!r}")
    return d


def round_to_tick(price: Decimal, tick: Decimal = CENT, *, up: bool | None = None) -> Decimal:
    """Round to the market tick: up (ceil), down (floor) or nearest when up is None."""
    mode = ROUND_HALF_UP if up is None else (ROUND_CEILING if up else ROUND_FLOOR)
    return (price / tick).to_integral_value(rounding=mode) * tick


def clamp_price(price: Decimal, tick: Decimal = CENT) -> Decimal:
    """Keep a limit price inside the tradable range [1 tick, 1 - 1 tick]."""
    return min(max(price, tick), ONE - tick)


def taker_fee(contracts: int, price: Decimal) -> Decimal:
    """Kalshi taker fee: ceil to the cent of 0.07 x C x P x (1 - P)."""
    if contracts <= 0:
        return ZERO
    raw = TAKER_FEE_RATE * Decimal(contracts) * price * (ONE - price)
    return round_to_tick(raw, CENT, up=True)


def cents(d: Decimal) -> Decimal:
    return d * HUNDRED


def fmt_money(d: Decimal) -> str:
    """Readable signed dollars: '+$1.23' / '-$0.40'."""
    q = d.quantize(CENT, rounding=ROUND_HALF_UP)
    sign = "-" if q < 0 else "+"
    return f"{sign}${abs(q)}"


STORE_PLACES = Decimal("0.000001")


def q6(d: Decimal) -> Decimal:
    """Round a derived amount (an average, a fee share) to the 6 places the database keeps."""
    return d.quantize(STORE_PLACES, rounding=ROUND_HALF_UP)


# --- console formatting: one way to write each kind of number --------------------------------

PRICE_PLACES = Decimal("0.0001")


def fmt_price(p: Decimal | None) -> str:
    """A price or probability, always 4 decimals (exact for every Kalshi price and for the
    average fill prices the venues report): '0.3900'. None: '-'."""
    return "-" if p is None else f"{Decimal(p).quantize(PRICE_PLACES, rounding=ROUND_HALF_UP)}"


def fmt_usd(d: Decimal) -> str:
    """Dollars without a sign for positive amounts (a cost, a fee): '$0.21', '-$0.40'."""
    q = Decimal(d).quantize(CENT, rounding=ROUND_HALF_UP)
    return f"-${abs(q)}" if q < 0 else f"${q}"


def fmt_pct(value: Decimal, against: Decimal | None = None, places: int = 2) -> str:
    """A percentage with `places` decimals, or more when fewer would misstate how it compares
    with `against` (1.996 vs 2 is '1.996%', never '2.00%' next to '< 2%')."""
    v = Decimal(value)
    for n in range(places, 9):
        shown = v.quantize(Decimal(1).scaleb(-n), rounding=ROUND_HALF_UP)
        if against is None or (shown > against) - (shown < against) == (v > against) - (v < against):
            return f"{shown}%"
    return f"{v}%"


def plural(n: int, word: str) -> str:
    """'1 contract', '2 contracts', '0 contracts'."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
