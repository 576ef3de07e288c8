"""Deterministic fault simulation (`python run.py simulate`): short seeded sessions on virtual
time with injected venue errors, races, stale data, actor crashes and process restarts, each
followed by an invariant check. market.py draws the session, faults.py the faults, venue.py
watches the orders, runner.py drives a seed, invariants.py judges it, report.py prints it."""
