"""Login brute force: after LOGIN_FAILURE_LIMIT wrong passwords for one username from one address, that pair is
locked out (django-axes), even with the right password; other users and other addresses still get in."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
ATTACKER = "198.51.100.23"


@pytest.fixture
def people(reviewer: User, senior: User) -> tuple[User, User]:
    for user in (reviewer, senior):
        user.set_password(PASSWORD)
        user.save()
    return reviewer, senior


def _login(username: str, password: str, *, ip: str = ATTACKER) -> tuple[Client, int]:
    client = Client(REMOTE_ADDR=ip)
    response = client.post(reverse("login"), {"username": username, "password": password})
    return client, response.status_code


def _signed_in(client: Client) -> bool:
    return client.get(reverse("reviews:home")).status_code == 200


def _fail(username: str, times: int, *, ip: str = ATTACKER) -> list[int]:
    return [_login(username, "wrong-guess", ip=ip)[1] for _ in range(times)]


def test_the_right_password_is_refused_after_five_wrong_ones(people, settings):
    victim, _ = people
    assert settings.AXES_FAILURE_LIMIT == 5

    statuses = _fail(victim.username, 5)
    client, status = _login(victim.username, PASSWORD)

    assert statuses == [200, 200, 200, 200, 429]  # the form again, then the lockout page
    assert status == 429
    assert not _signed_in(client)


def test_the_lockout_page_says_what_happened_on_the_sites_own_page(people):
    victim, _ = people
    _fail(victim.username, 5)

    response = Client(REMOTE_ADDR=ATTACKER).post(reverse("login"), {"username": victim.username, "password": PASSWORD})

    page = response.content.decode()
    assert response.status_code == 429
    assert "Too many login attempts" in page and "15 minutes" in page
    assert 'id="locked-out"' in page and "<script>" not in page


def test_a_locked_pair_does_not_lock_other_users_or_other_addresses(people):
    victim, colleague = people
    _fail(victim.username, 5)

    colleague_client, _ = _login(colleague.username, PASSWORD)  # same address, another user
    victim_elsewhere, _ = _login(victim.username, PASSWORD, ip="192.0.2.10")  # same user, another address

    assert _signed_in(colleague_client)
    assert _signed_in(victim_elsewhere)


def test_a_success_before_the_limit_starts_the_count_again(people):
    victim, _ = people
    _fail(victim.username, 4)
    assert _signed_in(_login(victim.username, PASSWORD)[0])

    assert _fail(victim.username, 4) == [200, 200, 200, 200]
    assert _signed_in(_login(victim.username, PASSWORD)[0])


def test_axes_reset_unlocks_at_once(people):
    victim, _ = people
    _fail(victim.username, 5)
    assert _login(victim.username, PASSWORD)[1] == 429

    call_command("axes_reset", stdout=StringIO())

    assert _signed_in(_login(victim.username, PASSWORD)[0])


def test_test_client_login_and_force_login_still_work(people):
    """Helpers the rest of the suite relies on: axes checks only logins that come with a request."""
    victim, colleague = people
    client = Client()

    assert client.login(username=victim.username, password=PASSWORD)
    assert _signed_in(client)
    other = Client()
    other.force_login(colleague)
    assert _signed_in(other)
