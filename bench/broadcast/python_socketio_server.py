"""Minimal python-socketio server for the side-by-side broadcast benchmark (``bench.broadcast.run``).

Runs ``socketio.AsyncServer`` as an ASGI app under uvicorn, the deployment the python-socketio docs
list for asyncio ("Uvicorn, Daphne, and other ASGI servers"), with ``uvicorn[standard]`` and its
defaults: uvloop, httptools, and the ``websockets`` (sans-I/O) websocket implementation.

Same semantics as ``socketio_server.mjs``: a ``msg`` event is relayed unchanged to every connected
client except its sender; websocket transport only, and per-message compression off, so all three
servers write the same uncompressed frames.

Neither package is a dependency of the project: ``run.py`` installs them into its scratch folder
(``pip install --target``) and starts this file with that folder on ``PYTHONPATH``::

    PYTHONPATH=<scratch>/py python bench/broadcast/python_socketio_server.py --port 8000
"""

from __future__ import annotations

import argparse

import socketio
import uvicorn


def build_app() -> socketio.ASGIApp:
    """The relay: one handler, ``emit`` to everyone but the sender (``skip_sid``)."""
    sio = socketio.AsyncServer(async_mode="asgi", transports=["websocket"])

    @sio.on("msg")
    async def relay(sid: str, payload: str) -> None:
        await sio.emit("msg", payload, skip_sid=sid)

    return socketio.ASGIApp(sio)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    uvicorn.run(
        build_app(),
        host=args.host,
        port=args.port,
        ws_per_message_deflate=False,
        lifespan="off",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
