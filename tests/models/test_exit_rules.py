"""Exit rules as scenario tables: one row = a position and a quote in, the triggers out.

In the style of freqtrade's tests/optimize/test_backtest_detail.py: each row is a small,
readable scenario. A row gives the held side, entry price, contracts, what the position
already knows (peak, trailing stop, partial stages done), the quote (YES bid/ask, volume,
time to close, age), the context (model probability of our side, circuit breaker, rebalance
offer) and the triggers expected, in the order evaluate_exits returns them:
(condition, priority, contracts).

Default thresholds (config/position_management.yaml, signal type "default"): stop loss 12%,
profit target 20%, trailing stop activation 10% / distance 5c; partial stages +15% sells 50%,
+25% sells 25%; liquidity spread > 3c or volume < 50; time_based_urgent < 5 min; early exit
edge < 2 points, edge_disappeared edge < 0; rebalance margin 5 points; price TTL 10 s.
"""
from __future__ import annotations

from dataclasses import dataclass
import dataclasses
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.loader import load_config
from config.schema import Config
from models.exit_rules import ExitContext, ExitTrigger, evaluate_exits, near_threshold, partial_stage_size
from models.market import Quote, Side
from models.pnl import mark_position
from models.position import PositionState
from models.priorities import Priority

T0 = datetime(2025, 11, 22, 19, 0, tzinfo=timezone.utc)
YES, NO = Side.YES, Side.NO
TICKER = "KXNBAGAME-TEST"
_DEFAULT = load_config()

# Config overrides used by some rows: each is a --config file over the defaults.
OVERRIDES = {
    "no_partials": "partial_exits:\n  enabled: false\n",
    "reordered": (
        "exit_priorities:\n"
        "  CRITICAL: [circuit_breaker, stop_loss]\n"
        "  HIGH: [liquidity_dried_up, time_based_urgent, trailing_stop]\n"
    ),
    "rebalance_off": "rebalance:\n  enabled: false\n",
    "small_first_stage": (
        "partial_exits:\n"
        "  stages:\n"
        "    - {profit_pct: 15, sell_fraction_pct: 10}\n"
        "    - {profit_pct: 25, sell_fraction_pct: 50}\n"
    ),
    "stop_loss_low": (  # stop loss moved to LOW: priority comes from config, not from the code
        "exit_priorities:\n"
        "  CRITICAL: [circuit_breaker]\n"
        "  LOW: [early_exit, edge_disappeared, rebalance, stop_loss]\n"
    ),
}


@pytest.fixture(scope="module")
def configs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Config]:
    out = {"default": load_config()}
    folder = tmp_path_factory.mktemp("exit-configs")
    for name, text in OVERRIDES.items():
        path = folder / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        out[name] = load_config(path)
    return out


@dataclass(frozen=True)
class Row:
    description: str
    side: Side
    entry: str
    contracts: int
    yes_bid: str | None
    yes_ask: str | None
    expected: tuple[tuple[str, str, int], ...]
    initial: int | None = None                 # initial contracts (default: contracts)
    signal_type: str = "default"
    peak: str | None = None
    trailing_active: bool = False
    trailing_price: str | None = None
    stages_done: int = 0
    volume: int | None = 1000                  # lifetime volume (only grows: never judged)
    recent_volume: int | None = 1000           # traded within liquidity.volume_window_secs (None: unknown)
    close_in: timedelta | None = timedelta(hours=2)
    age: timedelta = timedelta(seconds=0)
    no_quote: bool = False
    model_probability: str | None = None       # of OUR side
    model_age: timedelta | None = timedelta(0)  # how old that probability is (None: unknown, e.g. after a restart)
    breaker: bool = False
    rebalance_edge: str | None = None
    config: str = "default"


def state_of(row: Row) -> PositionState:
    return PositionState(
        position_id="p1", ticker=TICKER, side=row.side, signal_type=row.signal_type, sport="nba",
        game_id="g1", entry_price=D(row.entry), initial_contracts=row.initial or row.contracts,
        contracts=row.contracts, entry_fees=D("0"), opened_at=T0 - timedelta(hours=1),
        peak_price=None if row.peak is None else D(row.peak), trailing_stop_active=row.trailing_active,
        trailing_stop_price=None if row.trailing_price is None else D(row.trailing_price),
        partial_stages_done=row.stages_done,
    )


def quote_of(row: Row) -> Quote | None:
    if row.no_quote:
        return None
    return Quote(TICKER, T0 - row.age,
                 yes_bid=None if row.yes_bid is None else D(row.yes_bid),
                 yes_ask=None if row.yes_ask is None else D(row.yes_ask),
                 volume=row.volume, close_time=None if row.close_in is None else T0 + row.close_in,
                 recent_volume=row.recent_volume)


def context_of(row: Row) -> ExitContext:
    return ExitContext(None if row.model_probability is None else D(row.model_probability), row.breaker,
                       None if row.rebalance_edge is None else D(row.rebalance_edge),
                       model_probability_ts=None if row.model_age is None else T0 - row.model_age)


LASTED = timedelta(hours=1)     # the rows judge a liquidity breach that has lasted (its wait: test below)


def run(row: Row, configs: dict[str, Config]) -> tuple[ExitTrigger, ...]:
    context = dataclasses.replace(context_of(row), liquidity_breach_since=T0 - LASTED)
    return evaluate_exits(state_of(row), quote_of(row), T0, configs[row.config], context)


