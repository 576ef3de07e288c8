"""Port: files from outside: replay recordings (replay.py) and trading-signal files (signals.py)."""
