"""Broker wiring and one-line actors over the engine's async domain functions.

`dramatiq tasks` starts workers on Redis (REDIS_URL); the embedded default runs the same actors on an
in-process broker inside the server (tasks/runtime.py). Importing this package installs the broker from
the environment first, so the actors below bind to it.
"""

from config import get_settings
from tasks.broker import install

broker = install(get_settings())

from tasks import sequences  # noqa: E402  (actors bind to the broker installed above)

__all__ = ["broker", "sequences"]