def shape(triggers: tuple[ExitTrigger, ...]) -> tuple[tuple[str, str, int], ...]:
    return tuple((t.condition, t.priority.name, t.contracts) for t in triggers)


SECS = timedelta(seconds=1)
MIN = timedelta(minutes=1)

# --- the table ---------------------------------------------------------------------------------
# Unless a row says otherwise: quote 1c wide, volume 1000, close in 2 h, age 0, 10 contracts.

ROWS = [
    # quiet market: nothing fires
    Row("quiet: YES at entry, 1c spread, no context -> nothing", YES, "0.50", 10, "0.50", "0.51", ()),
    Row("quiet: NO at entry (NO bid = 1 - YES ask) -> nothing", NO, "0.50", 10, "0.49", "0.50", ()),

    # stop_loss: fires when P&L % <= -stop (inclusive), against us only
    Row("stop_loss: YES bid 0.44 vs entry 0.50 = -12.0% exactly -> fires (<= -12)",
        YES, "0.50", 10, "0.44", "0.45", (("stop_loss", "CRITICAL", 10),)),
    Row("stop_loss: YES bid 0.45 = -10% (one tick above the stop) -> silent",
        YES, "0.50", 10, "0.45", "0.46", ()),
    Row("stop_loss: YES bid 0.30 = -40%, well past the stop -> fires",
        YES, "0.50", 10, "0.30", "0.31", (("stop_loss", "CRITICAL", 10),)),
    Row("stop_loss: momentum type stops at 10%: bid 0.45 = -10% -> fires",
        YES, "0.50", 10, "0.45", "0.46", (("stop_loss", "CRITICAL", 10),), signal_type="momentum"),
    Row("stop_loss: model_edge type stops at 15%: entry 0.40, bid 0.34 = -15% -> fires",
        YES, "0.40", 10, "0.34", "0.35", (("stop_loss", "CRITICAL", 10),), signal_type="model_edge"),
    Row("stop_loss: model_edge type: bid 0.35 = -12.5% -> silent (default's 12% does not apply)",
        YES, "0.40", 10, "0.35", "0.36", (), signal_type="model_edge"),
    Row("stop_loss: unknown signal type uses 'default' (12%): bid 0.44 -> fires",
        YES, "0.50", 10, "0.44", "0.45", (("stop_loss", "CRITICAL", 10),), signal_type="no_such_type"),
    Row("stop_loss: NO entry 0.50, YES rises to 0.55/0.56 -> NO bid 0.44 = -12% -> fires",
        NO, "0.50", 10, "0.55", "0.56", (("stop_loss", "CRITICAL", 10),)),
    Row("stop_loss: NO entry 0.50, YES 0.54/0.55 -> NO bid 0.45 = -10% -> silent",
        NO, "0.50", 10, "0.54", "0.55", ()),
    Row("stop_loss: NO entry 0.50, YES falls to 0.45/0.46 -> NO bid 0.54 = +8%, in our favour -> silent",
        NO, "0.50", 10, "0.45", "0.46", ()),
    Row("stop_loss: NO position is marked at the NO bid: YES bid 0.44 would be -12% for YES, NO bid 0.55 = +10% -> silent",
        NO, "0.50", 10, "0.44", "0.45", ()),
    Row("stop_loss: sizes from contracts held (4 left of 10)",
        YES, "0.50", 4, "0.44", "0.45", (("stop_loss", "CRITICAL", 4),), initial=10, stages_done=1),

    # circuit_breaker: fires whenever the context says the breaker tripped
    Row("circuit_breaker: tripped, quiet market -> fires, all contracts",
        YES, "0.50", 10, "0.50", "0.51", (("circuit_breaker", "CRITICAL", 10),), breaker=True),
    Row("circuit_breaker: tripped, NO position -> fires",
        NO, "0.50", 7, "0.49", "0.50", (("circuit_breaker", "CRITICAL", 7),), breaker=True),
    Row("circuit_breaker: tripped with a stale quote (11 s > TTL 10 s) -> still fires",
        YES, "0.50", 10, "0.30", "0.31", (("circuit_breaker", "CRITICAL", 10),), breaker=True, age=11 * SECS),
    Row("circuit_breaker: tripped with no quote at all -> still fires",
        YES, "0.50", 10, None, None, (("circuit_breaker", "CRITICAL", 10),), breaker=True, no_quote=True),

    # trailing_stop: active once the peak P&L >= activation (10%); fires when mark <= peak - 5c
    Row("trailing_stop: peak 0.60 (+20%), bid 0.55 = peak - 5c exactly -> fires (mark <= trail)",
        YES, "0.50", 10, "0.55", "0.56", (("trailing_stop", "HIGH", 10),), peak="0.60"),
    Row("trailing_stop: peak 0.60, bid 0.56 = one tick above the trail -> silent",
        YES, "0.50", 10, "0.56", "0.57", (), peak="0.60"),
    Row("trailing_stop: peak 0.55 = +10% exactly activates; bid 0.50 = 0.55 - 5c -> fires",
        YES, "0.50", 10, "0.50", "0.51", (("trailing_stop", "HIGH", 10),), peak="0.55"),
    Row("trailing_stop: peak 0.54 = +8% never activated; bid 0.49 (5c off the peak) -> silent",
        YES, "0.50", 10, "0.49", "0.50", (), peak="0.54"),
    Row("trailing_stop: already active (state) with peak 0.58; bid 0.53 -> fires",
        YES, "0.50", 10, "0.53", "0.54", (("trailing_stop", "HIGH", 10),), peak="0.58", trailing_active=True,
        trailing_price="0.53"),
    Row("trailing_stop: momentum distance 4c: peak 0.60, bid 0.56 -> fires",
        YES, "0.50", 10, "0.56", "0.57", (("trailing_stop", "HIGH", 10),), peak="0.60", signal_type="momentum"),
    Row("trailing_stop: NO entry 0.40, NO peak 0.50, YES 0.54/0.55 -> NO bid 0.45 = peak - 5c -> fires",
        NO, "0.40", 10, "0.54", "0.55", (("trailing_stop", "HIGH", 10),), peak="0.50"),
    Row("trailing_stop: new high 0.62 above the stored peak 0.55 -> no trailing stop; +24% takes stage 1",
        YES, "0.50", 10, "0.62", "0.63", (("partial_exit_target", "MEDIUM", 5),), peak="0.55"),
    Row("trailing_stop: the remainder after both stages rides it: peak 0.70, bid 0.65 -> fires for the 3 left",
        YES, "0.40", 3, "0.65", "0.66", (("trailing_stop", "HIGH", 3),), initial=10, stages_done=2, peak="0.70"),

    # time_based_urgent: fires when strictly less than 5 minutes are left (or the close has passed)
    Row("time_based_urgent: 4 min 59 s to close -> fires",
        YES, "0.50", 10, "0.50", "0.51", (("time_based_urgent", "HIGH", 10),), close_in=4 * MIN + 59 * SECS),
    Row("time_based_urgent: exactly 5 min to close -> fires (<= 5: the boundary wake-up lands there)",
        YES, "0.50", 10, "0.50", "0.51", (("time_based_urgent", "HIGH", 10),), close_in=5 * MIN),
    Row("time_based_urgent: 5 min 1 s to close -> silent",
        YES, "0.50", 10, "0.50", "0.51", (), close_in=5 * MIN + SECS),
    Row("time_based_urgent: close passed a minute ago -> fires",
        YES, "0.50", 10, "0.50", "0.51", (("time_based_urgent", "HIGH", 10),), close_in=-MIN),
    Row("time_based_urgent: no close time known -> silent",
        YES, "0.50", 10, "0.50", "0.51", (), close_in=None),
    Row("time_based_urgent: stale quote (age 60 s) with 2 min left -> fires; its -40% is not evaluated",
        YES, "0.50", 10, "0.30", "0.31", (("time_based_urgent", "HIGH", 10),), close_in=2 * MIN, age=60 * SECS),
    Row("time_based_urgent: NO position, 1 min left -> fires",
        NO, "0.50", 10, "0.49", "0.50", (("time_based_urgent", "HIGH", 10),), close_in=MIN),

    # liquidity_dried_up: spread > 3c (strict) or volume < 50 (strict); reported once
    Row("liquidity_dried_up: spread 4c (0.50/0.54) -> fires",
        YES, "0.50", 10, "0.50", "0.54", (("liquidity_dried_up", "HIGH", 10),)),
    Row("liquidity_dried_up: spread exactly 3c -> silent (> 3, not >=)",
        YES, "0.50", 10, "0.50", "0.53", ()),
    Row("liquidity_dried_up: 49 contracts traded in the window -> fires",
        YES, "0.50", 10, "0.50", "0.51", (("liquidity_dried_up", "HIGH", 10),), recent_volume=49),
    Row("liquidity_dried_up: exactly 50 traded in the window -> silent (< 50, not <=)",
        YES, "0.50", 10, "0.50", "0.51", (), recent_volume=50),
    Row("liquidity_dried_up: a million contracts in its life, none in the window -> fires (lifetime never judged)",
        YES, "0.50", 10, "0.50", "0.51", (("liquidity_dried_up", "HIGH", 10),), volume=1_000_000, recent_volume=0),
    Row("liquidity_dried_up: lifetime volume 10 but less history than the window -> unknown, silent",
        YES, "0.50", 10, "0.50", "0.51", (), volume=10, recent_volume=None),
    Row("liquidity_dried_up: wide AND thin -> one trigger, not two",
        YES, "0.50", 10, "0.50", "0.60", (("liquidity_dried_up", "HIGH", 10),), recent_volume=10),
    Row("liquidity_dried_up: NO position, same spread in NO terms -> fires",
        NO, "0.50", 10, "0.46", "0.50", (("liquidity_dried_up", "HIGH", 10),)),
    Row("liquidity_dried_up: no bid on our side at all (busy market) -> fires; no mark, no P&L rules",
        YES, "0.50", 10, None, "0.50", (("liquidity_dried_up", "HIGH", 10),)),
    Row("liquidity_dried_up: NO position, no YES ask (so no NO bid) -> fires",
        NO, "0.50", 10, "0.50", None, (("liquidity_dried_up", "HIGH", 10),)),
    Row("liquidity_dried_up: the other side has no bid, ours is 1c wide -> silent",
        YES, "0.50", 10, "0.50", None, (), recent_volume=1000),
    Row("liquidity_dried_up: judged on a fresh quote only (stale, 20c wide) -> silent",
        YES, "0.50", 10, "0.40", "0.60", (), age=11 * SECS),

    # profit_target: only with partial exits disabled; P&L % >= target (inclusive)
    Row("profit_target: partials disabled, bid 0.60 = +20% exactly -> fires, all contracts",
        YES, "0.50", 10, "0.60", "0.61", (("profit_target", "MEDIUM", 10),), config="no_partials"),
    Row("profit_target: partials disabled, bid 0.59 = +18% -> silent",
        YES, "0.50", 10, "0.59", "0.60", (), config="no_partials"),
    Row("profit_target: partials disabled, NO entry 0.50, YES 0.39/0.40 -> NO bid 0.60 = +20% -> fires",
        NO, "0.50", 10, "0.39", "0.40", (("profit_target", "MEDIUM", 10),), config="no_partials"),
    Row("profit_target: partials enabled, both stages done, +50% -> silent (the rest rides the trailing stop)",
        YES, "0.40", 3, "0.60", "0.61", (), initial=10, stages_done=2, peak="0.60"),
    Row("profit_target: partials enabled, no stage done, +20% -> stage 1 fires, not profit_target",
        YES, "0.50", 10, "0.60", "0.61", (("partial_exit_target", "MEDIUM", 5),)),

    # partial_exit_target: stage k fires when P&L % >= its profit (inclusive), once, in order
    Row("partial stage 1: entry 0.40, bid 0.46 = +15% exactly -> sells 50% of 10 = 5",
        YES, "0.40", 10, "0.46", "0.47", (("partial_exit_target", "MEDIUM", 5),)),
    Row("partial stage 1: bid 0.45 = +12.5% -> silent",
        YES, "0.40", 10, "0.45", "0.46", ()),
    Row("partial stage 1 at +25%: only one stage per evaluation, stage 1 first -> 5",
        YES, "0.40", 10, "0.50", "0.51", (("partial_exit_target", "MEDIUM", 5),)),
    Row("partial stage 2: stage 1 done (5 left of 10), bid 0.50 = +25% exactly -> floor(25% of 10) = 2",
        YES, "0.40", 5, "0.50", "0.51", (("partial_exit_target", "MEDIUM", 2),), initial=10, stages_done=1),
    Row("partial stage 2: 100 bought, 50 left, +25% -> 25% of the INITIAL 100 = 25",
        YES, "0.40", 50, "0.50", "0.51", (("partial_exit_target", "MEDIUM", 25),), initial=100, stages_done=1),
    Row("partial stage 2: stage 1 done, bid 0.49 = +22.5% -> silent (stage 1 never repeats)",
        YES, "0.40", 5, "0.49", "0.50", (), initial=10, stages_done=1),
    Row("partial stage 2 is capped at what is held: 100 bought, 10 left -> 10",
        YES, "0.40", 10, "0.50", "0.51", (("partial_exit_target", "MEDIUM", 10),), initial=100, stages_done=1),
    Row("partial: 1 contract, +25% -> both stages round down to 0 and are skipped -> nothing",
        YES, "0.40", 1, "0.50", "0.51", ()),
    Row("partial: 3 bought, stage 1 done (2 left), +25% -> floor(0.75) = 0 -> stage 2 skipped",
        YES, "0.40", 2, "0.50", "0.51", (), initial=3, stages_done=1),
    Row("partial: stages 10%/50%, 5 bought, +25% -> stage 1 (0) skipped, stage 2 sells floor(2.5) = 2",
        YES, "0.40", 5, "0.50", "0.51", (("partial_exit_target", "MEDIUM", 2),), config="small_first_stage"),
    Row("partial: stages 10%/50%, 5 bought, +15% -> stage 1 (0) skipped, stage 2 not reached -> nothing",
        YES, "0.40", 5, "0.46", "0.47", (), config="small_first_stage"),
    Row("partial stage 1: NO entry 0.40, YES 0.53/0.54 -> NO bid 0.46 = +15% -> 5",
        NO, "0.40", 10, "0.53", "0.54", (("partial_exit_target", "MEDIUM", 5),)),

    # early_exit (0 <= edge < 2 points) and edge_disappeared (edge < 0): never both
    Row("early_exit: model 0.52, bid 0.50 -> edge 2.00 exactly -> silent (< 2, not <=)",
        YES, "0.50", 10, "0.50", "0.51", (), model_probability="0.52"),
    Row("early_exit: model 0.5199 -> edge 1.99 -> fires",
        YES, "0.50", 10, "0.50", "0.51", (("early_exit", "LOW", 10),), model_probability="0.5199"),
    Row("early_exit: edge exactly 0 -> early_exit, not edge_disappeared (< 0, not <=)",
        YES, "0.50", 10, "0.50", "0.51", (("early_exit", "LOW", 10),), model_probability="0.50"),
    Row("edge_disappeared: edge -0.01 points -> fires alone (no early_exit)",
        YES, "0.50", 10, "0.50", "0.51", (("edge_disappeared", "LOW", 10),), model_probability="0.4999"),
    Row("edge_disappeared: edge -20 points -> fires alone",
        YES, "0.50", 10, "0.50", "0.51", (("edge_disappeared", "LOW", 10),), model_probability="0.30"),
    Row("edge_disappeared: NO position, NO model 0.45 vs NO bid 0.46 -> edge -1 -> fires",
        NO, "0.46", 10, "0.53", "0.54", (("edge_disappeared", "LOW", 10),), model_probability="0.45"),
    Row("early_exit: NO position, NO model 0.47 vs NO bid 0.46 -> edge 1 -> fires",
        NO, "0.46", 10, "0.53", "0.54", (("early_exit", "LOW", 10),), model_probability="0.47"),
    Row("edge rules: no model probability -> silent",
        YES, "0.50", 10, "0.50", "0.51", ()),
    Row("edge rules: stale quote -> silent even with edge -20",
        YES, "0.50", 10, "0.50", "0.51", (), model_probability="0.30", age=11 * SECS),
    Row("edge rules: model probability exactly 2 min old (nba limit 120 s) -> still drives exits",
        YES, "0.50", 10, "0.50", "0.51", (("edge_disappeared", "LOW", 10),), model_probability="0.30",
        model_age=2 * MIN),
    Row("edge rules: model probability 2 min 1 s old (nba) -> silent even with edge -20",
        YES, "0.50", 10, "0.50", "0.51", (), model_probability="0.30", model_age=2 * MIN + SECS),
    Row("edge rules: model probability of unknown age (restored after a restart) -> silent",
        YES, "0.50", 10, "0.50", "0.51", (), model_probability="0.30", model_age=None),
    Row("rebalance: our edge from a model probability too old -> silent",
        YES, "0.50", 10, "0.50", "0.51", (), model_probability="0.55", rebalance_edge="0.50", model_age=10 * MIN),

    # rebalance: new edge (points) - our edge >= margin 5 (inclusive); needs our model probability
    Row("rebalance: our edge 5, new edge 10 -> beats by 5 exactly -> fires",
        YES, "0.50", 10, "0.50", "0.51", (("rebalance", "LOW", 10),), model_probability="0.55",
        rebalance_edge="0.10"),
    Row("rebalance: our edge 5, new edge 9.99 -> beats by 4.99 -> silent",
        YES, "0.50", 10, "0.50", "0.51", (), model_probability="0.55", rebalance_edge="0.0999"),
    Row("rebalance: no model probability (our edge unknown) -> silent",
        YES, "0.50", 10, "0.50", "0.51", (), rebalance_edge="0.50"),
    Row("rebalance: disabled in config -> silent",
        YES, "0.50", 10, "0.50", "0.51", (), model_probability="0.55", rebalance_edge="0.50", config="rebalance_off"),
    Row("rebalance with early_exit: edge 1, new edge 7 -> both, config order (early_exit first)",
        YES, "0.50", 10, "0.50", "0.51", (("early_exit", "LOW", 10), ("rebalance", "LOW", 10)),
        model_probability="0.51", rebalance_edge="0.07"),

    # stale quotes: age <= TTL (10 s) is fresh
    Row("stale: age exactly 10 s (= TTL) is still fresh -> stop_loss fires",
        YES, "0.50", 10, "0.44", "0.45", (("stop_loss", "CRITICAL", 10),), age=10 * SECS),
    Row("stale: age 10.001 s -> no price-based rule (stop_loss silent)",
        YES, "0.50", 10, "0.44", "0.45", (), age=timedelta(seconds=10, milliseconds=1)),
    Row("stale: no quote at all -> nothing price-based, close time from the quote unknown",
        YES, "0.50", 10, None, None, (), no_quote=True),
    Row("stale: age 30 s, breaker tripped, 2 min left, -40%, 20c wide -> only circuit_breaker and time_based_urgent",
        YES, "0.50", 10, "0.30", "0.50", (("circuit_breaker", "CRITICAL", 10), ("time_based_urgent", "HIGH", 10)),
        breaker=True, close_in=2 * MIN, age=30 * SECS, model_probability="0.10"),

    # several at once: priority first, then the order of the condition in its config level
    Row("order: everything -> stop_loss, circuit_breaker, time_based_urgent, liquidity, edge_disappeared, rebalance",
        YES, "0.50", 10, "0.40", "0.45",
        (("stop_loss", "CRITICAL", 10), ("circuit_breaker", "CRITICAL", 10), ("time_based_urgent", "HIGH", 10),
         ("liquidity_dried_up", "HIGH", 10), ("edge_disappeared", "LOW", 10), ("rebalance", "LOW", 10)),
        recent_volume=10, close_in=MIN, breaker=True, model_probability="0.30", rebalance_edge="0.20"),
    Row("order: same scenario with the levels reordered in config -> circuit_breaker, stop_loss, liquidity, time",
        YES, "0.50", 10, "0.40", "0.45",
        (("circuit_breaker", "CRITICAL", 10), ("stop_loss", "CRITICAL", 10), ("liquidity_dried_up", "HIGH", 10),
         ("time_based_urgent", "HIGH", 10), ("edge_disappeared", "LOW", 10), ("rebalance", "LOW", 10)),
        recent_volume=10, close_in=MIN, breaker=True, model_probability="0.30", rebalance_edge="0.20", config="reordered"),
    Row("order: HIGH ties in config order -> trailing_stop, time_based_urgent, liquidity_dried_up",
        YES, "0.50", 10, "0.55", "0.60",
        (("trailing_stop", "HIGH", 10), ("time_based_urgent", "HIGH", 10), ("liquidity_dried_up", "HIGH", 10)),
        peak="0.60", close_in=MIN),
    Row("order: trailing_stop (HIGH) before stage 1 (MEDIUM): entry 0.40, peak 0.70, bid 0.65",
        YES, "0.40", 10, "0.65", "0.66", (("trailing_stop", "HIGH", 10), ("partial_exit_target", "MEDIUM", 5)),
        peak="0.70"),
    Row("order: stop_loss moved to LOW in config -> runs after time_based_urgent, ties after the edge rules",
        YES, "0.50", 10, "0.44", "0.45",
        (("time_based_urgent", "HIGH", 10), ("edge_disappeared", "LOW", 10), ("stop_loss", "LOW", 10)),
        close_in=MIN, model_probability="0.30", config="stop_loss_low"),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.description for r in ROWS])
