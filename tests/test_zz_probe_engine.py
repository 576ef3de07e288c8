from datetime import timedelta
from decimal import Decimal
from hypothesis import given, settings, strategies as st, HealthCheck
from models.market import Quote, Side
from models.signal import TradingSignal
from tests.conftest import T0

TICKERS = ["KXG-A", "KXG-B"]
price = st.none() | st.sampled_from([Decimal(x) for x in ("0", "1", "0.5", "-0.25", "1.75", "0.000001", "0.999999", "0.1234567", "2", "-1")]) | st.decimals(min_value=-1, max_value=2, allow_nan=False, allow_infinity=False, places=4)
size = st.none() | st.integers(min_value=-10, max_value=10**6) | st.just(0)
offset = st.integers(min_value=-100000, max_value=100000)
quote = st.builds(lambda t, dt, b, a, bs, as_, last, vol, ct: ("q", t, dt, b, a, bs, as_, last, vol, ct),
                  st.sampled_from(TICKERS + ["", "KXG-UNKNOWN"]), offset, price, price, size, size, price, size, st.none() | offset)
prob = st.decimals(min_value=-1, max_value=2, allow_nan=False, allow_infinity=False, places=3) | st.sampled_from([Decimal(0), Decimal(1)])
signal = st.builds(lambda t, side, stype, wp, mp, n, sport, gid: ("s", t, side, stype, wp, mp, n, sport, gid),
                   st.sampled_from(TICKERS + ["KXG-C", ""]), st.sampled_from(list(Side)), st.sampled_from(["default", "model_edge", "momentum", "nonexistent", ""]),
                   prob, st.none() | prob, st.none() | st.integers(min_value=-5, max_value=10**7), st.sampled_from(["nba", "nfl", "", "curling"]), st.none() | st.just("G1"))
step = st.one_of(quote, signal, st.tuples(st.just("run"), st.integers(0, 120)))

@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(st.lists(step, min_size=1, max_size=25))
def test_probe(make_engine, steps):
    h = make_engine()
    try:
        for t in TICKERS:
            h.market(t, "0.49", "0.50", push=True)
        h.enter(TICKERS[0], "yes", contracts=10, win_probability="0.80", market_price="0.50")
        h.enter(TICKERS[1], "no", contracts=10, win_probability="0.80", market_price="0.51")
        n = 0
        for s in steps:
            n += 1
            if s[0] == "q":
                _, t, dt, b, a, bs, as_, last, vol, ct = s
                q = Quote(t, h.now() + timedelta(seconds=dt), b, a, bs, as_, last, vol, None if ct is None else h.now() + timedelta(seconds=ct))
                
                try:
                    h.venue.set_quote(q)
                except Exception:
                    pass
                h.system.push_quote(q)
            elif s[0] == "s":
                _, t, side, stype, wp, mp, c, sport, gid = s
                h.system.push_signal(TradingSignal(f"g{n}", h.now(), gid, sport, t, "paper", side, stype, wp, mp, contracts=c))
            else:
                h.run(s[1])
        h.run(60)
        crashes = h.events("ACTOR_CRASHED")
        alerts = [e for e in h.events("ALERT")]
        assert not crashes, (crashes[:3], steps)
    finally:
        h.stop()
