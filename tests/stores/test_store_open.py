"""open_stores: the embedded default and a configured server."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest

from kernel.config import Settings
from stores.open import open_stores


async def test_open_stores_on_a_configured_server(pg_dsn: str) -> None:
    async with open_stores(Settings(pg_dsn=pg_dsn, db_pool_size=2)) as stores:
        assert (stores.dsn, stores.embedded) == (pg_dsn, None)
        assert await stores.users.get_user(-1) is None


async def test_embedded_stores_keep_their_data_across_restarts() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="viora-st-")) / "data"
    try:
        async with open_stores(Settings(data_dir=data_dir, db_pool_size=2)) as stores:
            assert stores.embedded is not None and stores.embedded.running()
            user = await stores.users.create_user("persistent", "P", "h")
            dsn = stores.dsn
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(dsn, connect_timeout=2).close()

        async with open_stores(Settings(data_dir=data_dir, db_pool_size=2)) as stores:
            assert await stores.users.get_user_by_username("persistent") == user
    finally:
        shutil.rmtree(data_dir.parent, ignore_errors=True)
