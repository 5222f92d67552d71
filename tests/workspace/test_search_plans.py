"""Text search gives the same items in the same order whichever way PostgreSQL finds them (the listed matches,
the newest-first walk, a phrase's candidates), and on SQLite: two words, a phrase, the risk sort, and every page.
The expected pages are worked out here from how the conversations were written, not by the search."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from reviews.models import ReviewItem
from reviews.workspace import search
from reviews.workspace.search import items_search
from tests.factories import make_item

pytestmark = pytest.mark.django_db

POSTGRES = connection.vendor == "postgresql"
FILLER = ["apple", "river", "mountain", "window", "garden", "pencil"]
SHAPES = {  # the words a conversation holds, in order: which searches find it is known from these
    "phrase": ["zebra", "violin"],
    "reversed": ["violin", "zebra"],
    "apart": ["zebra", "garden", "violin"],
    "zebra": ["zebra"],
    "violin": ["violin"],
    "neither": [],
}


def _corpus(count: int = 36) -> list[tuple[ReviewItem, list[str]]]:
    """Items with conversations of the SHAPES, arrival times and risks shuffled (ties included), and the same
    conversations' words in a queue a reviewer may not work (escalation), which no search may show."""
    rng, now, made = random.Random(7), timezone.now(), []
    for n in range(count):
        words = SHAPES[list(SHAPES)[n % len(SHAPES)]]
        text = " ".join(rng.sample(FILLER, 2) + words + rng.sample(FILLER, 2))
        messages = [{"role": "user", "content": text}, {"role": "assistant", "content": "I can help."}]
        item = make_item(n=n, messages=messages)
        created, risk = now - timedelta(minutes=rng.randrange(count // 2)), rng.choice([0.1, 0.5, 0.5, 0.9])
        ReviewItem.objects.filter(pk=item.pk).update(created_at=created, risk=risk)
        made.append((ReviewItem.objects.get(pk=item.pk), words))
        hidden = make_item("escalation", n=n, messages=messages)
        ReviewItem.objects.filter(pk=hidden.pk).update(created_at=now + timedelta(minutes=1), risk=1.0)
    return made


def _expected(made: list[tuple[ReviewItem, list[str]]], match: str, sort: str) -> list[int]:
    found = [item for item, words in made if _matches(words, match)]
    if sort == "risk":
        found.sort(key=lambda item: (item.risk, item.pk), reverse=True)
    else:
        found.sort(key=lambda item: (item.created_at, item.pk), reverse=True)
    return [item.pk for item in found]


def _matches(words: list[str], match: str) -> bool:
    if match == "both":
        return {"zebra", "violin"} <= set(words)
    return any(words[i : i + 2] == ["zebra", "violin"] for i in range(len(words)))  # "phrase"


def _all_pages(user, data: dict[str, str], per_page: int = 4) -> list[int]:
    """Every page in turn, as the page links walk them: full pages while there is a next one."""
    pks, number = [], 1
    while True:
        result = items_search(user=user, data=data, page=number, per_page=per_page)
        pks += [item.pk for item in result.items]
        if not result.has_next:
            return pks
        assert len(result.items) == per_page
        number += 1


# TEXT_IDS 10,000: the matches are listed; 1: the page walks the items newest (or riskiest) first.
@pytest.mark.parametrize("text_ids", [10_000, 1])
@pytest.mark.parametrize("sort", ["newest", "risk"])
def test_two_words_give_the_same_pages_listed_or_walked(reviewer, monkeypatch, text_ids, sort):
    made = _corpus()
    monkeypatch.setattr(search, "TEXT_IDS", text_ids)

    found = _all_pages(reviewer, {"q": "zebra violin", "sort": sort})

    assert found == _expected(made, "both", sort)
    assert len(found) == 18  # phrase, reversed and apart, six each


PHRASE_WAYS = {  # search.py's limits set so that each way to find a phrase's items is taken
    "candidates listed, positions checked": {"TEXT_IDS": 10_000},
    "more matches than TEXT_IDS: walked": {"TEXT_IDS": 1},
    "past the candidates: walked": {"PHRASE_CANDIDATES": 5, "WALK_COST": 0},
    "past the candidates: every candidate checked": {"PHRASE_CANDIDATES": 5, "WALK_COST": 10**9},
    "sampled, then every candidate checked": {"PHRASE_CANDIDATES": 0, "PHRASE_SAMPLE": 3, "WALK_COST": 10**9},
}


@pytest.mark.skipif(not POSTGRES, reason="phrases are PostgreSQL's full-text search; SQLite matches each word")
@pytest.mark.parametrize("way", PHRASE_WAYS)
@pytest.mark.parametrize("sort", ["newest", "risk"])
def test_a_phrase_gives_the_same_pages_whichever_way_it_is_found(reviewer, monkeypatch, way, sort):
    """18 candidates (every conversation with both words), 6 of them with the phrase."""
    made = _corpus()
    for name, value in PHRASE_WAYS[way].items():
        monkeypatch.setattr(search, name, value)

    found = _all_pages(reviewer, {"q": '"zebra violin"', "sort": sort})

    assert found == _expected(made, "phrase", sort)
    assert len(found) == 6


@pytest.mark.skipif(not POSTGRES, reason="phrases are PostgreSQL's full-text search; SQLite matches each word")
def test_an_excluded_phrase_is_not_narrowed_to_its_words(reviewer):
    """Under a NOT, the phrase's words alone would exclude too much ("zebra garden violin" has both words)."""
    made = _corpus()

    found = _all_pages(reviewer, {"q": 'garden -"zebra violin"'})

    newest = sorted((item for item, _ in made), key=lambda item: (item.created_at, item.pk), reverse=True)
    holds = {item.pk: words for item, words in made}
    with_garden = [item for item in newest if "garden" in item.conversation.messages[0]["content"]]
    assert found == [item.pk for item in with_garden if not _matches(holds[item.pk], "phrase")]
    assert any(holds[pk] == SHAPES["apart"] for pk in found)


def test_risk_sort_without_text_pages_through_ties_by_newest_id_first(reviewer):
    made = _corpus(count=18)

    found = _all_pages(reviewer, {"sort": "risk"}, per_page=5)

    assert found == [item.pk for item, _ in sorted(made, key=lambda row: (row[0].risk, row[0].pk), reverse=True)]


def test_a_page_past_the_last_is_empty_and_says_so(reviewer):
    _corpus(count=6)

    result = items_search(user=reviewer, data={"q": "zebra violin"}, page=3, per_page=4)

    assert result.items == [] and not result.has_next and result.has_previous


@pytest.mark.skipif(not POSTGRES, reason="a PostgreSQL setting")
def test_search_leaves_the_connection_settings_as_they_were(reviewer):
    _corpus(count=6)
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_parallel_workers_per_gather")
        before = cursor.fetchone()[0]
        items_search(user=reviewer, data={"q": "zebra"})
        cursor.execute("SHOW max_parallel_workers_per_gather")
        assert cursor.fetchone()[0] == before
