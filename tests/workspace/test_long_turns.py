"""Long turns: the item page shows a turn's first TURN_CHARS characters (and the page at most PAGE_CHARS of
conversation text), with a link that loads the rest of that turn on demand under the page's own rules.

An 8 MB turn of `<` once made a 32 MB item page that took Chromium a minute, and claim order can hand such an
item to every reviewer."""

from __future__ import annotations

import pytest

from reviews.models import AuditAction, AuditEvent
from reviews.workspace.visibility import PAGE_CHARS, TURN_CHARS
from tests.factories import HX, claim, make_item

pytestmark = pytest.mark.django_db

GRAPHIC_CATEGORY = "violent-crime"  # hard limit, blurred by default in the seeded taxonomy


def test_an_eight_megabyte_turn_of_markup_makes_a_small_escaped_page(client, reviewer):
    make_item(messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "<" * 8_000_000}])
    client.force_login(reviewer)
    item = claim(client)

    response = client.get(f"/items/{item.pk}/")

    html = response.content.decode()
    assert response.status_code == 200
    assert len(response.content) < 1_000_000
    assert "&lt;" * TURN_CHARS in html and "&lt;" * (TURN_CHARS + 1) not in html
    assert "<<" not in html
    assert "Showing the first 20,000 of 8,000,000 characters" in html
    assert f'hx-get="/items/{item.pk}/messages/1/"' in html and f'href="/items/{item.pk}/messages/1/"' in html


def test_show_all_loads_the_whole_turn_as_an_escaped_fragment(client, reviewer):
    turn = "<b>x</b>" * 5_000 + "THE-VERY-END"
    make_item(messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": turn}])
    client.force_login(reviewer)
    item = claim(client)

    page = client.get(f"/items/{item.pk}/").content.decode()
    fragment = client.get(f"/items/{item.pk}/messages/1/", headers=HX)

    assert "THE-VERY-END" not in page
    body = fragment.content.decode()
    assert fragment.status_code == 200
    assert body.lstrip().startswith('<li id="message-1"')
    assert "&lt;b&gt;x&lt;/b&gt;" * 5_000 + "THE-VERY-END" in body and "<b>" not in body
    assert "Showing the first" not in body


def test_without_htmx_the_turn_comes_as_plain_text(client, reviewer):
    turn = "<script>alert(1)</script>" * 1_000 + "THE-VERY-END"
    make_item(messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": turn}])
    client.force_login(reviewer)
    item = claim(client)

    response = client.get(f"/items/{item.pk}/messages/1/")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response.content.decode() == turn


def test_a_blurred_turn_is_not_sent_by_show_all_until_revealed(client, reviewer):
    turn = "GRAPHIC " * 5_000 + "THE-VERY-END"
    item = make_item(
        messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": turn}],
        category=GRAPHIC_CATEGORY,
        message_index=1,
    )
    client.force_login(reviewer)
    claim(client)

    covered = client.get(f"/items/{item.pk}/messages/1/", headers=HX).content.decode()
    plain = client.get(f"/items/{item.pk}/messages/1/")
    client.post(f"/items/{item.pk}/messages/1/reveal/", headers=HX)
    revealed = client.get(f"/items/{item.pk}/messages/1/", headers=HX).content.decode()

    assert "GRAPHIC" not in covered and "Hidden by default" in covered
    assert plain.status_code == 403 and b"GRAPHIC" not in plain.content
    assert "THE-VERY-END" in revealed
    assert AuditEvent.objects.filter(action=AuditAction.REVEAL).count() == 1  # reading is not a reveal


def test_show_all_follows_the_item_pages_access_rules(client, reviewer, outsider):
    item = make_item("escalation", messages=[{"role": "user", "content": "x" * 30_000}])
    client.force_login(reviewer)

    assert client.get(f"/items/{item.pk}/messages/0/", headers=HX).status_code == 404  # a queue they may not work
    assert client.get("/items/999999/messages/0/", headers=HX).status_code == 404
    client.force_login(outsider)
    assert client.get(f"/items/{item.pk}/messages/0/", headers=HX).status_code == 403
    client.logout()
    assert client.get(f"/items/{item.pk}/messages/0/").status_code == 302


def test_a_turn_that_does_not_exist_is_404(client, reviewer):
    make_item(messages=[{"role": "user", "content": "hi"}])
    client.force_login(reviewer)
    item = claim(client)

    assert client.get(f"/items/{item.pk}/messages/3/", headers=HX).status_code == 404


def test_many_long_turns_share_one_page_budget(client, reviewer):
    turns = [{"role": "user" if i % 2 else "assistant", "content": f"T{i}:" + "y" * 19_000} for i in range(40)]
    make_item(messages=turns)
    client.force_login(reviewer)
    item = claim(client)

    response = client.get(f"/items/{item.pk}/")

    html = response.content.decode()
    assert len(response.content) < 1_000_000
    assert html.count("y" * 19_000) == PAGE_CHARS // 19_004  # whole turns until the budget is spent
    assert f'hx-get="/items/{item.pk}/messages/39/"' in html  # the rest load on demand
    assert "T39:" in html  # every turn still shows its beginning


def test_a_short_conversation_is_shown_whole_with_no_show_all(client, reviewer):
    make_item(messages=[{"role": "user", "content": "hello"}, {"role": "assistant", "content": "z" * 10_000}])
    client.force_login(reviewer)
    item = claim(client)

    html = client.get(f"/items/{item.pk}/").content.decode()

    assert "z" * 10_000 in html and "Showing the first" not in html
