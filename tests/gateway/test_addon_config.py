"""The add-on folder follows the rules the Supervisor and the add-on linter apply.

A config.yaml the Supervisor cannot read does not fail anything visible: the
store logs a warning and the add-on is simply missing. So the rules are
checked here. They are written from the Supervisor's add-on schema
(``supervisor/addons/validate.py``: required keys and types, the watchdog
and port formats; ``supervisor/addons/options.py``: the options schema
syntax; ``SCHEMA_BUILD_CONFIG`` for build.yaml; the translations schema) and
from the add-on linter's consistency checks (ports and ingress, options
against schema, translations against options), not copied from them.
"""

from __future__ import annotations

from pathlib import Path
import re
import stat
from typing import Any
from urllib.parse import urlparse

from PIL import Image
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ADDON = ROOT / "addon/stroomwijs"
ARCHES = {"aarch64", "amd64", "armhf", "armv7", "i386"}
STARTUP = {"initialize", "system", "services", "application", "once"}
BOOT = {"auto", "manual", "manual_only"}
MAP_TYPES = {
    "data",
    "config",
    "ssl",
    "addons",
    "backup",
    "share",
    "media",
    "homeassistant_config",
    "all_addon_configs",
    "addon_config",
}
BOOLEAN_KEYS = {
    "init",
    "advanced",
    "ingress",
    "ingress_stream",
    "panel_admin",
    "host_network",
    "host_pid",
    "host_ipc",
    "host_uts",
    "host_dbus",
    "udev",
    "tmpfs",
    "apparmor",
    "full_access",
    "audio",
    "video",
    "gpio",
    "usb",
    "uart",
    "devicetree",
    "kernel_modules",
    "realtime",
    "hassio_api",
    "homeassistant_api",
    "stdin",
    "legacy",
    "docker_api",
    "auth_api",
    "journald",
}
SLUG = re.compile(r"[-_.A-Za-z0-9]+")
PORT_KEY = re.compile(r"\d+(?:/(?:tcp|udp))?")
WATCHDOG = re.compile(
    r"(?:https?|\[PROTO:\w+\]|tcp)://\[HOST\]:(?:\[PORT:(?P<mapped>\d+)\]|(?P<port>\d+)).*"
)
IMAGE = re.compile(r"([a-zA-Z\-\.:\d{}]+/)*?([\-\w{}]+)/([\-\w{}]+)(:[\.\-\w{}]+)?")
# One element of an options schema: a type, a type with bounds, a match or
# a list of choices, and "?" when the option may be left out.
SCHEMA_TYPE = re.compile(
    r"(?P<type>bool|email|url|port"
    r"|device(?:\(subsystem=[a-z]+\))?"
    r"|(?:str|password)(?:\((?P<smin>\d+)?,(?P<smax>\d+)?\))?"
    r"|int(?:\((?P<imin>-?\d+)?,(?P<imax>-?\d+)?\))?"
    r"|float(?:\((?P<fmin>-?\d*\.?\d+)?,(?P<fmax>-?\d*\.?\d+)?\))?"
    r"|match\((?P<match>.*)\)"
    r"|list\((?P<choices>.+)\))"
    r"(?P<optional>\?)?"
)


def _yaml(path: Path) -> Any:  # noqa: ANN401 - a YAML document
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    """Return the add-on's config.yaml."""
    data = _yaml(ADDON / "config.yaml")
    assert isinstance(data, dict)
    return data


def test_required_keys_and_their_types(config: dict[str, Any]) -> None:
    """name, version, slug, description and arch, as the Supervisor requires."""
    for key in ("name", "version", "slug", "description", "arch"):
        assert key in config, key
        assert config[key] is not None, key
    assert isinstance(config["name"], str)
    assert isinstance(config["description"], str)
    assert isinstance(config["version"], str), "a quoted version, not a number"
    assert re.fullmatch(r"\d+\.\d+\.\d+", config["version"])
    assert SLUG.fullmatch(config["slug"])
    assert isinstance(config["arch"], list)
    assert set(config["arch"]) == {"aarch64", "amd64"}
    assert set(config["arch"]) <= ARCHES
    url = urlparse(config["url"])
    assert url.scheme == "https"
    assert url.netloc


def test_start_and_boot_values(config: dict[str, Any]) -> None:
    """It starts with the system services, on boot, under s6-overlay."""
    assert config["startup"] in STARTUP
    assert config["startup"] == "services"
    assert config["boot"] in BOOT
    assert config["boot"] == "auto"
    assert config["init"] is False
    for key in BOOLEAN_KEYS & config.keys():
        assert isinstance(config[key], bool), key


