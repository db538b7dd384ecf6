"""One websocket after its handshake, sans-IO and server side: bytes in, events out (RFC 6455 §5-§7).

:meth:`WebSocketConnection.receive_data` takes whatever the socket delivered and returns the events
it completed; :meth:`~WebSocketConnection.send` turns an event into the bytes to write; what the
protocol makes us answer on our own — a pong for each ping, the echo of the peer's close, the close
that fails a connection — waits in :meth:`~WebSocketConnection.data_to_send`. Nothing here does
I/O or knows about Trio, so every rule is unit-tested without a socket.

A frame's payload is consumed as it arrives, not when the whole frame is in: a text message is
UTF-8-checked chunk by chunk (an invalid sequence fails the connection with 1007 as soon as its
bytes are seen, even in the middle of a frame), a message over the size limit is failed (1009)
from its frame header, before its payload is buffered, and only a frame header ever waits in a
buffer. After a failure (1002, 1007, 1009) the connection keeps reading frames, skipping them,
to find the peer's answering close frame.
"""

from __future__ import annotations

import codecs
import enum
from dataclasses import dataclass

from edges.websocket.frames import (
    CloseStatus,
    FrameHeader,
    Opcode,
    ProtocolViolation,
    encode_close,
    encode_frame,
    header_problem,
    parse_close,
    parse_header,
    rotate_mask,
    unmask,
)


class State(enum.Enum):
    OPEN = "open"
    CLOSING = "closing"
    """Our close frame went out (we closed, or failed the connection); waiting for the peer's."""
    CLOSED = "closed"
    """Both close frames went (or the peer's came first and we echoed it), or the stream is beyond
    repair: the TCP connection should be closed now."""


@dataclass(frozen=True, slots=True)
class Message:
    data: bytes | str
    """``str`` for a text message, ``bytes`` for a binary one."""


@dataclass(frozen=True, slots=True)
class Ping:
    payload: bytes = b""


@dataclass(frozen=True, slots=True)
class Pong:
    payload: bytes = b""


@dataclass(frozen=True, slots=True)
class Close:
    code: int | None = int(CloseStatus.NORMAL)
    """None: a close frame without a body (received, or sent as the answer to one)."""
    reason: str = ""


Event = Message | Ping | Pong | Close


class WebSocketClosed(Exception):
    """Something was to be sent after our close frame (or the peer's) went: a bug of the caller."""


_utf8_decoder = codecs.getincrementaldecoder("utf-8")
_OPEN = State.OPEN
_TEXT = int(Opcode.TEXT)
_BINARY = int(Opcode.BINARY)


