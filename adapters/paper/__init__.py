"""Port: the simulated venue (implements models.venue.Venue) for paper trading, replays and tests.

venue.py is the venue with Kalshi's semantics, book.py one market's order book and its crossing
rules, faults.py fault injection and call counting for reliability tests."""
