"""Port: the JSON Lines audit trail, one structured event per decision.

log.py writes it (through loguru), history.py rebuilds every position from it, check.py compares it
with the database (`python run.py audit`), files.py reads it for the operator views."""
