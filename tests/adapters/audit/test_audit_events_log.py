"""A paper run's audit log, written on virtual time, reads back entirely as typed events
(models/audit_events/), and each event written back gives the very line the log holds."""
from __future__ import annotations

import json

import pytest

from adapters.cli import app
from models import audit_events as ae


@pytest.fixture(scope="module")
def paper_log(tmp_path_factory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("paper")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("DATABASE_URL", raising=False)
        code = app.main(["paper", "--seed", "8", "--sports", "nba", "nfl", "nhl",
                         "--db", str(folder / "p.db"), "--audit", str(folder / "p.jsonl")])
    assert code == 0
    return (folder / "p.jsonl").read_text(encoding="utf-8").splitlines()


def test_every_line_of_a_paper_runs_log_parses_into_its_typed_event(paper_log):
    seen = set()
    for line in paper_log:
        record = json.loads(line)
        event = ae.parse(record)
        assert type(event) is ae.REGISTRY[record["event"]], line
        assert event.extra == {}, f"keys its class does not declare: {line}"
        assert json.dumps(ae.to_record(event, event.ts), separators=(",", ":")) == line
        seen.add(event.event)
    # the run covered a trade's whole life, not just its start
    assert {"ENGINE_STARTUP", "SIGNAL_RECEIVED", "ORDER_PLACED", "TRADE_EXECUTED", "EXIT_TRIGGERED", "EXIT_ROUTED",
            "ORDER_FILLED", "EXIT_COMPLETED", "POSITION_CLOSED", "HEARTBEAT"} <= seen, seen