def test_exit_scenario(row: Row, configs: dict[str, Config]) -> None:
    assert shape(run(row, configs)) == row.expected


def test_the_table_covers_every_condition_at_every_default_priority(configs: dict[str, Config]) -> None:
    from config.schema import EXIT_CONDITIONS

    fired = {name for row in ROWS if row.config == "default" for name, _prio, _n in row.expected}
    assert fired == set(EXIT_CONDITIONS) - {"profit_target"}   # profit_target needs partials off
    assert any(name == "profit_target" for row in ROWS for name, _p, _n in row.expected)


# --- details the table does not show ------------------------------------------------------------

def test_triggers_carry_value_threshold_and_rank(configs: dict[str, Config]) -> None:
    row = ROWS[0]
    state = state_of(row)
    quote = Quote(TICKER, T0, D("0.44"), D("0.48"), volume=1000, close_time=T0 + 3 * MIN)
    sl, urgent, liq = evaluate_exits(state, quote, T0, configs["default"], ExitContext(liquidity_breach_since=T0 - LASTED))
    assert (sl.condition, sl.value, sl.threshold, sl.rank) == ("stop_loss", D("-12"), D("-12"), (0, 0))
    assert sl.priority is Priority.CRITICAL
    assert (urgent.condition, urgent.value, urgent.threshold, urgent.rank) == ("time_based_urgent", D("3.0"), D("5"), (1, 1))
    assert (liq.condition, liq.value, liq.threshold, liq.rank) == ("liquidity_dried_up", D("4.00"), D("3"), (1, 2))


