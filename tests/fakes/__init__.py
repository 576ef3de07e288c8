"""Loopback fakes of the venues the engine talks to (no network beyond 127.0.0.1)."""
