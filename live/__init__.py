"""Live updates: the event bus (in-process or Redis pub/sub) and the fan-out to websocket subscribers."""
