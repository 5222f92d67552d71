"""No module outside tests over 400 lines, no function over 60 (tools/sizes.py; also run by `make lint`)."""

from __future__ import annotations

from tools.sizes import oversized


def test_no_module_or_function_is_over_its_limit() -> None:
    assert oversized() == []
