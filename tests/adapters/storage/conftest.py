"""A fresh SQLite Repository per test (a module may define its own `repo`, as test_persistence does
for PostgreSQL too)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from actors.clock import VirtualClock
from adapters.storage.database import Repository, connect, migrate

T0 = datetime(2025, 11, 22, 19, 30, tzinfo=timezone.utc)


@pytest.fixture
def repo(tmp_path):  # type: ignore[no-untyped-def]
    db = connect(str(tmp_path / "a.db"), environ={})
    migrate(db, VirtualClock(T0))
    yield Repository(db, VirtualClock(T0))
    db.close()
