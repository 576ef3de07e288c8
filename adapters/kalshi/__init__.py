"""Port: the live venue, Kalshi Trade API v2 (implements models.venue.Venue).

Request signing, wire parsing, the aiohttp client, the synchronous Venue wrapper and environment
configuration. The loopback fake server the tests run against is tests/fakes/kalshi_server.py."""