def test_partial_trigger_names_its_stage_index(configs: dict[str, Config]) -> None:
    base = Row("", YES, "0.40", 10, "0.50", "0.51", ())
    first = run(base, configs)
    second = run(Row("", YES, "0.40", 5, "0.50", "0.51", (), initial=10, stages_done=1), configs)
    skipped = run(Row("", YES, "0.40", 5, "0.50", "0.51", (), config="small_first_stage"), configs)
    assert [(t.stage, t.contracts) for t in first] == [(0, 5)]
    assert [(t.stage, t.contracts) for t in second] == [(1, 2)]
    assert [(t.stage, t.contracts) for t in skipped] == [(1, 2)]   # stage index 0 skipped (size 0)


def test_no_contracts_left_means_no_triggers(configs: dict[str, Config]) -> None:
    row = Row("", YES, "0.50", 0, "0.30", "0.31", (), initial=10, breaker=True, close_in=MIN)
    assert run(row, configs) == ()


def test_without_a_quote_the_close_time_comes_from_the_position(configs: dict[str, Config]) -> None:
    state = state_of(Row("", YES, "0.50", 10, None, None, ())).replace(close_time=T0 + 2 * MIN)
    assert shape(evaluate_exits(state, None, T0, configs["default"])) == (("time_based_urgent", "HIGH", 10),)
    later = state.replace(close_time=T0 + 10 * MIN)
    assert evaluate_exits(later, None, T0, configs["default"]) == ()


