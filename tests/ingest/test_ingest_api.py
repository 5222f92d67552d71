"""POST /api/v1/conversations: idempotent, atomic per batch, and clear about bad input."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from reviews.ingest.sources import source_create, source_revoke
from reviews.models import Conversation, Flag, ReviewItem, Score

URL = "/api/v1/conversations"
pytestmark = pytest.mark.django_db


def test_accepted_batch_stores_conversations_and_flags(api, make_conversation):
    response = api.post(URL, {"conversations": [make_conversation("a"), make_conversation("b")]})

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["accepted"] == 2 and body["duplicates"] == 0
    stored = Conversation.objects.get(pk=body["ids"][0])
    assert stored.external_id == "a"
    assert stored.messages[1] == {
        "role": "assistant",
        "content": "I can explain how pin-tumbler locks work in general.",
    }
    assert stored.metadata == {"locale": "en-GB"}
    assert stored.model_name == "assistant-7b@2026-10"
    flag = Flag.objects.get(conversation=stored)
    assert (flag.detector, flag.category, flag.score, flag.message_index) == (
        "input-guardrail",
        "violent-crime",
        0.62,
        0,
    )


def test_resent_conversation_is_a_duplicate_and_changes_nothing(api, make_conversation):
    first = api.post(URL, {"conversations": [make_conversation("a")]}).json()
    changed = make_conversation("a", messages=[{"role": "user", "content": "something else entirely"}])

    second = api.post(URL, {"conversations": [changed, make_conversation("b")]})

    assert second.status_code == 202
    body = second.json()
    assert (body["accepted"], body["duplicates"]) == (1, 1)
    assert body["ids"][0] == first["ids"][0]
    assert Conversation.objects.get(pk=first["ids"][0]).messages[0]["content"] == "How do I pick a lock?"
    assert Flag.objects.filter(conversation_id=first["ids"][0]).count() == 1


def test_repeat_within_one_batch_counts_as_duplicate(api, make_conversation):
    body = api.post(URL, {"conversations": [make_conversation("a"), make_conversation("a")]}).json()

    assert (body["accepted"], body["duplicates"]) == (1, 1)
    assert body["ids"][0] == body["ids"][1]
    assert Conversation.objects.count() == 1


def test_same_external_id_from_two_sources_is_two_conversations(api, make_conversation):
    other = source_create(name="other", kind="red_team").token
    api.post(URL, {"conversations": [make_conversation("a")]})
    api.token = other

    body = api.post(URL, {"conversations": [make_conversation("a")]}).json()

    assert body["accepted"] == 1
    assert Conversation.objects.count() == 2


def test_one_bad_conversation_rejects_the_whole_batch(api, make_conversation):
    bad = make_conversation("bad", messages=[{"role": "wizard", "content": "hi"}])

    response = api.post(URL, {"conversations": [make_conversation("good"), bad]})

    assert response.status_code == 422
    assert Conversation.objects.count() == 0 and Flag.objects.count() == 0


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda c: c["messages"][0].update(role="wizard"), "conversations[1].messages[0].role"),
        (lambda c: c["flags"][0].update(score=1.5), "conversations[1].flags[0].score"),
        (lambda c: c["flags"][0].update(score=-0.1), "conversations[1].flags[0].score"),
        (lambda c: c["messages"][1].update(content="nul\u0000byte"), "conversations[1].messages[1].content"),
        (lambda c: c["flags"][0].update(explanation="nul\u0000"), "conversations[1].flags[0].explanation"),
        (lambda c: c.update(metadata={"note": "a\u0000b"}), "conversations[1].metadata"),
        (lambda c: c.pop("external_id"), "conversations[1].external_id"),
        (lambda c: c.update(messages=[]), "conversations[1].messages"),
        (lambda c: c["flags"][0].update(message_index=7), "conversations[1].flags"),
        (lambda c: c["flags"][0].update(score="0.5"), "conversations[1].flags[0].score"),
        (lambda c: c["flags"][0].update(score=True), "conversations[1].flags[0].score"),
        (lambda c: c["flags"][0].update(message_index=1.0), "conversations[1].flags[0].message_index"),
        (lambda c: c["flags"][0].update(message_index="1"), "conversations[1].flags[0].message_index"),
        (lambda c: c.update(external_id=17), "conversations[1].external_id"),
    ],
    ids=[
        "unknown-role",
        "score-above-1",
        "score-below-0",
        "nul-in-content",
        "nul-in-explanation",
        "nul-in-metadata",
        "missing-external-id",
        "no-messages",
        "flag-past-last-message",
        "score-as-string",
        "score-as-boolean",
        "message-index-as-float",
        "message-index-as-string",
        "external-id-as-number",
    ],
)
def test_invalid_conversation_gets_422_naming_field_and_index(api, make_conversation, mutate, field):
    bad = make_conversation("bad")
    mutate(bad)

    response = api.post(URL, {"conversations": [make_conversation("ok"), bad]})

    assert response.status_code == 422, response.content
    body = response.json()
    assert body["error"] == "validation_error"
    assert any(d["field"].startswith(field) and d["conversation_index"] == 1 for d in body["details"]), body
    assert Conversation.objects.count() == 0


def test_integer_scores_are_still_numbers(api, make_conversation):
    conversation = make_conversation(
        "a", flags=[{"detector": "d", "category": "cyber", "score": 1, "message_index": 0}]
    )

    response = api.post(URL, {"conversations": [conversation]})

    assert response.status_code == 202, response.content
    assert Flag.objects.get().score == 1.0


def test_lone_surrogate_is_rejected(api, make_conversation):
    raw = json.dumps({"conversations": [make_conversation("a")]}).replace("How do I", "\\ud800 How do I")

    response = api.post(URL, raw=raw.encode())

    assert response.status_code == 422
    assert response.json()["details"][0]["conversation_index"] == 0
    assert Conversation.objects.count() == 0


def test_invalid_json_is_422(api):
    response = api.post(URL, raw=b'{"conversations": [')

    assert response.status_code == 422
    assert response.json()["error"] == "invalid_body"
    assert "not valid JSON" in response.json()["message"]


def test_invalid_utf8_is_422(api, make_conversation):
    raw = json.dumps({"conversations": [make_conversation("a")]}).encode().replace(b"pick", b"p\xffck")

    response = api.post(URL, raw=raw)

    assert response.status_code == 422
    assert "UTF-8" in response.json()["message"]
    assert Conversation.objects.count() == 0


def test_more_than_1000_conversations_is_422(api, make_conversation):
    batch = [make_conversation(f"c{i}") for i in range(1001)]

    response = api.post(URL, {"conversations": batch})

    assert response.status_code == 422
    assert response.json()["details"][0]["field"] == "conversations"
    assert Conversation.objects.count() == 0


def test_body_over_the_size_limit_is_413(api, make_conversation, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = settings.INGEST_MAX_BODY_BYTES = 2048
    big = make_conversation("a", messages=[{"role": "user", "content": "x" * 4096}])

    response = api.post(URL, {"conversations": [big]})

    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"
    assert Conversation.objects.count() == 0


@pytest.mark.parametrize("token", [None, "ovs_not-a-real-token", "not-even-our-format"])
def test_missing_or_wrong_token_is_401(api, make_conversation, token):
    api.token = token

    response = api.post(URL, {"conversations": [make_conversation()]})

    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert Conversation.objects.count() == 0


def test_revoked_token_is_401(api, source_token, make_conversation):
    source_revoke(source=source_token[0])

    assert api.post(URL, {"conversations": [make_conversation()]}).status_code == 401


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the COPY path is PostgreSQL's")
def test_batch_of_1000_is_written_with_one_copy_per_table(api, make_conversation, django_assert_max_num_queries):
    batch = [make_conversation(f"c{i}") for i in range(1000)]
    # auth lookup, last_seen update, savepoint pair, duplicate lookup, id reservation; COPYs bypass the ORM.
    # Campaigns are a task after commit (reviews/ingest/clustering_jobs.py): nothing of theirs in the request.
    with django_assert_max_num_queries(7) as ctx:
        response = api.post(URL, {"conversations": batch})
    assert response.status_code == 202
    sql = [q["sql"] for q in ctx.captured_queries]
    assert not [q for q in sql if q.startswith("INSERT") or "reviews_campaign" in q], sql
    assert sum("nextval" in q for q in sql) == 1
    assert Conversation.objects.count() == 1000 and Flag.objects.count() == 1000
    stored = Conversation.objects.get(external_id="c999")
    assert stored.messages == batch[999]["messages"] and stored.metadata == {"locale": "en-GB"}
    assert list(stored.flags.values_list("detector", "score", "message_index")) == [("input-guardrail", 0.62, 0)]


def test_committed_batch_is_scored_and_queued(api, make_conversation, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ids = api.post(URL, {"conversations": [make_conversation("a")]}).json()["ids"]

    score = Score.objects.get(conversation_id=ids[0])
    assert score.producer == "fallback"
    assert score.categories == {"violent-crime": 0.62} and score.risk == 0.62
    item = ReviewItem.objects.get(conversation_id=ids[0])
    assert item.queue.slug == "triage" and item.risk == pytest.approx(0.62)
    assert item.routed_by == "risky" and item.policy_version.is_active  # the one the migrations leave active
    # 10 x risk + 5 x severity/4, severity 4: violent crime is a hard limit, so its 0.62 counts double.
    assert item.priority == pytest.approx(10 * 0.62 + 5)


def test_nothing_is_enqueued_when_the_batch_rolls_back(api, make_conversation, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        api.post(URL, {"conversations": [make_conversation("a", flags=[{"score": 3}])]})
    assert callbacks == []


def test_database_errors_answer_503_with_retry_after(api, make_conversation, monkeypatch):
    from django.db import OperationalError

    def broken(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("reviews.api.conversations_ingest", broken)
    response = api.post(URL, {"conversations": [make_conversation()]})

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert connection.is_usable()


def test_text_that_copy_and_html_treat_specially_round_trips_exactly(api, make_conversation):
    tricky = (
        "tab\\there\tnewline\n\\N null marker, backslash \\ , quote \" ' , <script>alert(1)</script>, \u202e bidi, 🙂"
    )
    conversation = make_conversation("tricky", metadata={"k\t\\N": [tricky, None, 1.5]})
    conversation["messages"][1]["content"] = tricky
    conversation["flags"][0]["explanation"] = tricky

    cid = api.post(URL, {"conversations": [conversation]}).json()["ids"][0]

    stored = Conversation.objects.get(pk=cid)
    assert stored.messages[1]["content"] == tricky
    assert stored.metadata == {"k\t\\N": [tricky, None, 1.5]}
    assert stored.flags.get().explanation == tricky
