"""The README stays the front door: short, the two commands, and links that resolve."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def test_readme_is_at_most_8_kb() -> None:
    size = len(README.read_bytes())
    assert size <= 8 * 1024, f"README.md is {size} bytes; move detail into docs/"


def test_readme_has_the_two_commands() -> None:
    text = README.read_text()
    assert "pip install . && fluence-optimizer demo" in text
    assert "pip install '.[test]' && pytest" in text


def test_every_relative_link_in_the_readme_resolves() -> None:
    links = re.findall(r"\]\(((?!https?://|#|mailto:)[^)#]+)(?:#[^)]*)?\)", README.read_text())
    assert links, "the README links into the docs"
    missing = [link for link in links if not (ROOT / link).exists()]
    assert not missing, f"README links to missing files: {missing}"
