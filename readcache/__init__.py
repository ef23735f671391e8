"""A response cache for `query` operations, keyed by the database's own data version (see asgi.py)."""

from readcache.asgi import HEADER, ReadCache, bypass, install
from readcache.json import OrjsonMixin

__all__ = ["HEADER", "OrjsonMixin", "ReadCache", "bypass", "install"]
