"""Every client message the protocol declares has a handler, and no handler serves an undeclared one."""

from edges.ws.handlers import HANDLERS
from protocol.messages import REGISTRY


def test_every_declared_client_message_has_a_handler() -> None:
    assert set(HANDLERS) == set(REGISTRY)
