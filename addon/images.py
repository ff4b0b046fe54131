"""Draw the add-on's icon.png and logo.png (the integration's brand, resized).

    script/run python addon/images.py [FONT.ttf]

The add-on store shows icon.png square (128x128 here) and logo.png about
250x100; both are drawn by script/brand_images.py's house-and-bolt mark, so
the add-on and the integration look the same. The logo gets a margin so it
is not cut at the store card's edges.
"""

# ruff: noqa: INP001 - a developer script, not a package

from __future__ import annotations

import importlib.util
from pathlib import Path
import sys

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
ADDON = ROOT / "addon/stroomwijs"
ICON_SIZE = 128
LOGO_SIZE = (250, 100)


def _brand() -> object:
    spec = importlib.util.spec_from_file_location(
        "brand_images", ROOT / "script/brand_images.py"
    )
    if spec is None or spec.loader is None:
        msg = "script/brand_images.py is missing"
        raise FileNotFoundError(msg)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    """Write icon.png and logo.png into addon/stroomwijs/."""
    brand = _brand()
    font = sys.argv[1] if len(sys.argv) > 1 else brand.DEFAULT_FONT  # type: ignore[attr-defined]
    brand._icon(ICON_SIZE).save(ADDON / "icon.png", optimize=True)  # type: ignore[attr-defined]  # noqa: SLF001
    width, height = LOGO_SIZE
    mark = brand._logo(height - 24, brand.TEXT_LIGHT_MODE, font)  # type: ignore[attr-defined]  # noqa: SLF001
    if mark.width > width - 12:
        scale = (width - 12) / mark.width
        size = (width - 12, round(mark.height * scale))
        mark = mark.resize(size, Image.Resampling.LANCZOS)
    logo = Image.new("RGBA", LOGO_SIZE, (0, 0, 0, 0))
    logo.alpha_composite(mark, ((width - mark.width) // 2, (height - mark.height) // 2))
    logo.save(ADDON / "logo.png", optimize=True)
    for name in ("icon.png", "logo.png"):
        with Image.open(ADDON / name) as image:
            print(f"{name}: {image.width}x{image.height}")  # noqa: T201


if __name__ == "__main__":
    main()
