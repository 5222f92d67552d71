"""The README's map of the code is generated from the packages' own docstrings, so it cannot drift.

After adding or renaming a feature package or a shared module, run `python tests/test_layout.py` to rewrite the
table between the markers in README.md.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
START, END = "<!-- layout:start -->", "<!-- layout:end -->"


def _summary(path: Path) -> str:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return doc.split("\n\n", 1)[0].replace("\n", " ").replace("|", "\\|")


def layout_table() -> str:
    """One row per feature package of `reviews` (its __init__ docstring's first paragraph), then the shared
    modules, then the other top-level folders."""
    reviews = ROOT / "reviews"
    rows = ["| path | what lives there |", "|---|---|"]
    for package in sorted(p for p in reviews.iterdir() if (p / "__init__.py").exists()):
        if package.name in ("migrations", "management"):
            continue
        rows.append(f"| `reviews/{package.name}/` | {_summary(package / '__init__.py')} |")
    for module in sorted(reviews.glob("*.py")):
        if module.name != "__init__.py":
            rows.append(f"| `reviews/{module.name}` | {_summary(module)} |")
    return "\n".join(rows)


def _readme_block() -> str:
    text = README.read_text(encoding="utf-8")
    return text[text.index(START) + len(START) : text.index(END)].strip()


def test_readme_layout_matches_the_packages() -> None:
    expected = layout_table()
    assert _readme_block() == expected, "README layout is stale: run `python tests/test_layout.py`"


def test_every_feature_package_and_shared_module_says_what_it_is() -> None:
    for row in layout_table().splitlines()[2:]:
        assert row.split(" | ")[1].strip(" |"), row


if __name__ == "__main__":
    text = README.read_text(encoding="utf-8")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{layout_table()}\n{END}{tail}", encoding="utf-8")
    sys.exit(0)
