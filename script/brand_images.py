"""Draw Stroomwijs's brand images into custom_components/stroomwijs/brand/.

    script/run python script/brand_images.py [FONT.ttf]

The icon is a house with a lightning bolt; the logo adds the word
"Stroomwijs". Sizes follow Home Assistant's brand rules: icons 256x256 and
512x512 (@2x), logos with their shortest side 128-256 px (512 max for @2x),
trimmed, on a transparent background. Dark variants swap the text colour.
The default font is DejaVu Sans Bold; pass another TrueType file to change it.
"""

from __future__ import annotations

from pathlib import Path
import sys

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
BRAND = ROOT / "custom_components/stroomwijs/brand"
DEFAULT_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"

GREEN = (27, 127, 75, 255)
YELLOW = (255, 194, 14, 255)
TEXT_LIGHT_MODE = (38, 50, 56, 255)
TEXT_DARK_MODE = (236, 239, 241, 255)
SUPERSAMPLE = 4


def _icon(size: int) -> Image.Image:
    """Return a ``size`` x ``size`` house with a bolt, drawn anti-aliased."""
    big = size * SUPERSAMPLE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)

    def pt(x: float, y: float) -> tuple[float, float]:
        return (x * big, y * big)

    # The house: a roof peak at the top edge, walls down to the bottom edge.
    house = [pt(0.5, 0.0), pt(1.0, 0.44), pt(0.88, 0.44), pt(0.88, 1.0)]
    house += [pt(0.12, 1.0), pt(0.12, 0.44), pt(0.0, 0.44)]
    draw.polygon(house, fill=GREEN)
    # The bolt, centred in the walls.
    bolt = [pt(0.56, 0.30), pt(0.30, 0.66), pt(0.48, 0.66), pt(0.42, 0.92)]
    bolt += [pt(0.70, 0.54), pt(0.52, 0.54), pt(0.60, 0.30)]
    draw.polygon(bolt, fill=YELLOW)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def _logo(
    height: int, text_colour: tuple[int, int, int, int], font: str
) -> Image.Image:
    """Return the icon followed by the word mark, ``height`` px high, trimmed."""
    big = height * SUPERSAMPLE
    face = ImageFont.truetype(font, int(big * 0.62))
    left, top, right, bottom = face.getbbox("Stroomwijs")
    gap = int(big * 0.18)
    width = big + gap + (right - left)
    image = Image.new("RGBA", (width, big), (0, 0, 0, 0))
    image.alpha_composite(_icon(big))
    draw = ImageDraw.Draw(image)
    draw.text(
        (big + gap - left, (big - (bottom - top)) // 2 - top),
        "Stroomwijs",
        font=face,
        fill=text_colour,
    )
    box = image.getbbox()
    if box is not None:
        image = image.crop(box)
    scale = height / image.height
    return image.resize((round(image.width * scale), height), Image.Resampling.LANCZOS)


def main() -> None:
    """Write every brand image."""
    font = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_FONT
    BRAND.mkdir(parents=True, exist_ok=True)
    for name, size in (("icon.png", 256), ("icon@2x.png", 512)):
        _icon(size).save(BRAND / name, optimize=True)
    for prefix, colour in (("", TEXT_LIGHT_MODE), ("dark_", TEXT_DARK_MODE)):
        for suffix, height in (("", 128), ("@2x", 256)):
            path = BRAND / f"{prefix}logo{suffix}.png"
            _logo(height, colour, font).save(path, optimize=True)
    for path in sorted(BRAND.iterdir()):
        with Image.open(path) as image:
            print(f"{path.name}: {image.width}x{image.height}")


if __name__ == "__main__":
    main()