def test_a_stale_quote_still_gives_its_close_time(configs: dict[str, Config]) -> None:
    state = state_of(Row("", YES, "0.50", 10, None, None, ()))
    stale = Quote(TICKER, T0 - 5 * MIN, D("0.50"), D("0.51"), volume=1000, close_time=T0 + MIN)
    assert shape(evaluate_exits(state, stale, T0, configs["default"])) == (("time_based_urgent", "HIGH", 10),)


def test_partial_stage_size_floors_and_caps_at_contracts_held() -> None:
    state = state_of(Row("", YES, "0.40", 7, None, None, (), initial=15))
    assert partial_stage_size(state, D("50")) == 7        # floor(7.5) = 7, held 7
    assert partial_stage_size(state, D("25")) == 3        # floor(3.75)
    assert partial_stage_size(state, D("5")) == 0         # floor(0.75)
    assert partial_stage_size(state.replace(contracts=2), D("25")) == 2


def mirror(q: Quote) -> Quote:
    """The same market seen from the NO side: NO bid = 1 - YES ask, NO ask = 1 - YES bid."""
    return Quote(q.ticker, q.ts, 1 - q.yes_ask, 1 - q.yes_bid, volume=q.volume, close_time=q.close_time,
                 recent_volume=q.recent_volume)


