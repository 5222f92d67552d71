"""Readers that turn labelled datasets (public safety sets and our own exports) into ingest payloads plus labels.

`manage.py import_dataset FORMAT PATH --source NAME` calls `read_dataset(FORMAT, PATH)`. base.py holds what every
reader shares (the item, the error, the labelling conventions); each set has its own module documenting its
mapping; formats.py is the table of format names. Standard library only.
"""

from reviews.imports.base import ImportFormatError, LabeledConversation
from reviews.imports.formats import FORMATS, read_dataset

__all__ = ["FORMATS", "ImportFormatError", "LabeledConversation", "read_dataset"]
