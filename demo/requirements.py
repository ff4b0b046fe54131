"""Print the Python requirements of the integrations the demo loads.

Home Assistant would pip-install them on first start; script/demo installs
them up front, against HA's own package constraints, so start-up is quick
and repeatable. Reads the integrations named at the top level of
demo/configuration.yaml, those Home Assistant always sets up, and their
dependencies.
"""

from __future__ import annotations

import json
from pathlib import Path
import re
import sys

import homeassistant
from homeassistant.bootstrap import DEFAULT_INTEGRATIONS

COMPONENTS = Path(homeassistant.__file__).parent / "components"
CONFIG = Path(__file__).with_name("configuration.yaml")
ALWAYS = ("stroomwijs", "sensor", "binary_sensor", "number", "switch", "event")


def _manifest(domain: str) -> dict[str, object]:
    if domain == "stroomwijs":
        path = (
            Path(__file__).parent.parent / "custom_components/stroomwijs/manifest.json"
        )
    else:
        path = COMPONENTS / domain / "manifest.json"
    if not path.exists():
        return {}
    data: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
    return data


def main() -> int:
    """Print one requirement per line."""
    domains = [
        match.group(1)
        for line in CONFIG.read_text(encoding="utf-8").splitlines()
        if (match := re.match(r"^([a-z_]+):", line))
    ]
    todo = [*domains, *ALWAYS, *sorted(DEFAULT_INTEGRATIONS)]
    seen: set[str] = set()
    requirements: set[str] = set()
    while todo:
        domain = todo.pop()
        if domain in seen:
            continue
        seen.add(domain)
        manifest = _manifest(domain)
        requirements.update(manifest.get("requirements", []))  # type: ignore[arg-type]
        todo.extend(manifest.get("dependencies", []))  # type: ignore[arg-type]
        todo.extend(manifest.get("after_dependencies", []))  # type: ignore[arg-type]
    sys.stdout.write("".join(f"{req}\n" for req in sorted(requirements)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