cents = st.integers(min_value=2, max_value=97).map(lambda c: D(c) / 100)


@settings(max_examples=150, deadline=None)
@given(entry=cents, bid=cents, width=st.integers(min_value=1, max_value=5),
       peak_above=st.one_of(st.none(), st.integers(min_value=0, max_value=30)),
       stages_done=st.integers(min_value=0, max_value=2))
def test_a_no_position_is_judged_exactly_like_a_yes_position_on_the_mirrored_quote(
        entry: D, bid: D, width: int, peak_above: int | None, stages_done: int) -> None:
    config = _DEFAULT
    ask = min(bid + D(width) / 100, D("0.99"))
    if ask <= bid:
        return
    yes_quote = Quote(TICKER, T0, bid, ask, volume=1000, close_time=T0 + timedelta(hours=1))
    peak = None if peak_above is None else bid + D(peak_above) / 100
    yes_state = state_of(Row("", YES, str(entry), 10, None, None, (), peak=None if peak is None else str(peak),
                             stages_done=stages_done))
    no_state = yes_state.replace(side=NO)
    context = ExitContext(model_probability=D("0.5"), model_probability_ts=T0)
    assert shape(evaluate_exits(yes_state, yes_quote, T0, config, context)) == \
        shape(evaluate_exits(no_state, mirror(yes_quote), T0, config, context))


