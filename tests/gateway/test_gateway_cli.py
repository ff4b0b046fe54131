"""``stroomwijs gateway`` run in this process, so that its paths are measured.

The process tests (``test_gateway_process.py``) run the same command as a
child; these call the command's handler in the test's event loop, with real
loopback sockets: the API, the status page, a fake Supervisor, and SIGTERM
sent to this process (the handler installs its own signal handlers).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
import contextlib
import json
import logging
import os
from pathlib import Path
import signal
import socket
import stat
from typing import Any

import aiohttp
import pytest
import yaml

from custom_components.stroomwijs.engine.cli import build_parser, main
from custom_components.stroomwijs.engine.gateway.discovery import TOKEN_ENV

from .conftest import api_client, free_port, household_document
from .test_discovery import SUPERVISOR_TOKEN, FakeSupervisor

STARTUP_S = 60.0


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Put back the root and library log levels the command sets."""
    names = ("", "ocpp", "websockets")
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def _document(tmp_path: Path, **changes: Any) -> Path:  # noqa: ANN401
    document = household_document(p1_port=None, ocpp_port=free_port(), name="CLI")
    document.update(changes)
    path = tmp_path / "household.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def _args(config: Path, state: Path, *extra: str) -> list[str]:
    return [
        "gateway",
        "--config",
        str(config),
        "--state-dir",
        str(state),
        "--api-port",
        "0",
        *extra,
    ]


