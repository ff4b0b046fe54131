"""Write Home Assistant's HTTP settings for the demo: 127.0.0.1 only.

Home Assistant 2026.10 keeps the HTTP server's settings in ``.storage/http``.
An ``http:`` block in configuration.yaml is migrated there as a *pending*
trial that reverts to the stable settings (every interface) after five
minutes unless someone confirms it in the UI. The demo must never listen
beyond loopback, so script/demo writes the stable settings itself before
every start. Standard library only: the host's Python runs it.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
import json
from pathlib import Path
import sys


def http_store(port: int) -> dict[str, object]:
    """Return the storage document with loopback-only stable settings."""
    return {
        "version": 2,
        "minor_version": 2,
        "key": "http",
        "data": {
            "stable": {
                "server_host": ["127.0.0.1"],
                "server_port": port,
                "cors_allowed_origins": ["https://cast.home-assistant.io"],
                "login_attempts_threshold": -1,
                "ip_ban_enabled": True,
                "ssl_profile": "modern",
                "use_x_frame_options": True,
                "created_at": datetime.now(UTC).isoformat(),
                "error": None,
                "error_message": None,
            },
            "pending": None,
            "yaml_migration_done": True,
        },
    }


def main() -> int:
    """Write CONFIG_DIR/.storage/http for the given port."""
    parser = argparse.ArgumentParser()
    parser.add_argument("config_dir", type=Path)
    parser.add_argument("--port", type=int, default=8123)
    args = parser.parse_args()
    if not 1 <= args.port <= 65535:  # noqa: PLR2004
        parser.error(f"port {args.port} is out of range")
    storage = args.config_dir / ".storage"
    storage.mkdir(parents=True, exist_ok=True)
    (storage / "http").write_text(
        json.dumps(http_store(args.port), indent=2) + "\n", encoding="utf-8"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
