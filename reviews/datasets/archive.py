"""The whole snapshot as one download: a zip holding one folder with README.md and the split files, so
`load_dataset("<unzipped folder>")` loads it as it is (the card's `configs` name the files beside it)."""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reviews.models import Dataset

ARCHIVE = "archive"  # the download's "split" name
# DEFLATE level 2, not zlib's default 6: on JSON lines about 2.5x faster to write (a tenth of an export's time at
# level 6) for an archive about a third bigger; the split files themselves are unchanged.
LEVEL = 2


def archive_name(dataset: Dataset) -> str:
    return f"oversight-{dataset.kind}-{dataset.pk}"


def archive_path(dataset: Dataset) -> str:
    """Where the archive lies in storage, beside the files it holds."""
    return f"datasets/{dataset.pk}/{archive_name(dataset)}.zip"


def archive_write(dataset: Dataset, *, folder: Path, files: Mapping[str, Mapping[str, Any]]) -> Path:
    """Zip README.md and each split file with rows (local copies in `folder`) under one folder name."""
    path = folder / f"{archive_name(dataset)}.zip"
    members = ["README.md", *(info["path"].rsplit("/", 1)[-1] for info in files.values() if info["rows"])]
    with zipfile.ZipFile(path, "w") as archive:
        for member in members:
            # JSON lines compress; gzip and Parquet (zstd) already are.
            plain = member.endswith((".jsonl", ".md"))
            method = zipfile.ZIP_DEFLATED if plain else zipfile.ZIP_STORED
            archive.write(
                folder / member, f"{archive_name(dataset)}/{member}", compress_type=method, compresslevel=LEVEL
            )
    return path
