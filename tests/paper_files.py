"""A paper run's files (database and audit log) cut off mid-game, so positions are still open:
the input of the status / timeline / report / dashboard tests."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from loguru import logger

from adapters.cli import running
from adapters.audit.log import configure_logging
from adapters.sim.session import VirtualSession
from adapters.sim.game import make_session, merge_events
from config.loader import load_config

START = datetime(2026, 11, 20, 0, 0, tzinfo=timezone.utc)


@dataclass(frozen=True)
class PaperFiles:
    db: Path
    audit: Path
    stopped_at: datetime


def paper_files(directory: Path, *, minutes: int = 100, seed: int = 7, sports: tuple[str, ...] = ("nba", "nfl"),
                config=None) -> PaperFiles:
    db, audit = directory / "paper.db", directory / "paper-audit.jsonl"
    configure_logging(audit, console=False)
    try:
        games = make_session(seed, START, sports)
        engine = running.build_paper_engine(config or load_config(None), START, db_path=str(db), audit_path=str(audit),
                                        seed=seed)
        session = VirtualSession(engine.system, engine.venue, engine.scheduler, engine.clock)
        cut = START + timedelta(minutes=minutes)
        try:
            session.run(((e.ts, e.payload) for e in merge_events(games) if e.ts <= cut), tail=timedelta(0))
        finally:
            engine.system.flush()
            engine.stop()
        stopped = engine.clock.now()
    finally:
        logger.remove()
        logger.add(sys.stderr, level="WARNING")
    return PaperFiles(db, audit, stopped)


class RunningPaper:
    """A paper engine left running (virtual time) `minutes` into the simulated games: for the
    control-channel tests, which steer it and then move its clock on."""

    def __init__(self, directory: Path, *, minutes: int = 116, seed: int = 7) -> None:
        self.db, self.audit = directory / "p.db", directory / "p-audit.jsonl"
        configure_logging(self.audit, console=False)
        self.games = make_session(seed, START, ("nba", "nfl"))
        self.engine = running.build_paper_engine(load_config(None), START, db_path=str(self.db),
                                             audit_path=str(self.audit), seed=seed)
        self.session = VirtualSession(self.engine.system, self.engine.venue, self.engine.scheduler, self.engine.clock)
        cut = START + timedelta(minutes=minutes)
        self.session.run(((e.ts, e.payload) for e in merge_events(self.games) if e.ts <= cut), tail=timedelta(0))
        self.engine.system.flush()

    def advance(self, seconds: float) -> None:
        self.engine.scheduler.run_for(timedelta(seconds=seconds))
        self.engine.system.flush()

    def close(self) -> None:
        try:
            self.engine.system.flush()
            self.engine.stop()
        finally:
            logger.remove()
            logger.add(sys.stderr, level="WARNING")
