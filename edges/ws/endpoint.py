"""Where a websocket meets the handlers: a new :class:`~edges.ws.connection.Connection` with the
table of :mod:`edges.ws.handlers` — the one place that puts the two together."""

from __future__ import annotations

from edges.ws.connection import Connection
from edges.ws.context import Services, Transport
from edges.ws.handlers import HANDLERS


def open_connection(transport: Transport, services: Services) -> Connection:
    """A connection over ``transport`` that answers every client message of the protocol."""
    return Connection(transport, services, HANDLERS)