@settings(max_examples=200, deadline=None)
@given(entry=cents, bid=cents)
def test_stop_loss_fires_exactly_when_the_bid_is_at_or_below_the_stop_price(entry: D, bid: D) -> None:
    state = state_of(Row("", YES, str(entry), 10, None, None, ()))
    quote = Quote(TICKER, T0, bid, min(bid + D("0.01"), D("0.99")), volume=1000)
    names = [t.condition for t in evaluate_exits(state, quote, T0, _DEFAULT)]
    assert ("stop_loss" in names) == (bid <= entry * D("0.88"))



# --- near_threshold: the urgent cadence band (2 points of P&L) --------------------------------

@dataclass(frozen=True)
class NearRow:
    description: str
    entry: str
    current: str | None
    expected: bool
    stages_done: int = 0
    trailing_price: str | None = None
    config: str = "default"


NEAR_ROWS = [
    NearRow("no mark yet -> not near", "0.50", None, False),
    NearRow("at entry -> not near", "0.50", "0.50", False),
    NearRow("-10% is 2 points from the -12% stop (band inclusive) -> near", "0.50", "0.45", True),
    NearRow("-8% is 4 points from the stop -> not near", "0.50", "0.46", False),
    NearRow("-14% is 2 points past the stop -> near", "0.50", "0.43", True),
    NearRow("-16% is 4 points past the stop -> not near (the stop has fired)", "0.50", "0.42", False),
    NearRow("+13% is 2 points below stage 1 (+15%) -> near", "0.50", "0.565", True),
    NearRow("+12% is 3 points below stage 1 -> not near", "0.50", "0.56", False),
    NearRow("+17% is 2 points above stage 1 -> near", "0.50", "0.585", True),
    NearRow("+18% with partials enabled: profit target is not a threshold -> not near", "0.50", "0.59", False),
    NearRow("+18% with partials disabled: 2 points from the 20% target -> near", "0.50", "0.59", True,
            config="no_partials"),
    NearRow("+17% with partials disabled: 3 points from the target -> not near", "0.50", "0.585", False,
            config="no_partials"),
    NearRow("stage 1 done: +13% is no longer near; the next stage is +25%", "0.50", "0.565", False, stages_done=1),
    NearRow("stage 1 done: +23% is 2 points from stage 2 -> near", "0.50", "0.615", True, stages_done=1),
    NearRow("both stages done, +20% -> not near (nothing left but the trailing stop)", "0.50", "0.60", False,
            stages_done=2),
    NearRow("trailing stop at 0.55 (+10%), mark 0.56 (+12%) -> 2 points above it -> near", "0.50", "0.56", True,
            stages_done=2, trailing_price="0.55"),
    NearRow("trailing stop at 0.55, mark 0.57 (+14%) -> 4 points above -> not near", "0.50", "0.57", False,
            stages_done=2, trailing_price="0.55"),
]


@pytest.mark.parametrize("row", NEAR_ROWS, ids=[r.description for r in NEAR_ROWS])
def test_near_threshold(row: NearRow, configs: dict[str, Config]) -> None:
    state = state_of(Row("", YES, row.entry, 10, None, None, (), stages_done=row.stages_done)).replace(
        current_price=None if row.current is None else D(row.current),
        trailing_stop_active=row.trailing_price is not None,
        trailing_stop_price=None if row.trailing_price is None else D(row.trailing_price))
    assert near_threshold(state, configs[row.config]) is row.expected


# --- mark_position: mark, P&L, peak and trailing stop -------------------------------------------

def fresh_state(side: Side = YES, entry: str = "0.50", signal_type: str = "default") -> PositionState:
    return state_of(Row("", side, entry, 10, None, None, (), signal_type=signal_type))


def yes_quote(bid: str | None, ask: str | None, at: datetime = T0, close_in: timedelta | None = None) -> Quote:
    return Quote(TICKER, at, None if bid is None else D(bid), None if ask is None else D(ask),
                 close_time=None if close_in is None else T0 + close_in)


