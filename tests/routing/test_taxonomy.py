"""Renaming and merging categories keeps old decisions readable."""

from __future__ import annotations

import pytest

from reviews.models import Category, Decision, ReviewItem
from reviews.routing.taxonomy import TaxonomyError, category_merge
from reviews.scoring.training_data import label_names, training_examples

pytestmark = pytest.mark.django_db


@pytest.fixture
def decided(api, make_conversation, reviewer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        cid = api.post("/api/v1/conversations", {"conversations": [make_conversation("a")]}).json()["ids"][0]
    item = ReviewItem.objects.get(conversation_id=cid)
    return Decision.objects.create(
        item=item, reviewer=reviewer, verdict="appropriate_refusal", categories=["harassment"], harmful_request=True
    )


def test_merged_category_counts_as_its_target_and_leaves_the_label_set(decided):
    category_merge(category=Category.objects.get(slug="harassment"), into=Category.objects.get(slug="hate"))

    decided.refresh_from_db()
    assert decided.categories == ["harassment"]  # the decision itself is never rewritten
    [example] = training_examples()
    assert example.targets["categories"] == ["hate"] and example.targets["request_harmful"] == 1
    assert "harassment" not in label_names() and "hate" in label_names()


def test_merges_cannot_form_a_cycle():
    hate, harassment = Category.objects.get(slug="hate"), Category.objects.get(slug="harassment")
    category_merge(category=harassment, into=hate)

    with pytest.raises(TaxonomyError, match="cycle"):
        category_merge(category=hate, into=harassment)


def test_admin_keeps_slugs_and_refuses_deletes(client, admin_user):
    admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)
    hate = Category.objects.get(slug="hate")

    page = client.get(f"/admin/reviews/category/{hate.pk}/change/").content.decode()
    client.post(f"/admin/reviews/category/{hate.pk}/delete/", {"post": "yes"})

    assert 'name="slug"' not in page  # shown read-only
    assert Category.objects.filter(slug="hate").exists()
