"""The documented audit event table is the one the classes give (models/audit_events/
`event_table`): a new event, field or wording of "when" fails here until the docs say it too."""
from __future__ import annotations

from models.audit_events import event_table
from tests.paths import ROOT

DOC = ROOT / "docs" / "formats.md"
SECTION = "## Audit events"


def documented_table(text: str) -> str:
    """The first Markdown table after the section heading."""
    after = text.split(SECTION + "\n", 1)[1]
    lines = after.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return "\n".join(lines[start:end]) + "\n"


def test_the_documented_event_table_is_the_classes_table():
    text = DOC.read_text(encoding="utf-8")
    assert SECTION + "\n" in text, f"{DOC}: no {SECTION!r} section"
    assert documented_table(text) == event_table(), (
        f"{DOC} is out of step with models/audit_events/: paste the output of "
        "`python -c 'from models.audit_events import event_table; print(event_table())'`")
