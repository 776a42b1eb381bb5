from __future__ import annotations

from django.urls import reverse

from goodword import settings as project_settings
from goodword.conftest import PASSWORD
from goodword.users.models import LoginFailure
from goodword.users.services import user_create


def test_login_with_good_password_goes_to_my_tasks(client, rep):
    response = client.post(reverse("login"), {"email": "REP@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("my-tasks")


def test_wrong_password_is_refused_and_recorded(client, rep):
    response = client.post(reverse("login"), {"email": rep.email, "password": "nope"})
    assert response.status_code == 400
    assert LoginFailure.objects.filter(email=rep.email).count() == 1
    assert "_auth_user_id" not in client.session


def test_login_is_throttled_after_five_failures_even_with_the_right_password(client, rep):
    for _ in range(5):
        client.post(reverse("login"), {"email": rep.email, "password": "guess"})
    response = client.post(reverse("login"), {"email": rep.email, "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_pages_need_login(client):
    response = client.get(reverse("my-tasks"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_login_ignores_offsite_next(client, rep):
    response = client.post(
        reverse("login"),
        {"email": rep.email, "password": PASSWORD, "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("my-tasks")


def test_logout_needs_post(client, rep):
    client.force_login(rep)
    assert client.get(reverse("logout")).status_code == 405
    assert "_auth_user_id" in client.session
    client.post(reverse("logout"))
    assert "_auth_user_id" not in client.session


def test_passwords_are_hashed_with_argon2(db, settings):
    # given the project's configured hashers (the suite swaps in a fast one elsewhere)
    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS
    # when a user is created
    user = user_create(email="argon@example.com", role="rep", password=PASSWORD)
    # then the stored password is an Argon2 hash
    assert user.password.startswith("argon2$")
