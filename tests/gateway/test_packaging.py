"""The add-on's app, built from the checkout as the Dockerfile builds it, runs.

Docker does not run here, so the image's steps are done by hand: copy what
the Dockerfile copies (``STROOMWIJS_APP_FILES``) from the checkout, leaving
out what git ignores (a clean checkout has none of it), install it with
``pip install --no-deps`` into a fresh venv, and start ``stroomwijs
gateway`` from that venv: ``--help``, and a short real run answered through
its API. The image's ``pip install`` of the pinned requirements is stood in
for by this environment's packages (the same pins: see
test_addon_config.py), reached through a path file; the engine itself comes
only from the new venv.
"""

from __future__ import annotations

import asyncio
import fnmatch
import os
from pathlib import Path
import re
import shutil
import subprocess
import sys
import sysconfig

import pytest
import yaml

from .conftest import api_client, free_port

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "addon/stroomwijs/Dockerfile"
WHEELS = Path("/usr/share/python-wheels")
"""Debian's setuptools wheel: the build backend, without the network."""


def _app_files() -> list[str]:
    match = re.search(r'ARG STROOMWIJS_APP_FILES="([^"]+)"', DOCKERFILE.read_text())
    assert match is not None, "the Dockerfile names what it copies"
    return match.group(1).split()


def _ignored(relative: Path, patterns: list[str]) -> bool:
    for part_index, part in enumerate(relative.parts):
        is_dir = part_index < len(relative.parts) - 1
        for pattern in patterns:
            if pattern.endswith("/"):
                if is_dir and fnmatch.fnmatch(part, pattern[:-1]):
                    return True
            elif fnmatch.fnmatch(part, pattern):
                return True
    return False


def build_app(destination: Path) -> list[Path]:
    """Copy the app's files as a clean checkout has them; return them."""
    patterns = [
        line.strip()
        for line in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied: list[Path] = []
    for item in _app_files():
        source = ROOT / item
        paths = [source] if source.is_file() else sorted(source.rglob("*"))
        for path in paths:
            relative = path.relative_to(ROOT)
            if path.is_dir() or _ignored(relative, patterns):
                continue
            target = destination / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            copied.append(relative)
    return copied


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Install the app in a fresh venv; return its bin folder."""
    if not list(WHEELS.glob("setuptools-*.whl")):
        pytest.fail(f"no setuptools wheel in {WHEELS} to build the app offline")
    base = tmp_path_factory.mktemp("packaging")
    app = base / "app"
    files = build_app(app)
    assert Path("custom_components/stroomwijs/engine/gateway/cli.py") in files
    assert Path("custom_components/stroomwijs/manifest.json") in files
    assert not [f for f in files if "__pycache__" in f.parts or f.suffix == ".pyc"]
    venv = base / "venv"
    subprocess.run(  # noqa: S603
        [sys.executable, "-m", "venv", str(venv)], check=True, timeout=120
    )
    python = venv / "bin/python"
    site = Path(
        subprocess.run(  # noqa: S603
            [
                str(python),
                "-c",
                "import sysconfig; print(sysconfig.get_paths()['purelib'])",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    # The pinned requirements, as the image's first pip install leaves them.
    (site / "requirements.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8"
    )
    subprocess.run(  # noqa: S603
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--find-links",
            str(WHEELS),
            str(app),
        ],
        check=True,
        timeout=300,
        cwd=base,
    )
    return venv / "bin"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.pop("VIRTUAL_ENV", None)
    return env


def test_the_installed_app_has_the_command_and_its_own_engine(installed: Path) -> None:
    """``stroomwijs gateway --help`` runs from the venv's console script."""
    result = subprocess.run(  # noqa: S603
        [str(installed / "stroomwijs"), "gateway", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=_env(),
        cwd=installed,
    )
    assert "--state-dir" in result.stdout
    assert "--ocpp-security-profile" in result.stdout
    where = subprocess.run(  # noqa: S603
        [
            str(installed / "python"),
            "-c",
            (
                "import custom_components.stroomwijs.engine.gateway.cli as m; "
                "print(m.__file__)"
            ),
        ],
        capture_output=True,
        text=True,
        check=True,
        env=_env(),
        cwd=installed,
    ).stdout.strip()
    assert where.startswith(str(installed.parent)), where
    assert not where.startswith(f"{ROOT}/"), "the engine came from the checkout"


async def test_the_installed_gateway_runs_and_answers(
    installed: Path, tmp_path: Path
) -> None:
    """A short real run of the installed gateway, through its API, then SIGTERM."""
    document = {
        "version": 1,
        "name": "Packaged",
        "ocpp": {"enabled": True, "host": "127.0.0.1", "port": free_port()},
    }
    config = tmp_path / "household.yaml"
    config.write_text(yaml.safe_dump(document), encoding="utf-8")
    process = await asyncio.create_subprocess_exec(
        str(installed / "stroomwijs"),
        "gateway",
        "--config",
        str(config),
        "--state-dir",
        str(tmp_path / "state"),
        "--api-port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_env(),
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(60):
            line = (await process.stdout.readline()).decode()
        assert "API on" in line, line
        port = int(line.rsplit(":", 1)[1])
        token = (tmp_path / "state/api_token").read_text(encoding="ascii").strip()
        async with api_client(f"ws://127.0.0.1:{port}/api/websocket", token) as client:
            reply = await client.request("get_snapshot")
            snapshot = reply["result"]
            for _ in range(50):
                if snapshot["gateway"]["state"] == "running":
                    break
                await asyncio.sleep(0.1)
                snapshot = (await client.request("get_snapshot"))["result"]
            assert snapshot["gateway"]["state"] == "running"
            assert snapshot["household"]["name"] == "Packaged"
    finally:
        if process.returncode is None:
            process.terminate()
        async with asyncio.timeout(30):
            _, err = await process.communicate()
    assert process.returncode == 0, err.decode()[-2000:]
    assert (tmp_path / "state/state.json").exists()
