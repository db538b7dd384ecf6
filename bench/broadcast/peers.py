"""The scratch folder that holds the peers' code: npm and pip installs that never enter the repository.

Why a scratch folder: the comparison needs Socket.IO (Node), python-socketio, uvicorn and py-spy, none
of which the project depends on. They go under ``bench/results/broadcast-peers/`` (git-ignored),
are installed only when missing, and the Node scripts are copied next to ``node_modules`` there
because ESM imports resolve bare package names from the importing file's folder upwards (and ignore
``NODE_PATH``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
NPM_PACKAGES = ("socket.io", "socket.io-client", "ws", "@msgpack/msgpack")
PIP_PACKAGES = ("python-socketio", "uvicorn[standard]")
PIP_PROFILER = "py-spy"
NODE_SCRIPTS = ("socketio_server.mjs", "clients.mjs")
PYTHON_SERVER = HERE / "python_socketio_server.py"


@dataclass(frozen=True)
class Peers:
    """Where the installed peers live, and which versions the run used (for the results)."""

    scratch: Path
    node: str
    python_path: Path
    """``pip install --target`` folder: put it on ``PYTHONPATH`` to run the python-socketio server."""
    py_spy: Path | None
    versions: dict[str, str]

    def script(self, name: str) -> Path:
        return self.scratch / name


def prepare(scratch: Path) -> Peers:
    """Install what is missing into ``scratch`` and copy the Node scripts there."""
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        raise SystemExit("node and npm are needed for the Socket.IO peer and the load driver")
    scratch.mkdir(parents=True, exist_ok=True)
    _npm_install(scratch)
    for name in NODE_SCRIPTS:
        shutil.copyfile(HERE / name, scratch / name)
    python_path = scratch / "py"
    _pip_install(python_path)
    py_spy = python_path / "bin" / "py-spy"
    versions = {
        "node": subprocess.run(
            [node, "--version"], capture_output=True, text=True, check=True
        ).stdout.strip(),
        **_npm_versions(scratch),
        **_pip_versions(python_path),
    }
    return Peers(scratch, node, python_path, py_spy if py_spy.exists() else None, versions)


def _npm_install(scratch: Path) -> None:
    missing = [p for p in NPM_PACKAGES if not (scratch / "node_modules" / p / "package.json").exists()]
    if not missing:
        return
    package_json = scratch / "package.json"
    if not package_json.exists():
        package_json.write_text(json.dumps({"private": True, "name": "viora-broadcast-peers"}) + "\n")
    print(f"npm install {' '.join(NPM_PACKAGES)} (into {scratch})", flush=True)
    subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", *NPM_PACKAGES],
        cwd=scratch,
        check=True,
    )


def _pip_install(target: Path) -> None:
    """python-socketio and uvicorn must install; py-spy is optional (the profile is skipped without it)."""
    if not ((target / "socketio").is_dir() and (target / "uvicorn").is_dir()):
        print(f"pip install --target {target} {' '.join(PIP_PACKAGES)}", flush=True)
        _pip(target, *PIP_PACKAGES, check=True)
    if not (target / "bin" / "py-spy").exists():
        print(f"pip install --target {target} {PIP_PROFILER}", flush=True)
        _pip(target, PIP_PROFILER, check=False)


def _pip(target: Path, *packages: str, check: bool) -> None:
    """Quiet unless it fails (this machine's pip config prints a warning per missing local index)."""
    # --upgrade: a second --target install into an existing folder would otherwise skip packages.
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--upgrade", "--target", str(target)]
    done = subprocess.run([*command, *packages], capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stderr[-2000:], file=sys.stderr)
        if check:
            raise SystemExit(f"pip install of {' '.join(packages)} failed")


def _npm_versions(scratch: Path) -> dict[str, str]:
    versions = {}
    for package in NPM_PACKAGES:
        manifest = scratch / "node_modules" / package / "package.json"
        versions[f"npm:{package}"] = json.loads(manifest.read_text())["version"]
    return versions


def _pip_versions(target: Path) -> dict[str, str]:
    wanted = {"python-socketio", "python-engineio", "uvicorn", "uvloop", "websockets", "py-spy"}
    found = {}
    for dist in metadata.distributions(path=[str(target)]):
        name = dist.metadata["Name"].lower()
        if name in wanted:
            found[f"pip:{name}"] = dist.version
    return dict(sorted(found.items()))
