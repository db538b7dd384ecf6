"""One port for everything, against the live test server: ``/ws`` on our transport (refusals
included), every other request on hypercorn, kept-alive connections and all."""

from __future__ import annotations

import base64
import os
from urllib.parse import urlsplit

import h11
import trio

from viora.client import Client
from viora.runtime import Runtime

Answer = tuple[int, dict[bytes, bytes], bytes]


async def open_stream(server: Runtime) -> trio.SocketStream:
    assert server.http_url is not None
    address = urlsplit(server.http_url)
    assert address.hostname is not None and address.port is not None
    return await trio.open_tcp_stream(address.hostname, address.port)


async def exchange(stream: trio.SocketStream, client: h11.Connection, request: h11.Request) -> Answer:
    """Send ``request`` on ``stream`` and read the whole answer (or the 101 head)."""
    await stream.send_all(client.send(request) + (client.send(h11.EndOfMessage()) or b""))
    status, headers, body = 0, {}, b""
    with trio.fail_after(10):
        while True:
            event = client.next_event()
            if event is h11.NEED_DATA:
                client.receive_data(await stream.receive_some())
            elif isinstance(event, h11.Response | h11.InformationalResponse):
                status, headers = event.status_code, dict(event.headers)
                if status == 101:
                    return status, headers, body
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                return status, headers, body


def get(path: str, *extra: tuple[str, str]) -> h11.Request:
    return h11.Request(method="GET", target=path, headers=[("Host", "viora.test"), *extra])


def upgrade_headers() -> list[tuple[str, str]]:
    return [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", base64.b64encode(os.urandom(16)).decode()),
        ("Sec-WebSocket-Version", "13"),
    ]


async def test_a_plain_get_of_the_websocket_path_is_told_to_upgrade(server: Runtime) -> None:
    async with await open_stream(server) as stream:
        status, headers, body = await exchange(stream, h11.Connection(h11.CLIENT), get("/ws"))
    assert status == 426
    assert headers[b"upgrade"] == b"websocket"
    assert b"websocket" in body


async def test_a_wrong_websocket_version_is_refused_with_the_one_we_speak(server: Runtime) -> None:
    headers = [(k, "8" if k == "Sec-WebSocket-Version" else v) for k, v in upgrade_headers()]
    async with await open_stream(server) as stream:
        status, answer, _ = await exchange(stream, h11.Connection(h11.CLIENT), get("/ws", *headers))
    assert status == 426
    assert answer[b"sec-websocket-version"] == b"13"


async def test_http_keeps_its_connection_alive_through_the_hand_off(server: Runtime) -> None:
    client = h11.Connection(h11.CLIENT)
    async with await open_stream(server) as stream:
        for _ in range(3):  # the first request was read by us and replayed; the others reach hypercorn
            status, _, body = await exchange(stream, client, get("/healthz"))
            assert (status, body) == (200, b'{"status":"ok"}\n')
            client.start_next_cycle()


async def test_an_upgrade_to_another_path_is_left_to_the_http_app(server: Runtime) -> None:
    async with await open_stream(server) as stream:
        status, _, _ = await exchange(stream, h11.Connection(h11.CLIENT), get("/healthz", *upgrade_headers()))
    assert status != 101 and status >= 400, "no websocket anywhere but /ws"


async def test_the_websocket_and_http_share_the_port(server: Runtime) -> None:
    assert server.http_url is not None
    async with Client.connect(server.http_url.replace("http://", "ws://", 1) + "/ws?client=test") as client:
        await client.request("ping")  # answered over our transport (the query is ignored)
        async with await open_stream(server) as stream:
            status, _, _ = await exchange(stream, h11.Connection(h11.CLIENT), get("/healthz"))
        assert status == 200
        assert len(server.services.sockets) == 1