class WebSocketConnection:
    """The server side of one websocket, from the first byte after the 101 answer."""

    def __init__(self, max_message_bytes: int) -> None:
        self.max_message_bytes = max_message_bytes
        self.state = State.OPEN
        self.close_received: Close | None = None
        self.failure: ProtocolViolation | None = None
        """Why we failed the connection, if we did."""
        self._pending = b""  # an incomplete frame header
        self._out = bytearray()  # frames we owe the peer
        self._close_owed = False  # our close frame is in ``_out``, not yet taken
        # the frame being read
        self._left = -1  # its payload bytes still to come; -1 between frames
        self._opcode = 0
        self._fin = False
        self._mask = b""
        self._skip = False  # pass its payload over (after a failure)
        self._control = b""  # a control frame's payload so far (at most 125 bytes)
        # the message being assembled
        self._message = 0  # Opcode.TEXT or BINARY while one is open; 0 between messages
        self._size = 0
        self._chunks: list[bytes] = []
        self._texts: list[str] = []
        self._decoder: codecs.IncrementalDecoder | None = None

    # ------------------------------------------------------------------ receiving

    def receive_data(self, data: bytes) -> list[Event]:
        """The events the bytes ``data`` completed, in order (often none, often one message)."""
        events: list[Event] = []
        if self.state is State.CLOSED:
            return events
        buf = self._pending + data if self._pending else data
        pos = 0
        end = len(buf)
        while self.state is not State.CLOSED:
            if self._left < 0:
                try:
                    header = parse_header(buf, pos)
                except ProtocolViolation as violation:  # no frame boundary to find after it
                    self._fail(violation)
                    self.state = State.CLOSED
                    break
                if header is None:
                    break
                if self._whole_message(buf, header, events):
                    pos = header.end + header.length
                    continue
                pos = header.end
                try:
                    self._begin_frame(header)
                except ProtocolViolation as violation:
                    self._fail(violation)
                    if header.opcode == Opcode.CLOSE:  # the peer closed its half: nothing to wait for
                        self.state = State.CLOSED
            take = min(end - pos, self._left)
            chunk = buf[pos : pos + take]
            pos += take
            self._left -= take
            if not self._skip:
                try:
                    self._payload(chunk, events)
                except ProtocolViolation as violation:
                    self._fail(violation)
            if self._left:
                break
            self._left = -1
        self._pending = buf[pos:] if pos < end and self.state is not State.CLOSED else b""
        return events

    def _whole_message(self, buf: bytes, header: FrameHeader, events: list[Event]) -> bool:
        """The fast path: a valid frame that is a whole message and whose payload is all in
        ``buf`` becomes a :class:`Message` at once (False: let the general path take the frame)."""
        opcode = header.opcode
        length = header.length
        if not (
            opcode in (_BINARY, _TEXT)
            and header.fin
            and header.masked
            and not header.rsv
            and not self._message
            and self.state is _OPEN
            and length <= self.max_message_bytes
            and len(buf) - header.end >= length
        ):
            return False
        payload = unmask(buf[header.end : header.end + length], header.mask)
        if opcode == _BINARY:
            events.append(Message(payload))
            return True
        try:
            events.append(Message(payload.decode()))
        except UnicodeDecodeError:
            return False  # the general path fails the connection and says why
        return True

    def data_to_send(self) -> bytes:
        """The frames the protocol made us owe the peer since the last call (pongs, closes)."""
        self._close_owed = False
        if not self._out:
            return b""
        out = bytes(self._out)
        self._out.clear()
        return out

    def _begin_frame(self, header: FrameHeader) -> None:
        opcode = header.opcode
        self._opcode = opcode
        self._fin = header.fin
        self._mask = header.mask
        self._left = header.length
        self._skip = False
        problem = header_problem(header)
        if problem is not None:
            raise ProtocolViolation(CloseStatus.PROTOCOL_ERROR, problem)
        if self.state is State.CLOSING:  # after our close frame only the peer's close matters
            self._skip = opcode != Opcode.CLOSE
            return
        if opcode >= Opcode.CLOSE:
            return
        if opcode == Opcode.CONTINUATION:
            if not self._message:
                raise ProtocolViolation(CloseStatus.PROTOCOL_ERROR, "continuation frame outside a message")
        elif self._message:
            raise ProtocolViolation(CloseStatus.PROTOCOL_ERROR, "new message before the fragmented one ended")
        else:
            self._message = opcode
        self._size += header.length
        if self._size > self.max_message_bytes:
            raise ProtocolViolation(
                CloseStatus.MESSAGE_TOO_BIG, f"message over {self.max_message_bytes} bytes"
            )

    def _payload(self, chunk: bytes, events: list[Event]) -> None:
        """The next ``chunk`` of the current frame's payload (``self._left`` bytes still to come)."""
        if self._opcode >= Opcode.CLOSE:
            self._control += chunk
            if not self._left:
                payload = unmask(self._control, self._mask)
                self._control = b""
                self._control_frame(payload, events)
            return
        data = unmask(chunk, self._mask)
        if self._left:
            self._mask = rotate_mask(self._mask, len(chunk))
        last = not self._left and self._fin
        if self._message == Opcode.TEXT:
            self._text(data, last)
        elif data:
            self._chunks.append(data)
        if last:
            events.append(Message(self._take_message()))

    def _text(self, data: bytes, last: bool) -> None:
        decoder = self._decoder
        try:
            if decoder is None:
                if last:  # the whole message in one piece: no incremental decoder needed
                    self._texts.append(data.decode())
                    return
                decoder = self._decoder = _utf8_decoder()
            text = decoder.decode(data, last)
        except UnicodeDecodeError:
            raise ProtocolViolation(CloseStatus.INVALID_DATA, "text message is not UTF-8") from None
        if text:
            self._texts.append(text)
        held = decoder.getstate()[0]
        # CPython holds back ED A0..BF until a third byte comes; it already cannot be UTF-8.
        if len(held) > 1 and held[0] == 0xED and held[1] >= 0xA0:
            raise ProtocolViolation(CloseStatus.INVALID_DATA, "text message holds a UTF-16 surrogate")

    def _take_message(self) -> bytes | str:
        data: bytes | str
        if self._message == Opcode.TEXT:
            texts = self._texts
            data = texts[0] if len(texts) == 1 else "".join(texts)
        else:
            chunks = self._chunks
            data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self._reset_message()
        return data

    def _reset_message(self) -> None:
        self._message = 0
        self._size = 0
        self._chunks = []
        self._texts = []
        self._decoder = None

    def _control_frame(self, payload: bytes, events: list[Event]) -> None:
        opcode = self._opcode
        if opcode == Opcode.PING:
            if self.state is State.OPEN:
                self._out += encode_frame(Opcode.PONG, payload)
            events.append(Ping(payload))
        elif opcode == Opcode.PONG:
            events.append(Pong(payload))
        else:
            try:
                code, reason = parse_close(payload)
            except ProtocolViolation as violation:
                self._fail(violation)
                self.state = State.CLOSED  # the peer closed its half already: no answer to wait for
                return
            close = Close(code, reason)
            if self.state is State.OPEN:
                self._out += encode_close(code)  # echo the code, as §5.5.1 has it
                self._close_owed = True
            self.state = State.CLOSED
            self.close_received = close
            events.append(close)

    def _fail(self, violation: ProtocolViolation) -> None:
        """_Fail the WebSocket Connection_ (§7.1.7): our close frame with the violation's code."""
        self._skip = True
        if self.state is not State.OPEN:
            self.state = State.CLOSED  # broken even while closing: nothing more to wait for
            return
        self.failure = violation
        self._out += encode_close(violation.status, violation.reason)
        self._close_owed = True
        self.state = State.CLOSING
        self._reset_message()

    # ------------------------------------------------------------------ sending

    @property
    def can_send(self) -> bool:
        """Whether messages may still be sent: the websocket is open, or the close frame the
        protocol made us owe (an echo, a failure) has not been taken by :meth:`data_to_send` yet —
        answers to the messages that came before that close go out before it."""
        return self.state is State.OPEN or self._close_owed

    def send(self, event: Event) -> bytes:
        """The bytes that carry ``event`` to the peer; a :class:`Close` starts the closing handshake."""
        if not self.can_send or (self.state is not State.OPEN and isinstance(event, Close)):
            raise WebSocketClosed(
                f"cannot send {type(event).__name__} once the websocket is {self.state.value}"
            )
        if type(event) is Message:
            data = event.data
            if isinstance(data, str):
                return encode_frame(Opcode.TEXT, data.encode())
            return encode_frame(Opcode.BINARY, data)
        if isinstance(event, Close):
            self.state = State.CLOSING
            return encode_close(event.code, event.reason)
        if isinstance(event, Ping | Pong):
            if len(event.payload) > 125:
                raise ValueError("a ping or pong carries at most 125 bytes")
            return encode_frame(Opcode.PING if isinstance(event, Ping) else Opcode.PONG, event.payload)
        raise TypeError(f"not a websocket event: {event!r}")
