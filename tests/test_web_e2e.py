"""The web app in a real browser: headless Chromium (Debian's ``chromium``) driven by Playwright
(``playwright-core`` from npm, installed by ``scripts/build-web``), against real ``viora serve``
processes — one, and two sharing PostgreSQL, Redis and the media folder (A's browser on the
first, B's on the second). The scenario itself is ``web/e2e/two-users.mjs``; its screenshots go
under ``test-artifacts/web-e2e/<variant>/``.

Without Node.js or Chromium the tests are skipped with the reason, except under ``CI=true``, where
they fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from live import ADMIN_TOKEN, run_server_process, serve_process
from media_samples import photo_jpeg, video_mp4
from pgtools import scratch_database
from redistools import reachable_redis_url, scratch_prefix

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "web" / "e2e" / "two-users.mjs"
ARTIFACTS = ROOT / "test-artifacts" / "web-e2e"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SCENARIO_TIMEOUT_S = 300
SERVER_ENV = {"VIORA_MEDIA_WORKERS": "1"}

pytestmark = pytest.mark.slow


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the browser tests must run)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def node() -> str:
    """Node.js, with the web app built and playwright-core installed (``scripts/build-web``)."""
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        _missing("Node.js (node and npm) is not installed: the web app cannot be built or driven")
    if not os.access(CHROMIUM, os.X_OK):
        _missing(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM)")
    built = subprocess.run([ROOT / "scripts" / "build-web"], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, f"scripts/build-web failed:\n{built.stdout}\n{built.stderr}"
    return node


@pytest.fixture(scope="module")
def photo() -> Iterator[Path]:
    """A real photograph (scikit-image's Chelsea the cat) as a JPEG with EXIF."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "chelsea.jpg"
        path.write_bytes(photo_jpeg("chelsea"))
        yield path


@pytest.fixture(scope="module")
def video() -> Iterator[Path]:
    """A one-second H.264/AAC clip panning across a photograph."""
    with tempfile.TemporaryDirectory() as folder:
        yield video_mp4(Path(folder) / "pan.mp4", seconds=1.0)


def run_scenario(node: str, media: tuple[Path, Path], variant: str, url_a: str, url_b: str) -> None:
    artifacts = ARTIFACTS / variant
    shutil.rmtree(artifacts, ignore_errors=True)
    photo, video = media
    env = {
        **os.environ,
        "PHOTO": str(photo),
        "VIDEO": str(video),
        "ARTIFACTS": str(artifacts),
        "CHROMIUM": CHROMIUM,
        "ADMIN_TOKEN": ADMIN_TOKEN,  # the scenario makes its A a moderator once she has signed up
    }
    result = subprocess.run(
        [node, str(SCENARIO), url_a, url_b],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=SCENARIO_TIMEOUT_S,
    )
    if result.returncode != 0:
        pytest.fail(
            f"the browser scenario failed ({result.returncode}); screenshots in {artifacts}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}",
            pytrace=False,
        )
    assert (artifacts / "05-home-live-photo-phone.png").is_file()


def test_two_browsers_on_one_server(node: str, photo: Path, video: Path, embedded_pg_admin_dsn: str) -> None:
    with run_server_process(embedded_pg_admin_dsn, **SERVER_ENV) as server:
        run_scenario(node, (photo, video), "one-server", server.http_url, server.http_url)


def test_two_browsers_on_two_server_processes(
    node: str, photo: Path, video: Path, embedded_pg_admin_dsn: str
) -> None:
    url = reachable_redis_url()
    with (
        scratch_prefix(url) as prefix,
        scratch_database(embedded_pg_admin_dsn) as dsn,
        tempfile.TemporaryDirectory() as media,
    ):
        env = {**SERVER_ENV, "VIORA_REDIS_URL": url, "VIORA_REDIS_PREFIX": prefix, "VIORA_MEDIA_DIR": media}
        with serve_process(dsn, **env) as first, serve_process(dsn, **env) as second:
            run_scenario(node, (photo, video), "two-processes", first.http_url, second.http_url)
