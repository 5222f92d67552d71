"""The demo gives an ML engineer real rows of every dataset kind."""

from __future__ import annotations

import pytest

from reviews.datasets.builder import dataset_build, dataset_create
from reviews.demo.seed import demo_seed
from reviews.models import DatasetKind, DatasetStatus


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_every_export_kind_is_non_empty_on_the_demo():
    demo_seed(password="demo", conversations=60, train=False)

    for kind in DatasetKind.values:
        dataset = dataset_build(dataset_id=dataset_create(kind=kind, enqueue=False).pk)
        assert dataset.status == DatasetStatus.READY
        assert dataset.row_count > 0, (kind, dataset.skipped)
