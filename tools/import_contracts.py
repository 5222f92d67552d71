"""An import-linter contract type: no private names across packages (pyproject.toml, `private_names`).

A name is private when it starts with one underscore (`_merge_map`; dunders are not private). A module may
import a private name only from a module of its own package: for `reviews`, a feature package
(`reviews.workspace.*`) or, for a top-level module, that module itself. import-linter sees which modules import
which; this contract reads the `from … import …` statements themselves to see the names.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import grimp
from importlinter import Contract, ContractCheck, fields, output


def _package(module: str, depth: int) -> str:
    return ".".join(module.split(".")[:depth])


def _source(module: str) -> Path | None:
    base = Path(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


class PrivateNamesContract(Contract):
    """Options: `containers`, the packages whose children are the units (e.g. `reviews`); `depth` is implied."""

    type_name = "private_names"

    containers = fields.ListField(subfield=fields.StringField())

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        illegal: list[dict[str, Any]] = []
        for container in self.containers:  # type: ignore[attr-defined]
            depth = container.count(".") + 2
            for module in sorted(graph.find_descendants(container) | {container}):
                path = _source(module)
                if path is None:
                    continue
                illegal += _illegal_imports(module, path, depth)
        return ContractCheck(kept=not illegal, metadata={"illegal": illegal})

    def render_broken_contract(self, check: ContractCheck) -> None:
        output.print_error("Private names may only be imported within their own package:", bold=False)
        output.new_line()
        for item in check.metadata["illegal"]:
            output.print_error(f"- {item['importer']} -> {item['imported']}.{item['name']} (l.{item['line']})")
        output.new_line()


def _illegal_imports(module: str, path: Path, depth: int) -> list[dict[str, Any]]:
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
            continue
        if _package(node.module, depth) == _package(module, depth):
            continue
        for alias in node.names:
            if _private(alias.name):
                found.append({"importer": module, "imported": node.module, "name": alias.name, "line": node.lineno})
    return found
