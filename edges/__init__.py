"""The edges: where the outside world comes in (websocket requests, HTTP routes)."""
