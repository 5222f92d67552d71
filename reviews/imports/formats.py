"""Every format `import_dataset` reads: the format name and its reader, in one table.

To add a public set, write `reviews/imports/<set>.py` (its mapping in the module docstring, readers built from
base.py's helpers) and add one line per format here. Nothing registers itself on import.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

from reviews.imports import (
    aart,
    catqa,
    coconot,
    convabuse,
    diasafety,
    edos,
    gptfuzz,
    harmbench,
    hatemoji,
    hh_rlhf,
    jailbreak_eval,
    jailbreakbench,
    oversight_own,
    reference,
    simplesafetytests,
    stormfront,
    toxichat,
    xstest,
)
from reviews.imports.base import ImportFormatError, LabeledConversation, Reader

FORMATS: dict[str, Reader] = {
    "xstest-prompts": xstest.read_xstest_prompts,
    "xstest-completions": xstest.read_xstest_completions,
    "harmbench": harmbench.read_harmbench,
    "jbb-behaviors": jailbreakbench.read_jbb_behaviors,
    "jbb-artifacts": jailbreakbench.read_jbb_artifacts,
    "hh-rlhf": hh_rlhf.read_hh_rlhf,
    "diasafety": diasafety.read_diasafety,
    "convabuse": convabuse.read_convabuse,
    "gptfuzz": gptfuzz.read_gptfuzz,
    "jailbreak-eval": jailbreak_eval.read_jailbreak_eval,
    "toxichat": toxichat.read_toxichat,
    "coconot": coconot.read_coconot,
    "edos": edos.read_edos,
    "hatemoji": hatemoji.read_hatemoji,
    "stormfront": stormfront.read_stormfront,
    "aart": aart.read_aart,
    "catqa": catqa.read_catqa,
    "harmfulqa": catqa.read_harmfulqa,
    "simplesafetytests": simplesafetytests.read_simplesafetytests,
    "oversight-eval": oversight_own.read_oversight_eval,
    "oversight-preference": oversight_own.read_oversight_preference,
    "oversight-reference": reference.read_oversight_reference,
}


def read_dataset(fmt: str, path: Path | str) -> Iterator[LabeledConversation]:
    """Read `path` as `fmt`. Format, file and header errors raise ImportFormatError here, not on first use."""
    reader = FORMATS.get(fmt)
    if reader is None:
        raise ImportFormatError(f"unknown format {fmt!r}; known formats: {', '.join(sorted(FORMATS))}")
    path = Path(path)
    if not path.exists():
        raise ImportFormatError(f"{path}: no such file")
    if not path.is_file():
        raise ImportFormatError(f"{path}: not a file (pass one data file, not a folder)")
    items = reader(path)
    try:
        first = next(items)
    except StopIteration:
        return iter(())
    return itertools.chain([first], items)
