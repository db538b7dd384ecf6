"""The Python client's client keys: a fresh one per action, the same one on each retry of it."""

from __future__ import annotations

import pytest
import trio

from protocol.codec import decode_request, encode_error
from protocol.errors import ErrorCode
from viora.client import Client, ServerError


class ScriptedServer:
    """A socket whose server answers each request with the next error code of a script."""

    def __init__(self, *codes: ErrorCode) -> None:
        self.codes = list(codes)
        self.bodies: list[dict[str, object]] = []
        self._replies_send, self._replies = trio.open_memory_channel[bytes](16)

    async def send_message(self, message: bytes | str) -> None:
        request = decode_request(message, max_bytes=65536)
        self.bodies.append(dict(request.body))
        await self._replies_send.send(encode_error(self.codes.pop(0), "scripted", ref=request.id))

    async def get_message(self) -> bytes | str:
        return await self._replies.receive()


async def test_a_create_retries_under_one_key_and_the_next_action_gets_another() -> None:
    server = ScriptedServer(ErrorCode.TIMEOUT, ErrorCode.UNAVAILABLE, ErrorCode.CONFLICT, ErrorCode.TIMEOUT)
    async with Client.over(server) as client:
        with pytest.raises(ServerError, match="conflict"):  # not a maybe-done code: not retried
            await client.request("post.create", {"text": "hi"}, attempts=5)
        with pytest.raises(ServerError, match="timeout"):
            await client.request("post.create", {"text": "hi"})
    keys = [body["client_key"] for body in server.bodies]
    assert len(keys) == 4 and keys[0] == keys[1] == keys[2] != keys[3]
    assert all(body["text"] == "hi" for body in server.bodies)


async def test_a_key_given_is_kept_and_other_requests_get_none() -> None:
    server = ScriptedServer(ErrorCode.NOT_FOUND, ErrorCode.NOT_FOUND)
    async with Client.over(server) as client:
        for type_, body in (("dm.send", {"client_key": "mine"}), ("post.like", {"post_id": 1})):
            with pytest.raises(ServerError):
                await client.request(type_, body)
    assert server.bodies == [{"client_key": "mine"}, {"post_id": 1}]
