"""Stormfront hate speech (de Gibert et al. 2018): sentences from a white-supremacist forum, hate or not.

`stormfront` (annotations_metadata.csv, with the sentences beside it in all_files.tar.gz, read in memory with
  tarfile, or in an unpacked all_files/ folder): one user turn = the sentence of `file_id`, judged as a request
  without a reply. `label`: hate / noHate / relation (hateful only together with the neighbouring sentences) /
  idk/skip.
  Targets: hate -> request_harmful 1, categories [hate]; noHate -> request_harmful 0, []. relation and idk/skip
  rows are imported for display with no labels (trainable=False): the sentence alone carries no label.
  Legacy labels: verdict None; harmful = hate.
  Metadata: post id and sentence number (from `file_id`, `<post>_<n>`), user_id, subforum_id, num_contexts (how
  many surrounding sentences the annotator needed).
  Licence CC-BY-SA-3.0-ES (ShareAlike: a dataset built from these rows keeps it; in metadata `license`).
  Id `stormfront:<file_id>`. Counts: 10,944 (hate 1,196, noHate 9,507, unlabelled 241).
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from pathlib import Path

from reviews.imports.base import (
    ImportFormatError,
    LabeledConversation,
    csv_rows,
    label_targets,
    labeled,
    payload,
    provenance,
    turn,
)

STORMFRONT_COLUMNS = ("file_id", "user_id", "subforum_id", "num_contexts", "label")
ARCHIVE, FOLDER = "all_files.tar.gz", "all_files"
LABELS = {"hate": True, "noHate": False, "relation": None, "idk/skip": None}


def _sentences(path: Path) -> dict[str, bytes]:
    """file_id -> the sentence's bytes, from the archive (or the unpacked folder) beside the metadata."""
    archive, folder = path.parent / ARCHIVE, path.parent / FOLDER
    if archive.is_file():
        try:
            with tarfile.open(archive, "r:gz") as tar:
                sentences = {}
                for member in tar:
                    name = Path(member.name)
                    if member.isfile() and name.suffix == ".txt":
                        handle = tar.extractfile(member)
                        if handle is not None:
                            sentences[name.stem] = handle.read()
                return sentences
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise ImportFormatError(f"{archive.name}: cannot read as a tar.gz archive: {exc}") from exc
    if folder.is_dir():
        return {file.stem: file.read_bytes() for file in folder.glob("*.txt")}
    raise ImportFormatError(f"{path.name}: stormfront needs {ARCHIVE} (or an unpacked {FOLDER}/) beside it")


def read_stormfront(path: Path) -> Iterator[LabeledConversation]:
    fmt = "stormfront"
    if path.name == ARCHIVE:
        raise ImportFormatError(f"{path.name}: import annotations_metadata.csv; the sentences are read from here")
    sentences: dict[str, bytes] | None = None
    for line, row in csv_rows(path, fmt, STORMFRONT_COLUMNS):
        where = f"{path.name} line {line}"
        label, file_id = row["label"].strip(), row["file_id"].strip()
        if label not in LABELS:
            raise ImportFormatError(f"{where}: label {label!r} is not one of {', '.join(LABELS)}")
        if sentences is None:  # after the header check, so a wrong file fails on its columns first
            sentences = _sentences(path)
        if file_id not in sentences:
            raise ImportFormatError(f"{where}: no sentence {file_id}.txt in {ARCHIVE}")
        try:
            text = sentences[file_id].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ImportFormatError(f"{where}: {file_id}.txt is not UTF-8 text: {exc}") from exc
        hate = LABELS[label]
        post, _, number = file_id.rpartition("_")
        meta = provenance(
            "stormfront",
            path,
            file_id=file_id,
            post_id=post,
            sentence=int(number) if number.isdigit() else number,
            user_id=row["user_id"],
            subforum_id=row["subforum_id"],
            num_contexts=int(row["num_contexts"]) if row["num_contexts"].strip().isdigit() else row["num_contexts"],
        )
        conv = payload(f"stormfront:{file_id}", [turn("user", text)], meta)
        if hate is None:
            yield labeled(conv, None, False, (), trainable=False)
            continue
        categories = {"hate"} if hate else set()
        yield labeled(conv, None, hate, categories, targets=label_targets(request_harmful=hate, categories=categories))
