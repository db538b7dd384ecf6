"""Redis backends: what several server processes must share to serve one site.

* :mod:`stores.redis.client` — redis-py's *sync* client driven from Trio (its asyncio API does not
  run on Trio): every command in a worker thread, at most ``redis_threads`` at once;
* :mod:`stores.redis.bus` — the event bus over one pub/sub channel;
* :mod:`stores.redis.presence` — who is online on any process, with node liveness.
"""
