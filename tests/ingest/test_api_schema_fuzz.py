"""Schemathesis over the API's own OpenAPI schema (/api/v1/openapi.json), against the Django app in-process.

For every operation, generated requests (valid and invalid) never get a server error, and every
answer (status code, content type and body) is one the schema declares. Ingest and read operations
run with an ingest token, dataset operations with an export token, and each the other way round.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from reviews.datasets.builder import dataset_build, dataset_create
from reviews.ingest.sources import source_create
from reviews.models import Conversation, Queue, ReviewItem, Source
from reviews.workspace.decisions import decision_record

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())
ingest_operations = schema.exclude(tag="datasets")
dataset_operations = schema.include(tag="datasets")

settings.register_profile(
    "api-schema-fuzz",
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
FUZZ = settings.get_profile("api-schema-fuzz")


@pytest.fixture
def in_process_app(db: None, settings: Any, media_root: Path) -> Iterator[None]:
    """Requests run in this test's transaction: keep Django from closing the connection after each one
    (as its own test client does); no rate limit, since fuzzing sends hundreds of requests a minute."""
    settings.API_RATE_LIMIT_PER_MINUTE = 0
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def tokens(in_process_app: None) -> dict[str, str]:
    return {
        "ingest": source_create(name="guardrail", kind="input_guardrail").token,
        "export": source_create(name="ml-platform", kind="ml_export").token,
    }


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@ingest_operations.parametrize()
@FUZZ
def test_ingest_and_read_operations_answer_within_their_schema(case, tokens):
    case.call_and_validate(headers=_bearer(tokens["ingest"]), checks=CHECKS)


@dataset_operations.parametrize()
@FUZZ
def test_dataset_operations_answer_within_their_schema(case, tokens):
    case.call_and_validate(headers=_bearer(tokens["export"]), checks=CHECKS)


@schema.parametrize()
@settings(FUZZ, max_examples=10)
def test_a_token_outside_its_scope_gets_an_answer_within_the_schema(case, tokens):
    token = tokens["ingest"] if "datasets" in case.operation.path else tokens["export"]
    case.call_and_validate(headers=_bearer(token), checks=CHECKS)


@pytest.fixture
def stored(tokens: dict[str, str]) -> dict[str, int]:
    """A conversation with a decision, and a built snapshot: what the success answers are made of."""
    reviewer = User.objects.create_user("rita")
    source = Source.objects.get(name="guardrail")
    conversation = Conversation.objects.create(
        source=source,
        external_id="c-1",
        messages=[{"role": "user", "content": "ask"}, {"role": "assistant", "content": "answer"}],
        metadata={"locale": "en-GB", "nested": {"n": [1, 2.5, None]}},
    )
    conversation.flags.create(detector="guard", category="cyber", score=0.9, explanation="", message_index=0)
    item = ReviewItem.objects.create(conversation=conversation, queue=Queue.objects.get(slug="triage"))
    decision_record(item=item, reviewer=reviewer, verdict="harmful_compliance", preferred_response="no")
    dataset = dataset_create(kind="eval", format="jsonl", filters={}, seed=1, split_ratios=None, license="")
    dataset_build(dataset_id=dataset.pk)
    return {"conversation_id": conversation.pk, "dataset_id": dataset.pk}


@pytest.mark.parametrize(
    ("path", "token", "parameters"),
    [
        ("/api/v1/conversations/{conversation_id}", "ingest", {}),
        ("/api/v1/datasets/{dataset_id}", "export", {}),
        ("/api/v1/datasets/{dataset_id}/files/{split}", "export", {"split": "train"}),
        ("/api/v1/datasets/{dataset_id}/files/{split}", "export", {"split": "card"}),
        ("/api/v1/health", "ingest", {}),
    ],
)
def test_success_answers_match_the_schema(stored, tokens, path, token, parameters):
    operation = schema[path]["GET"]
    wanted = {name: stored[name] for name in ("conversation_id", "dataset_id") if "{" + name + "}" in path}
    case = operation.Case(path_parameters=wanted | parameters)

    response = case.call_and_validate(headers=_bearer(tokens[token]), checks=CHECKS)

    assert response.status_code == 200, response.text[:500]
