"""The ASGI entry point: ``/ws`` goes straight to our websocket loop, everything else to Quart.

The websocket hot path talks ASGI directly (one dict per frame) instead of going through a web
framework's per-message machinery; HTTP routes (health, admin, later uploads) use quart-trio.
"""

from __future__ import annotations

from edges.asgi_types import ASGIApp, Receive, Scope, Send
from edges.context import EdgeRuntime
from edges.ws.endpoint import open_connection
from protocol.errors import CloseCode

WEBSOCKET_PATH = "/ws"


class AsgiWebSocket:
    """Adapts an ASGI websocket to the ``Transport`` the connection speaks."""

    def __init__(self, receive: Receive, send: Send, *, peer: str | None) -> None:
        self._receive = receive
        self._send = send
        self.peer = peer

    async def accept(self) -> bool:
        message = await self._receive()
        if message["type"] != "websocket.connect":
            return False
        await self._send({"type": "websocket.accept"})
        return True

    async def receive(self) -> bytes | str | None:
        message = await self._receive()
        if message["type"] == "websocket.disconnect":
            return None
        data = message.get("bytes")
        return data if data is not None else message.get("text", "")

    async def send(self, data: bytes) -> None:
        await self._send({"type": "websocket.send", "bytes": data})

    async def close(self, code: int, reason: str) -> None:
        await self._send({"type": "websocket.close", "code": code, "reason": reason})


def build_asgi(runtime: EdgeRuntime, http_app: ASGIApp) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == WEBSOCKET_PATH:
            transport = AsgiWebSocket(receive, send, peer=_client_host(scope))
            if not await transport.accept():
                return
            if not runtime.root.running.is_set():
                await transport.close(int(CloseCode.GOING_AWAY), "server is not ready")
                return
            await open_connection(transport, runtime.services).serve()
            return
        await http_app(scope, receive, send)

    return app


def _client_host(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None
