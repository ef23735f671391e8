"""Broker wiring and one-line actors over the engine's async domain functions.

`dramatiq tasks` starts workers on Redis (REDIS_URL); the embedded default runs the same actors on an
in-process broker inside the server (tasks/runtime.py).

Why a broker is made on import here, and nowhere else: Dramatiq binds an actor to the current global
broker when the actor is declared, and `dramatiq tasks` finds the broker as the one current after it
imported this package. So this package is the worker process's entry point: it builds that process's
broker from the settings (its middleware then wires the rest when the worker boots: tasks/broker.py) and
declares the actors on it. Every other process makes its own broker when it starts (the API in its
lifespan, `python -m tasks.scheduler` in its main) with `tasks.broker.install`, which moves the declared
actors onto it; nothing reads this module's `broker` but Dramatiq's CLI.
"""

from config import get_settings
from tasks.broker import install

broker = install(get_settings())

from tasks import mailboxes, sequences, webhooks  # noqa: E402  (actors bind to the broker installed above)

__all__ = ["broker", "mailboxes", "sequences", "webhooks"]
