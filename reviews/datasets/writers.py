"""Row-by-row writers: JSONL, gzip JSONL and Parquet (in row groups), each to a local file first.

The storage backend receives finished files only, so a cancelled or failed build leaves nothing behind.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from reviews.models import DatasetFormat, DatasetKind

ROW_GROUP = 2_000  # Parquet rows buffered per row group: memory is bounded by this, not by the dataset
BLOCK = 1 << 20  # JSON lines are joined and written (and hashed) in blocks of about this many bytes
EXTENSIONS = {DatasetFormat.JSONL: "jsonl", DatasetFormat.JSONL_GZ: "jsonl.gz", DatasetFormat.PARQUET: "parquet"}

_MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
_MESSAGES = pa.list_(_MESSAGE)
_IDS = [
    ("id", pa.string()),
    ("conversation_id", pa.int64()),
    ("decision_id", pa.int64()),
    ("label_source", pa.string()),  # reviewer, consensus, senior, bulk or imported:<source>
]
_META = [
    ("verdict", pa.string()),
    ("categories", pa.list_(pa.string())),
    ("severity", pa.int64()),
    ("agreement", pa.float64()),
    ("source", pa.string()),
    ("model", pa.string()),
    ("decided_at", pa.string()),
]


def schema_for(kind: str, labels: Sequence[str]) -> pa.Schema:
    if kind == DatasetKind.PREFERENCE:
        fields = [*_IDS, ("prompt", _MESSAGES), ("chosen", _MESSAGES), ("rejected", _MESSAGES), *_META]
    elif kind == DatasetKind.SFT:
        fields = [*_IDS, ("messages", _MESSAGES), *_META]
    elif kind == DatasetKind.CLASSIFIER:
        texts = [("request", pa.string()), ("response", pa.string()), ("text", pa.string())]
        fields = [*_IDS, *texts, *((label, pa.int64()) for label in labels)]
    else:
        fields = [
            *_IDS,
            ("prompt", _MESSAGES),
            ("response", pa.string()),
            ("is_harmful", pa.bool_()),
            ("model_refused", pa.bool_()),
            *_META,
        ]
    return pa.schema(fields)


class RowWriter:
    """Writes rows of one split to `path`; `close()` returns the file's SHA-256."""

    def __init__(self, path: Path, fmt: str, schema: pa.Schema) -> None:
        self.path, self.fmt, self.schema, self.rows = path, fmt, schema, 0
        self._buffer: list[dict[str, Any]] = []
        self._text: IO[bytes] | gzip.GzipFile | None = None
        self._parquet: pq.ParquetWriter | None = None
        self._raw: IO[bytes] | None = None
        self._lines: list[bytes] = []
        self._pending = 0
        self._digest: hashlib._Hash | None = None
        if fmt == DatasetFormat.PARQUET:
            self._parquet = pq.ParquetWriter(str(path), schema, compression="zstd")
        elif fmt == DatasetFormat.JSONL_GZ:
            # mtime 0 and no file name: the same rows give the same bytes, so the same SHA-256.
            self._raw = path.open("wb")
            self._text = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0)
        else:
            self._text = path.open("wb")
            self._digest = hashlib.sha256()

    def write(self, row: dict[str, Any]) -> None:
        self.rows += 1
        if self._text is not None:
            # Compact UTF-8 JSON, keys in the row's order (as json.dumps with ensure_ascii=False and
            # separators=(",", ":") writes it), one line each; datetimes as datetime.isoformat() writes them.
            line = orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE)
            self._lines.append(line)
            self._pending += len(line)
            if self._pending >= BLOCK:
                self._flush_lines()
            return
        decided_at = row.get("decided_at")
        if isinstance(decided_at, datetime):  # the text orjson writes in JSON lines
            row = {**row, "decided_at": decided_at.isoformat()}
        self._buffer.append(row)
        if len(self._buffer) >= ROW_GROUP:
            self._flush()

    def _flush_lines(self) -> None:
        if self._text is not None and self._lines:
            block = b"".join(self._lines)
            if self._digest is not None:
                self._digest.update(block)
            self._text.write(block)
            self._lines, self._pending = [], 0

    def _flush(self) -> None:
        if self._parquet is not None and self._buffer:
            self._parquet.write_table(pa.Table.from_pylist(self._buffer, schema=self.schema))
            self._buffer = []

    def close(self) -> str:
        if self._parquet is not None:
            self._flush()
            self._parquet.close()
        if self._text is not None:
            self._flush_lines()
            self._text.close()
        if self._raw is not None:
            self._raw.close()
        if self._digest is not None:  # plain JSONL: hashed block by block as written
            return self._digest.hexdigest()
        return file_sha256(self.path)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
