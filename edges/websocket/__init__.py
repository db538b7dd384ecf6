"""Our own websocket transport for ``/ws``: a sans-IO core and a thin Trio layer.

**Why our own.** What a delivered message costs in CPU is what caps how many users a process
serves. Profiles of the broadcast benchmark (BENCHMARKS.md) put a large share of it in the
websocket stack we used to run: hypercorn's receive path (socket read, h11/wsproto parsing, the
ASGI queue) about 27% and its write path (``app_send`` → wsproto/h11 → ``send_all``, under a lock
and a cancel scope) about 17%, plus an ASGI dict and Trio task switches per frame. A server-side
websocket needs little of that generality: no extensions, no client side, one message type per
frame. Here a received frame is one header parse and one C-speed unmask; a sent one is a header
packed in front of the payload, written by the task that has it.

**Modules.**

- :mod:`~edges.websocket.handshake` — the opening handshake: the request head parsed with h11,
  answered 101 with the accept hash, or refused (400, 426) with an HTTP answer.
- :mod:`~edges.websocket.frames` — the frame codec: headers, unmasking, close bodies.
- :mod:`~edges.websocket.connection` — the protocol state machine, sans-IO (bytes in, events out;
  ``send(event) -> bytes``): fragmentation, control frames (pings answered), incremental UTF-8
  checks (1007), the message size limit (1009), protocol errors (1002), the closing handshake.
- :mod:`~edges.websocket.trio_io` — a Trio stream in, a ``Transport`` for
  :class:`edges.ws.connection.Connection` out; encoding frames stays apart from writing bytes.
- :mod:`~edges.websocket.echo` — ``python -m edges.websocket.echo``: the same code as an echo
  server, for Autobahn|Testsuite (``scripts/autobahn``; cases 1-7 and 9 all pass).

**One port.** The server still listens on a single port: :mod:`edges.port` accepts each TCP
connection, reads its first request head, keeps a request for ``/ws`` for this transport, and hands
anything else to hypercorn's per-connection server with the bytes already read replayed in front
of the stream, so HTTP (keep-alive, streamed uploads, HTTP/2) is served as before.

Not supported, on purpose: extensions (``permessage-deflate``: its CPU is the opposite of the
point, and our frames are small msgpack), subprotocols, the client side.
"""
