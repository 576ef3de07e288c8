"""Test doubles that speak a real protocol over loopback (127.0.0.1): kalshi_server.py is a fake
Kalshi REST API, kalshi_ws.py its WebSocket endpoint."""
