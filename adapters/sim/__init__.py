"""Port: the simulated world on virtual time (no network).

game.py draws a seeded game and its market, sports.py the scoring process of each sport with its
closed-form fair value, session.py drives the actor system through a timestamped stream of market
events (used by paper trading and replays)."""
