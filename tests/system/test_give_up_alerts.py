"""A stop that keeps giving up (a market with no bid, or a 1-lot bid re-posted every 30 s) pages a
person at its first give-up and then at the 2nd, 4th, 8th ... in a row, not at every one; its
"no bid" ALERT comes once per episode, not once per exit; and a give-up that sold a contract or
two does not restart the retry ladder at 15 s (second outside review of session 6: 30
EXIT_GAVE_UP in 30 minutes for one position, each sent to the alert channels)."""
from __future__ import annotations

from datetime import datetime


class Pager:
    """Stands in for the alert channels: what reached a person."""

    def __init__(self) -> None:
        self.records: list[dict] = []

    def submit(self, record) -> None:  # type: ignore[no-untyped-def]
        self.records.append(dict(record))

    def stats(self) -> dict:
        return {}

    def close(self, timeout_s: float = 0) -> None:
        pass


def test_a_stop_selling_a_one_lot_every_30_s_pages_rarely_and_backs_off(make_engine):
    h = make_engine(streamed=True)
    pager = h.system.rt.audit.alerts = Pager()
    h.market("M1", "0.49", "0.50", push=True)
    pid = h.enter("M1", contracts=100, win_probability="0.70")
    h.run(3)
    for _ in range(60):                                   # 30 minutes
        h.market("M1", "0.42", "0.46", bid_size=1, push=True)
        h.run(30)
    gave = h.events("EXIT_GAVE_UP", position_id=pid)
    assert len(gave) >= 8 and [e["in_a_row"] for e in gave] == list(range(1, len(gave) + 1))
    paged = [r for r in pager.records if r.get("position_id") == pid]
    paged_give_ups = [r["in_a_row"] for r in paged if r["event"] == "EXIT_GAVE_UP"]
    assert paged_give_ups == [n for n in range(1, len(gave) + 1) if n & (n - 1) == 0]
    assert len([r for r in paged if r["event"] == "ALERT"]) <= 1          # "no bid": once for the episode
    assert len(paged) <= 7


def test_a_give_up_that_sold_a_contract_does_not_restart_the_retry_ladder(make_engine):
    """The stream shows 0.43 (past the stop) and nothing new; the venue re-posts a 1-lot bid there
    every 10 s: each exit sells a contract or two and gives up. The retries still back off (15,
    30, 60, 120 s); before, a give-up that sold anything restarted them at 15 s."""
    h = make_engine(streamed=True)
    h.market("M1", "0.49", "0.50", push=True)
    pid = h.enter("M1", contracts=100, win_probability="0.70")
    h.run(3)
    h.market("M1", None, "0.46")
    h.phantom("M1", "0.43", "0.46")
    for _ in range(60):                                   # 10 minutes; the position sees no change
        h.market("M1", "0.43", "0.46", bid_size=1)
        h.run(10)
    gave = h.events("EXIT_GAVE_UP", position_id=pid)
    assert sum(e["filled"] for e in gave) > 0
    ended = [datetime.fromisoformat(e["ts"]) for e in gave]
    routed = [datetime.fromisoformat(e["ts"]) for e in h.events("EXIT_ROUTED", position_id=pid)]
    waits = [round((r - g).total_seconds()) for g, r in zip(ended, routed[1:])]
    assert waits[:4] == [15, 30, 60, 120], waits
