"""Broker wiring and one-line actors over the engine's async domain functions.

`dramatiq tasks` starts workers on Redis (REDIS_URL); the embedded default runs the same actors on an
in-process broker inside the server.
"""