def test_the_version_matches_the_integration_and_the_changelog(
    config: dict[str, Any],
) -> None:
    """One version for the engine and its add-on; the changelog has it."""
    import json  # noqa: PLC0415

    manifest = json.loads(
        (ROOT / "custom_components/stroomwijs/manifest.json").read_text(
            encoding="utf-8"
        )
    )
    assert config["version"] == manifest["version"]
    changelog = (ADDON / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## {config['version']}" in changelog


def test_ports_descriptions_watchdog_and_ingress_agree(config: dict[str, Any]) -> None:
    """Every port is declared and described; the watchdog and ingress fit."""
    ports = config["ports"]
    assert isinstance(ports, dict)
    for key, host_port in ports.items():
        assert PORT_KEY.fullmatch(key), key
        assert host_port is None or (
            isinstance(host_port, int) and 1 <= host_port <= 65535
        ), key
    assert set(ports) == {"9000/tcp", "8766/tcp"}
    descriptions = config["ports_description"]
    assert set(descriptions) == set(ports)
    assert all(isinstance(text, str) and text for text in descriptions.values())

    match = WATCHDOG.fullmatch(config["watchdog"])
    assert match is not None
    watched = match.group("mapped") or match.group("port")
    assert f"{watched}/tcp" in ports, "the watchdog checks a declared port"

    assert config["ingress"] is True
    ingress_port = config["ingress_port"]
    assert isinstance(ingress_port, int)
    assert 1 <= ingress_port <= 65535
    declared = {int(key.split("/")[0]) for key in ports}
    assert ingress_port not in declared, "ingress is not also a host port"
    assert "webui" not in config, "ingress replaces the web UI button"
    assert "host_network" not in config or config["host_network"] is False


def test_the_gateway_uses_the_ports_the_config_declares(
    config: dict[str, Any],
) -> None:
    """The service script starts the gateway on the declared ports."""
    run = (ADDON / "rootfs/etc/s6-overlay/s6-rc.d/stroomwijs/run").read_text(
        encoding="utf-8"
    )
    watched = WATCHDOG.fullmatch(config["watchdog"])
    assert watched is not None
    assert f"--api-port {watched.group('mapped')}" in run
    assert "--ocpp-port 9000" in run
    assert f"--ingress-port {config['ingress_port']}" in run
    assert "--ingress-host 0.0.0.0" in run
    assert "--api-host 0.0.0.0" in run


def _schema_element(value: str) -> re.Match[str]:
    match = SCHEMA_TYPE.fullmatch(value)
    assert match is not None, f"not a schema element: {value!r}"
    return match


def test_options_and_schema(config: dict[str, Any]) -> None:
    """Every schema element is valid; options have defaults that fit them."""
    schema: dict[str, Any] = config["schema"]
    options: dict[str, Any] = config["options"]
    assert isinstance(schema, dict)
    assert isinstance(options, dict)
    for key, element in schema.items():
        assert isinstance(element, str), key
        match = _schema_element(element)
        if match.group("optional") is None:
            assert key in options, f"{key}: required, so it needs a default"
    assert set(options) <= set(schema), "every option is in the schema"
    for key, value in options.items():
        match = _schema_element(schema[key])
        kind = match.group("type")
        if match.group("choices") is not None:
            assert str(value) in match.group("choices").split("|"), key
        elif kind.startswith("int"):
            assert isinstance(value, int), key
        elif kind == "bool":
            assert isinstance(value, bool), key
        else:
            assert isinstance(value, str), key
    # What the issue asks for, optional where it may be left out.
    assert schema["log_level"].startswith("list(")
    assert schema["ocpp_security_profile"] == "list(0|1|2)"
    assert schema["ocpp_certfile"].endswith("?")
    assert schema["ocpp_keyfile"].endswith("?")
    assert schema["serial_port"] == "device(subsystem=tty)?"
    assert config["uart"] is True


def test_permissions_are_the_ones_needed(config: dict[str, Any]) -> None:
    """No API access it does not use; discovery as stroomwijs; /ssl read-only."""
    assert config["discovery"] == ["stroomwijs"]
    assert config.get("hassio_api", False) is False
    assert config.get("homeassistant_api", False) is False
    for risky in (
        "full_access",
        "docker_api",
        "host_network",
        "privileged",
        "host_dbus",
    ):
        assert not config.get(risky), risky
    for entry in config["map"]:
        assert entry["type"] in MAP_TYPES
        assert entry.get("read_only", True) is True


def test_build_yaml() -> None:
    """Base images per architecture from HA's Python images; text args."""
    build = _yaml(ADDON / "build.yaml")
    config = _yaml(ADDON / "config.yaml")
    assert set(build) <= {"build_from", "args", "labels", "squash"}
    images = build["build_from"]
    assert set(images) == set(config["arch"])
    for arch, image in images.items():
        assert IMAGE.fullmatch(image), image
        assert image.startswith(f"ghcr.io/home-assistant/{arch}-base-python:3.14")
    for section in ("args", "labels"):
        for key, value in build.get(section, {}).items():
            assert isinstance(key, str)
            assert isinstance(value, str), f"{section}.{key} must be text"


def test_dockerfile_builds_from_the_base_image_and_installs_the_engine() -> None:
    """FROM $BUILD_FROM; the engine comes from this repository, once."""
    dockerfile = (ADDON / "Dockerfile").read_text(encoding="utf-8")
    lines = [line.strip() for line in dockerfile.splitlines()]
    first_from = next(i for i, line in enumerate(lines) if line.startswith("FROM"))
    assert "ARG BUILD_FROM" in lines[:first_from]
    assert lines[first_from] in {"FROM ${BUILD_FROM}", "FROM $BUILD_FROM"}
    assert "STROOMWIJS_REPOSITORY" in dockerfile
    assert "pip3 install --no-cache-dir --no-deps /usr/src/stroomwijs" in dockerfile
    assert "COPY rootfs /" in dockerfile
    # No engine code in the add-on folder: the one copy is the repository's.
    assert not list(ADDON.rglob("*.py"))


def test_s6_service_scripts() -> None:
    """A longrun in the user bundle, with executable bashio run and finish."""
    service = ADDON / "rootfs/etc/s6-overlay/s6-rc.d/stroomwijs"
    assert (service / "type").read_text(encoding="utf-8").strip() == "longrun"
    assert (ADDON / "rootfs/etc/s6-overlay/s6-rc.d/user/contents.d/stroomwijs").exists()
    for name in ("run", "finish"):
        script = service / name
        text = script.read_text(encoding="utf-8")
        assert text.startswith("#!/command/with-contenv bashio\n"), name
        assert script.stat().st_mode & stat.S_IXUSR, f"{name} is not executable"
    finish = (service / "finish").read_text(encoding="utf-8")
    # A failing gateway halts the container so the watchdog restarts it.
    assert "/run/s6/basedir/bin/halt" in finish
    assert "/run/s6-linux-init-container-results/exitcode" in finish
    run = (service / "run").read_text(encoding="utf-8")
    assert "exec stroomwijs" in run
    for option in _yaml(ADDON / "config.yaml")["schema"]:
        assert f"'{option}'" in run, f"the run script ignores the {option} option"


def test_translations_cover_every_option_and_port(config: dict[str, Any]) -> None:
    """Name every option and every port in en and nl, and nothing else."""
    for language in ("en", "nl"):
        data = _yaml(ADDON / f"translations/{language}.yaml")
        assert set(data) <= {"configuration", "network"}
        configuration = data["configuration"]
        assert set(configuration) == set(config["schema"]), language
        for key, text in configuration.items():
            assert set(text) <= {"name", "description", "fields"}, key
            assert isinstance(text["name"], str), key
            assert text["name"], key
        assert set(data["network"]) == set(config["ports"]), language
        assert all(isinstance(text, str) for text in data["network"].values())


def test_docs_and_images() -> None:
    """DOCS, README, CHANGELOG; a square icon and a wide logo, as PNG."""
    for name in ("DOCS.md", "README.md", "CHANGELOG.md"):
        assert (ADDON / name).read_text(encoding="utf-8").startswith("#"), name
    with Image.open(ADDON / "icon.png") as icon:
        assert icon.format == "PNG"
        assert icon.width == icon.height == 128
    with Image.open(ADDON / "logo.png") as logo:
        assert logo.format == "PNG"
        assert (logo.width, logo.height) == (250, 100)


def test_repository_yaml() -> None:
    """The repository can be added to the add-on store."""
    repository = _yaml(ROOT / "repository.yaml")
    assert isinstance(repository["name"], str)
    assert repository["name"]
    assert urlparse(repository["url"]).scheme == "https"
    assert isinstance(repository["maintainer"], str)
    # The store reads every config.yaml/json in the repository as an add-on.
    configs = [
        path.relative_to(ROOT).as_posix()
        for pattern in ("config.yaml", "config.yml", "config.json")
        for path in ROOT.rglob(pattern)
        if ".cache" not in path.parts and ".git" not in path.parts
    ]
    assert configs == ["addon/stroomwijs/config.yaml"]


def test_requirements_are_pinned_as_in_the_lock() -> None:
    """The image installs the same versions the tests run with."""
    lock: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        name, sep, version = line.partition("==")
        if sep:
            lock[name.strip().lower()] = version.split(";")[0].strip()
    for line in (ADDON / "requirements.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep, f"{line}: not pinned"
        assert lock.get(name.strip().lower()) == version.strip(), line