class _Running:
    """The gateway command as a task in this loop, with what it printed."""

    def __init__(self, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
        self.capsys = capsys
        args = build_parser("gateway").parse_args(argv)
        self.task: asyncio.Task[int] = asyncio.get_running_loop().create_task(
            args.handler(args)
        )
        self.out = ""
        self.err = ""

    async def line(self, text: str) -> str:
        """Wait for a printed line holding ``text``; return it."""
        async with asyncio.timeout(STARTUP_S):
            while True:
                captured = self.capsys.readouterr()
                self.out += captured.out
                self.err += captured.err
                for line in self.out.splitlines():
                    if text in line:
                        return line
                if self.task.done():
                    pytest.fail(f"the gateway ended: {self.task.result()} {self.err}")
                await asyncio.sleep(0.05)

    async def port(self, text: str) -> int:
        """Return the port at the end of the line holding ``text``."""
        return int((await self.line(text)).rsplit(":", 1)[1])

    async def terminate(self) -> int:
        """SIGTERM to this process, as the Supervisor stops an add-on."""
        os.kill(os.getpid(), signal.SIGTERM)
        async with asyncio.timeout(30):
            return await self.task

    async def cancel(self) -> None:
        """Stop the task if a test failed before it ended."""
        if not self.task.done():
            self.task.cancel()
            with contextlib.suppress(BaseException):
                await self.task


@contextlib.asynccontextmanager
async def _running(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> AsyncIterator[_Running]:
    running = _Running(capsys, argv)
    try:
        yield running
    finally:
        await running.cancel()


def _refused(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


async def _get(url: str) -> tuple[int, str, dict[str, str]]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text(), dict(response.headers)


async def test_runs_serves_and_stops_on_sigterm(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """API and status page on free ports; SIGTERM: exit 0, state saved, closed."""
    state = tmp_path / "state"
    argv = _args(
        _document(tmp_path),
        state,
        "--ingress-port",
        "0",
        "--ingress-allow",
        "127.0.0.1",
        "--log-level",
        "warning",
    )
    async with _running(capsys, argv) as gateway:
        api_port = await gateway.port("API on 127.0.0.1:")
        page_port = await gateway.port("status page on 127.0.0.1:")
        token_file = state / "api_token"
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        assert stat.S_IMODE(state.stat().st_mode) == 0o700
        token = token_file.read_text(encoding="ascii").strip()
        url = f"ws://127.0.0.1:{api_port}/api/websocket"
        async with api_client(url, token) as client:
            reply = await client.request("get_snapshot")
            assert reply["type"] == "result", reply
            assert reply["result"]["gateway"]["household"] == "CLI"
        status, html, headers = await _get(f"http://127.0.0.1:{page_port}/")
        assert status == 200
        assert headers["Cache-Control"] == "no-store"
        assert 'fetch("api/status"' in html
        status, text, _ = await _get(f"http://127.0.0.1:{page_port}/api/status")
        assert status == 200
        assert json.loads(text)["gateway"]["household"] == "CLI"
        # A wrong token opens nothing.
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(
                    url, headers={"Authorization": f"Bearer {'x' * 43}"}
                )
            assert refused.value.status == 401
        assert logging.getLogger().level == logging.WARNING
        assert await gateway.terminate() == 0
    assert (state / "state.json").is_file()
    assert _refused(api_port)
    assert _refused(page_port)
    # The signal handlers are gone again: the loop no longer catches SIGTERM.
    loop = asyncio.get_running_loop()
    assert not loop.remove_signal_handler(signal.SIGTERM)


async def test_an_explicit_token_file_is_used_and_tightened(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--token-file is used as given (made 0600), none made in the state folder."""
    token_file = tmp_path / "elsewhere" / "token"
    token_file.parent.mkdir()
    token_file.write_text("t" * 43 + "\n", encoding="ascii")
    token_file.chmod(0o644)
    state = tmp_path / "state"
    argv = _args(_document(tmp_path), state, "--token-file", str(token_file), "-v")
    argv.insert(0, argv.pop(argv.index("-v")))
    async with _running(capsys, argv) as gateway:
        api_port = await gateway.port("API on")
        async with api_client(
            f"ws://127.0.0.1:{api_port}/api/websocket", "t" * 43
        ) as client:
            assert (await client.request("get_snapshot"))["type"] == "result"
        # -v without --log-level: debug, and the libraries are not quietened.
        assert logging.getLogger().level == logging.DEBUG
        assert await gateway.terminate() == 0
    assert not (state / "api_token").exists()
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600, "tightened"


async def test_announces_to_the_supervisor(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With SUPERVISOR_TOKEN: host, port and the API token are posted."""
    supervisor = FakeSupervisor()
    await supervisor.start()
    monkeypatch.setenv(TOKEN_ENV, SUPERVISOR_TOKEN)
    state = tmp_path / "state"
    argv = _args(
        _document(tmp_path),
        state,
        "--supervisor-url",
        supervisor.url,
        "--announce-host",
        "local-stroomwijs",
    )
    try:
        async with _running(capsys, argv) as gateway:
            api_port = await gateway.port("API on")
            async with asyncio.timeout(20):
                await supervisor.arrived.wait()
            assert await gateway.terminate() == 0
    finally:
        await supervisor.stop()
    token = (state / "api_token").read_text(encoding="ascii").strip()
    assert supervisor.messages == [
        {
            "service": "stroomwijs",
            "config": {"host": "local-stroomwijs", "port": api_port, "token": token},
        }
    ]


async def test_an_unanswered_announcement_does_not_hold_up_the_stop(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No Supervisor listening: retried in 5 s, and that wait ends on SIGTERM."""
    monkeypatch.setenv(TOKEN_ENV, SUPERVISOR_TOKEN)
    argv = _args(
        _document(tmp_path),
        tmp_path / "state",
        "--supervisor-url",
        f"http://127.0.0.1:{free_port()}",
    )
    caplog.set_level(logging.WARNING, "custom_components.stroomwijs.engine.gateway")
    async with _running(capsys, argv) as gateway:
        await gateway.port("API on")
        for _ in range(400):
            if "Supervisor failed" in caplog.text:
                break
            await asyncio.sleep(0.05)
        assert "cannot be reached" in caplog.text
        async with asyncio.timeout(3):
            assert await gateway.terminate() == 0


async def test_a_taken_api_port_exits_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The API port in use: exit 3 with the address in the message."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = _args(_document(tmp_path), tmp_path / "state")
        argv[argv.index("--api-port") + 1] = str(port)
        args = build_parser("gateway").parse_args(argv)
        assert await args.handler(args) == 3
    err = capsys.readouterr().err
    assert f"the API cannot listen on 127.0.0.1:{port}" in err


async def test_a_taken_status_page_port_exits_3_and_frees_the_api(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The status page cannot listen: exit 3, and the API port is let go."""
    api_port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = _args(_document(tmp_path), tmp_path / "state", "--ingress-port")
        argv.append(str(port))
        argv[argv.index("--api-port") + 1] = str(api_port)
        args = build_parser("gateway").parse_args(argv)
        assert await args.handler(args) == 3
    assert "the status page cannot be served" in capsys.readouterr().err
    assert _refused(api_port)


async def test_a_bad_ingress_peer_exits_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--ingress-allow that is no address: refused before anything is served."""
    argv = _args(
        _document(tmp_path),
        tmp_path / "state",
        "--ingress-port",
        "0",
        "--ingress-allow",
        "proxy.local",
    )
    args = build_parser("gateway").parse_args(argv)
    assert await args.handler(args) == 3
    err = capsys.readouterr().err
    assert "the status page cannot be served" in err
    assert "proxy.local" in err


# The errors before anything runs go through ``main``, as from the shell.


def test_a_bad_document_names_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 2 with the field; no state folder or token made."""
    config = _document(tmp_path, grid={"phases": 3, "fuse_a": -5})
    assert main(_args(config, tmp_path / "state")) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"stroomwijs gateway: {config}: ")
    assert "grid.fuse_a" in err
    assert not (tmp_path / "state").exists()


def test_a_missing_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A document that is not there: exit 2, the OS's reason."""
    config = tmp_path / "nowhere.yaml"
    assert main(_args(config, tmp_path / "state")) == 2
    assert (
        capsys.readouterr().err
        == f"stroomwijs gateway: {config}: No such file or directory\n"
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--api-port", "70000"), "--api-port: 70000 is not a port"),
        (("--ocpp-port", "0"), "0 is not a port"),
        (
            ("--ocpp-security-profile", "2", "--ocpp-certfile", "c.pem"),
            "OCPP security profile 2 needs a certificate and a key file",
        ),
    ],
)
def test_bad_settings_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: tuple[str, ...],
    message: str,
) -> None:
    """Settings that cannot work: exit 2 before the document is even read."""
    config = tmp_path / "not-read.yaml"
    assert main([*_args(config, tmp_path / "state"), *extra]) == 2
    assert capsys.readouterr().err == f"stroomwijs gateway: {message}\n"


def test_a_state_folder_that_is_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--state-dir names a file: exit 2 naming it."""
    state = tmp_path / "state"
    state.write_text("not a folder", encoding="utf-8")
    assert main(_args(_document(tmp_path), state)) == 2
    assert capsys.readouterr().err == f"stroomwijs gateway: {state}: File exists\n"


def test_a_weak_token_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A token file with a short token: exit 2, the file is not replaced."""
    state = tmp_path / "state"
    state.mkdir()
    (state / "api_token").write_text("short\n", encoding="ascii")
    assert main(_args(_document(tmp_path), state)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"stroomwijs gateway: {state / 'api_token'}")
    assert (state / "api_token").read_text(encoding="ascii") == "short\n"
