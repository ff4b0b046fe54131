"""English and Dutch texts cover the same keys, and en.json is strings.json."""

from __future__ import annotations

import json
from pathlib import Path
import string
from typing import Any

INTEGRATION = Path(__file__).resolve().parent.parent / "custom_components/stroomwijs"


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((INTEGRATION / name).read_text(encoding="utf-8"))
    return data


def _leaves(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in tree.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            out.update(_leaves(value, path))
        else:
            out[path] = value
    return out


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_english_translation_is_strings_json() -> None:
    """translations/en.json is a copy of strings.json (script/translations)."""
    assert _load("translations/en.json") == _load("strings.json")


def test_dutch_covers_exactly_the_english_keys() -> None:
    """Every English text has a Dutch one, and no Dutch text is orphaned."""
    assert set(_leaves(_load("translations/nl.json"))) == set(
        _leaves(_load("strings.json"))
    )


def test_dutch_texts_keep_the_placeholders() -> None:
    """A placeholder in English is in the Dutch text too."""
    english = _leaves(_load("strings.json"))
    dutch = _leaves(_load("translations/nl.json"))
    for key, text in english.items():
        assert _placeholders(dutch[key]) == _placeholders(text), key
