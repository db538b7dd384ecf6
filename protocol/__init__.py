"""Viora's wire protocol, sans-IO: bytes in, typed values out; no sockets, no clocks.

- ``errors``: error codes, close codes, ``ProtocolError`` and ``CloseConnection``.
- ``codec``: frame decoding and encoding.
- ``messages``: the registry of message types, used for validation and documentation.
- ``guard``: per-connection rate limiting and malformed-frame tolerance.
- ``docs``: renders PROTOCOL.md from the above.
"""
