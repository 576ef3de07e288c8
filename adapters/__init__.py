"""I/O at the edges, one subpackage per outside thing (a port), plus the wiring.

Ports: kalshi/ (the live venue), paper/ (the simulated venue), espn/ (game state), sim/ (the
simulated game and the virtual-time session driver), files/ (replay and signal files),
storage/ (the database), audit/ (the JSONL audit trail), operator/ (the people: alerts, the
control socket, the dashboard and the views they read), cli/ (the command line).
Not ports: engine/ (the one place an engine is built and started) and harness/ (the `bench`
and `simulate` harnesses). event_loop.py is the one event-loop thread every aiohttp user shares.
Imports point down: adapters import actors, models and config; nothing here imports run.py.
"""
