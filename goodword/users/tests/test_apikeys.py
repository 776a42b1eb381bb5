"""API keys: random, shown once, stored as a SHA-256 hash, scoped, revocable, Bearer-only."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from click.testing import CliRunner
from django.test import Client

from goodword.cli import main
from goodword.crm.models import Account
from goodword.lib.errors import Invalid, NotFound
from goodword.lib.tokens import hash_secret, new_secret, prefix_of, same
from goodword.users.models import APIKey, User
from goodword.users.services import apikey_authenticate, apikey_create, apikey_revoke

ACCOUNTS = "/api/v1/accounts"


@pytest.fixture(autouse=True)
def fast_password_hasher(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# --- the secret -----------------------------------------------------------------------


def test_new_secret_is_random_prefixed_and_hashed() -> None:
    key, prefix, hashed = new_secret()
    again, other_prefix, _ = new_secret()

    assert key.startswith(f"gw_{prefix}_")
    assert len(prefix) == 8
    assert len(key) >= 3 + 8 + 1 + 43  # 32 random bytes in URL-safe base64
    assert hashed == hashlib.sha256(key.encode()).hexdigest() == hash_secret(key)
    assert key != again
    assert prefix != other_prefix
    assert prefix_of(key) == prefix


@pytest.mark.parametrize("key", ["", "gw", "gw__x", "xx_abcd_efgh", "abcdef"])
def test_prefix_of_a_malformed_key_is_none(key: str) -> None:
    assert prefix_of(key) is None


def test_same_compares_exactly() -> None:
    assert same("abc", "abc")
    assert not same("abc", "abd")


# --- creating, storing, revoking ------------------------------------------------------


def test_create_returns_the_key_once_and_stores_only_its_hash(rep: User) -> None:
    row, key = apikey_create(user=rep, scopes=["write", "read", "read"], name="zapier")

    stored = APIKey.objects.filter(pk=row.pk).values().get()
    assert stored["hashed_key"] == hashlib.sha256(key.encode()).hexdigest()
    assert stored["prefix"] == prefix_of(key)
    assert stored["scopes"] == ["read", "write"]
    assert all(key not in str(value) for value in stored.values())
    # Nothing else in the users' tables holds it either.
    assert all(key not in str(v) for u in User.objects.values() for v in u.values())
    assert str(row) == f"{row.prefix}… ({rep})"


@pytest.mark.parametrize("scopes", [["admin"], [], ["read", "everything"], [" "]])
def test_create_refuses_unknown_or_no_scopes(rep: User, scopes: list[str]) -> None:
    with pytest.raises(Invalid) as refused:
        apikey_create(user=rep, scopes=scopes)

    assert list(refused.value.errors) == ["scopes"]
    assert not APIKey.objects.exists()


def test_create_refuses_an_inactive_user(rep: User) -> None:
    User.objects.filter(pk=rep.pk).update(is_active=False)
    rep.refresh_from_db()

    with pytest.raises(Invalid):
        apikey_create(user=rep, scopes=["read"])

    assert not APIKey.objects.exists()


def test_authenticate_needs_a_live_key_with_the_scope(rep: User) -> None:
    row, key = apikey_create(user=rep, scopes=["read"])

    assert apikey_authenticate(key, "read") == rep
    assert apikey_authenticate(key, "write") is None
    assert apikey_authenticate(key[:-1] + ("A" if key[-1] != "A" else "B"), "read") is None
    assert apikey_authenticate("gw_00000000_nope", "read") is None
    row.refresh_from_db()
    assert row.last_used_at is not None


def test_a_deactivated_users_key_stops_working(rep: User) -> None:
    _, key = apikey_create(user=rep, scopes=["read"])

    User.objects.filter(pk=rep.pk).update(is_active=False)

    assert apikey_authenticate(key, "read") is None


def test_revoke_by_prefix_or_whole_key(rep: User) -> None:
    row, key = apikey_create(user=rep, scopes=["read"])
    _, other = apikey_create(user=rep, scopes=["read"])

    revoked = apikey_revoke(prefix=key)  # the whole key names its prefix too

    assert revoked.pk == row.pk
    assert revoked.revoked_at is not None
    assert apikey_authenticate(key, "read") is None
    assert apikey_authenticate(other, "read") == rep
    with pytest.raises(NotFound):
        apikey_revoke(prefix="ffffffff")


# --- over HTTP ------------------------------------------------------------------------


def test_a_valid_key_lists_what_its_user_may_see(
    client: Client, rep: User, account: Account, other_account: Account
) -> None:
    _, key = apikey_create(user=rep, scopes=["read"])

    response = client.get(ACCOUNTS, headers=bearer(key))

    assert response.status_code == 200
    assert [a["name"] for a in response.json()["items"]] == ["Acme Analytics"]


def test_a_revoked_key_is_401(client: Client, rep: User, account: Account) -> None:
    row, key = apikey_create(user=rep, scopes=["read"])
    apikey_revoke(prefix=row.prefix)

    response = client.get(ACCOUNTS, headers=bearer(key))

    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_read_key_cannot_write_and_nothing_changes(
    client: Client, rep: User, account: Account
) -> None:
    """A key without the needed scope is refused like a missing one: 401, not 403."""
    _, key = apikey_create(user=rep, scopes=["read"])

    response = client.patch(
        f"{ACCOUNTS}/{account.pk}",
        {"name": "Renamed"},
        content_type="application/json",
        headers=bearer(key),
    )

    assert response.status_code == 401
    account.refresh_from_db()
    assert account.name == "Acme Analytics"


def test_a_write_key_cannot_read(client: Client, rep: User, account: Account) -> None:
    _, key = apikey_create(user=rep, scopes=["write"])

    assert client.get(ACCOUNTS, headers=bearer(key)).status_code == 401


def test_an_ingest_key_can_neither_read_nor_write(client: Client, rep: User) -> None:
    _, key = apikey_create(user=rep, scopes=["ingest"])

    read = client.get(ACCOUNTS, headers=bearer(key))
    write = client.post(
        ACCOUNTS, {"name": "Sneaky"}, content_type="application/json", headers=bearer(key)
    )

    assert read.status_code == write.status_code == 401
    assert not Account.objects.filter(name="Sneaky").exists()


@pytest.mark.parametrize("param", ["api_key", "key", "token", "access_token"])
def test_a_key_in_the_query_string_is_401(client: Client, rep: User, param: str) -> None:
    _, key = apikey_create(user=rep, scopes=["read"])

    response = client.get(ACCOUNTS, {param: key})

    assert response.status_code == 401


def test_a_key_in_a_cookie_or_another_header_is_401(client: Client, rep: User) -> None:
    _, key = apikey_create(user=rep, scopes=["read"])
    client.cookies["Authorization"] = f"Bearer {key}"

    from_cookie = client.get(ACCOUNTS)
    other_header = client.get(ACCOUNTS, headers={"X-API-Key": key})
    wrong_scheme = client.get(ACCOUNTS, headers={"Authorization": f"Token {key}"})

    assert from_cookie.status_code == other_header.status_code == wrong_scheme.status_code == 401


# --- the CLI --------------------------------------------------------------------------


def test_cli_creates_a_key_prints_it_once_and_revokes_it(
    client: Client, rep: User, account: Account
) -> None:
    runner = CliRunner()

    created = runner.invoke(
        main, ["apikey", "create", "--user", "REP@example.com", "--scopes", "read,write"]
    )

    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    row = APIKey.objects.get()
    assert prefix_of(key) == row.prefix
    assert row.scopes == ["read", "write"]
    assert row.hashed_key == hash_secret(key)
    assert "cannot be shown again" in created.stderr
    assert client.get(ACCOUNTS, headers=bearer(key)).status_code == 200

    revoked = runner.invoke(main, ["apikey", "revoke", row.prefix])

    assert revoked.exit_code == 0, revoked.output
    assert revoked.stdout == f"Revoked API key {row.prefix} of rep@example.com\n"
    assert client.get(ACCOUNTS, headers=bearer(key)).status_code == 401


def test_cli_refuses_a_bad_scope_with_one_line(rep: User) -> None:
    result = CliRunner().invoke(main, ["apikey", "create", "--user", rep.email, "--scopes", "root"])

    assert result.exit_code == 1
    assert result.output == "Error: scopes: choose from ingest, read, write; not root\n"
    assert not APIKey.objects.exists()


def test_cli_refuses_an_unknown_user_or_prefix(db: Any) -> None:
    runner = CliRunner()

    no_user = runner.invoke(
        main, ["apikey", "create", "--user", "ghost@example.com", "--scopes", "read"]
    )
    no_key = runner.invoke(main, ["apikey", "revoke", "deadbeef"])

    assert no_user.exit_code == no_key.exit_code == 1
    assert no_user.output == "Error: no user with e-mail ghost@example.com\n"
    assert no_key.output == "Error: no API key with prefix 'deadbeef'\n"