def test_mark_is_the_bid_of_the_side_held_with_pnl() -> None:
    yes = mark_position(fresh_state(YES), yes_quote("0.53", "0.55"), T0, _DEFAULT)
    no = mark_position(fresh_state(NO), yes_quote("0.45", "0.47"), T0, _DEFAULT)
    assert (yes.current_price, yes.unrealized_pnl, yes.unrealized_pnl_pct) == (D("0.53"), D("0.30"), D("6"))
    assert (no.current_price, no.unrealized_pnl, no.unrealized_pnl_pct) == (D("0.53"), D("0.30"), D("6"))
    assert yes.last_update == T0 and no.last_update == T0


def test_peak_only_rises() -> None:
    state = fresh_state()
    peaks = []
    for bid in ("0.52", "0.58", "0.53", "0.57", "0.40"):
        state = mark_position(state, yes_quote(bid, "0.60"), T0, _DEFAULT)
        peaks.append(state.peak_price)
    assert peaks == [D("0.52"), D("0.58"), D("0.58"), D("0.58"), D("0.58")]


def test_trailing_stop_activates_at_the_activation_pct_and_stays_active() -> None:
    state = fresh_state()
    state = mark_position(state, yes_quote("0.54", "0.55"), T0, _DEFAULT)       # +8% < 10%
    assert (state.trailing_stop_active, state.trailing_stop_price) == (False, None)
    state = mark_position(state, yes_quote("0.55", "0.56"), T0, _DEFAULT)       # +10% exactly
    assert (state.trailing_stop_active, state.trailing_stop_price) == (True, D("0.50"))
    state = mark_position(state, yes_quote("0.45", "0.46"), T0, _DEFAULT)       # falls to -10%
    assert (state.trailing_stop_active, state.trailing_stop_price, state.peak_price) == (True, D("0.50"), D("0.55"))


def test_trailing_stop_price_is_peak_minus_distance_and_never_falls() -> None:
    state = fresh_state(signal_type="momentum")                                 # 8% / 4c
    prices = []
    for bid in ("0.56", "0.61", "0.58", "0.64", "0.50"):
        state = mark_position(state, yes_quote(bid, "0.70"), T0, _DEFAULT)
        prices.append(state.trailing_stop_price)
    assert prices == [D("0.52"), D("0.57"), D("0.57"), D("0.60"), D("0.60")]


def test_trailing_stop_for_a_no_position_follows_the_no_bid() -> None:
    state = fresh_state(NO, entry="0.40")
    state = mark_position(state, yes_quote("0.48", "0.50"), T0, _DEFAULT)       # NO bid 0.50 = +25%
    assert (state.peak_price, state.trailing_stop_active, state.trailing_stop_price) == (D("0.50"), True, D("0.45"))
    state = mark_position(state, yes_quote("0.54", "0.55"), T0, _DEFAULT)       # NO bid 0.45
    assert state.current_price == D("0.45")
    assert [t.condition for t in evaluate_exits(state, yes_quote("0.54", "0.55"), T0, _DEFAULT)] == ["trailing_stop"]


def test_a_quote_without_our_bid_makes_the_mark_unknown_and_keeps_the_peak() -> None:
    marked = mark_position(fresh_state(), yes_quote("0.56", "0.57"), T0, _DEFAULT)
    later = T0 + timedelta(seconds=30)
    after = mark_position(marked, yes_quote(None, "0.57", at=later, close_in=2 * MIN), later, _DEFAULT)
    assert (after.current_price, after.peak_price, after.unrealized_pnl) == (None, D("0.56"), None)
    assert after.last_update == later and after.close_time == T0 + 2 * MIN


def test_mark_then_evaluate_agree_on_the_trailing_stop() -> None:
    state = fresh_state()
    state = mark_position(state, yes_quote("0.60", "0.61"), T0, _DEFAULT)
    drop = yes_quote("0.55", "0.56")
    state = mark_position(state, drop, T0, _DEFAULT)
    assert state.current_price == state.trailing_stop_price == D("0.55")
    assert [t.condition for t in evaluate_exits(state, drop, T0, _DEFAULT)] == ["trailing_stop"]


def test_liquidity_dried_up_waits_until_the_breach_has_lasted(configs: dict[str, Config]) -> None:
    """A spread over 3c fires liquidity_dried_up only once it has lasted liquidity.breach_for_secs
    (30 s): a blip is not a market gone dry; with 0 it fires at once."""
    state = state_of(ROWS[0])
    wide = Quote(TICKER, T0, D("0.50"), D("0.54"), volume=1000, close_time=T0 + 120 * MIN)
    cfg = configs["default"]

    def fired(since, config=cfg):  # type: ignore[no-untyped-def]
        return [t.condition for t in evaluate_exits(state, wide, T0, config, ExitContext(liquidity_breach_since=since))]

    assert cfg.liquidity.breach_for_secs == 30
    assert fired(None) == [] and fired(T0) == [] and fired(T0 - 29 * SECS) == []
    assert fired(T0 - 30 * SECS) == ["liquidity_dried_up"]
    at_once = dataclasses.replace(cfg, liquidity=dataclasses.replace(cfg.liquidity, breach_for_secs=D(0)))
    assert fired(None, at_once) == ["liquidity_dried_up"]
