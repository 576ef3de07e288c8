"""Kalshi Trade API v2: request signing, wire parsing, the aiohttp client, the synchronous
Venue wrapper, environment configuration, and a loopback fake server for tests."""
