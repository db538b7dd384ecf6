"""Redis helpers for the Redis suites and the two-process test (not fixtures themselves)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis

DEFAULT_URL = "redis://127.0.0.1:6379/0"


def reachable_redis_url() -> str:
    """``VIORA_TEST_REDIS_URL`` (default: local Redis); skip if unreachable — fail under CI."""
    url = os.environ.get("VIORA_TEST_REDIS_URL", DEFAULT_URL)
    try:
        with redis.Redis.from_url(url, socket_connect_timeout=3) as client:
            client.ping()
    except redis.RedisError as exc:
        reason = f"no Redis server at {url} ({exc}); set VIORA_TEST_REDIS_URL to test against one"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return url


@contextmanager
def scratch_prefix(url: str) -> Iterator[str]:
    """A key prefix of this test's own; every key under it is deleted after."""
    prefix = f"viora-test-{uuid.uuid4().hex[:12]}"
    try:
        yield prefix
    finally:
        with redis.Redis.from_url(url) as client:
            keys = list(client.scan_iter(match=f"{prefix}:*"))
            if keys:
                client.delete(*keys)
