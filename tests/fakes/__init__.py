"""Test doubles that speak a real protocol over loopback: kalshi_server.py is a fake Kalshi."""
