"""Free text that reaches the dataset card's YAML header is one bounded line, and the header is emitted by a
YAML serializer: a license with a newline once rewrote the card's `configs`, and `load_dataset` then loaded
the test file as train."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from reviews.datasets.builder import dataset_create
from reviews.datasets.card import card_render
from reviews.datasets.filters import DatasetError
from reviews.ingest.sources import source_create
from reviews.models import Dataset
from tests.conftest import ApiClient

pytestmark = pytest.mark.django_db

# What the report found: a newline in the license ends the key, and the rest is YAML of the attacker's choosing.
REWRITE = "mit\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n    path: test.jsonl"
BAD_LICENSES = {
    "newline": REWRITE,
    "carriage-return": "mit\rconfigs: []",
    "line-separator": "mit\u2028configs: []",
    "next-line": "mit\u0085configs: []",
    "control-character": "mit\x1bx",
    "too-long": "x" * 101,
}


def _front_matter(card: str) -> dict[str, Any]:
    assert card.startswith("---\n")
    header = card[4 : card.index("\n---\n", 4)]
    parsed: dict[str, Any] = yaml.safe_load(header)
    return parsed


@pytest.mark.parametrize("license", BAD_LICENSES.values(), ids=BAD_LICENSES.keys())
def test_the_builder_refuses_a_license_that_is_not_one_short_line(license):
    with pytest.raises(DatasetError, match="License"):
        dataset_create(kind="eval", license=license, enqueue=False)
    assert not Dataset.objects.exists()


def test_the_api_answers_422_naming_the_license(db):
    export = ApiClient(source_create(name="ml-platform", kind="ml_export").token)

    response = export.post("/api/v1/datasets", {"kind": "eval", "license": REWRITE})

    assert response.status_code == 422, response.content
    body = response.json()
    assert body["error"] == "invalid_dataset" and "License must be one line" in body["message"]
    assert not Dataset.objects.exists()


def test_the_page_shows_the_license_error_on_the_form(admin_user: User):
    client = Client()
    client.force_login(admin_user)
    data = {"kind": "eval", "format": "jsonl", "seed": 0, "train": 0.8, "validation": 0.1, "test": 0.1}

    response = client.post(reverse("reviews:datasets"), {**data, "license": REWRITE}, HTTP_HX_REQUEST="true")

    assert response.status_code == 422
    assert "License must be one line" in response.content.decode()
    assert 'id="id_license"' in response.content.decode() and "aria-invalid" in response.content.decode()
    assert not Dataset.objects.exists()


def test_the_export_command_refuses_it_too(db):
    with pytest.raises(CommandError, match="License must be one line"):
        call_command("export_dataset", "eval", "--license", REWRITE)


def test_an_ordinary_license_is_kept_as_given(db):
    dataset = dataset_create(kind="eval", license="  CC-BY-4.0 (internal use: see wiki)  ", enqueue=False)

    assert dataset.license == "CC-BY-4.0 (internal use: see wiki)"


def test_the_header_is_yaml_that_a_stored_license_cannot_rewrite(db):
    """A row written before validation (or by hand) still cannot change the header's structure."""
    dataset = Dataset.objects.create(
        kind="eval",
        license=REWRITE,
        files={
            "train": {"rows": 3, "sha256": "a", "path": "datasets/1/train.jsonl"},
            "test": {"rows": 1, "sha256": "b", "path": "datasets/1/test.jsonl"},
        },
    )

    header = _front_matter(card_render(dataset, labels=[]))

    assert header["license"] == REWRITE
    assert header["configs"] == [
        {
            "config_name": "default",
            "data_files": [{"split": "train", "path": "train.jsonl"}, {"split": "test", "path": "test.jsonl"}],
        }
    ]
    assert [f["name"] for f in header["dataset_info"]["features"]][:3] == ["id", "conversation_id", "decision_id"]
