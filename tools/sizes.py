"""Size limits (`make lint`): no module outside tests over 400 lines, no function over 60.

Run `python tools/sizes.py` to list what is over; tests/test_sizes.py keeps the list empty. Migrations are
generated and left out.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ("reviews", "worker", "oversight", "bench", "tools")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
# Over the limit, with the reason; each entry is a debt to pay, not a licence (an entry that no longer applies
# fails the check too).
PENDING: dict[str, str] = {}


def oversized() -> list[str]:
    """One line per module or function over its limit, as `path: what (lines)`."""
    found = []
    for folder in CHECKED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            text = path.read_text(encoding="utf-8")
            name = path.relative_to(ROOT)
            lines = len(text.splitlines())
            if lines > MAX_MODULE_LINES:
                found.append(f"{name}: module ({lines} lines)")
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None:
                    length = node.end_lineno - node.lineno + 1
                    if length > MAX_FUNCTION_LINES:
                        found.append(f"{name}:{node.lineno}: function {node.name} ({length} lines)")
    pending = [item for item in found if item.split(" (")[0] in PENDING]
    stale = [
        f"{key}: listed in PENDING but within its limit"
        for key in PENDING
        if not any(p.startswith(key) for p in pending)
    ]
    return [item for item in found if item not in pending] + stale


if __name__ == "__main__":
    over = oversized()
    print("\n".join(over) or "every module and function is within its limit")
    sys.exit(1 if over else 0)
