"""Property-based conformance: every operation of /api/v1/ answers as its OpenAPI schema says.

Schemathesis generates requests from the schema (served in-process by the WSGI app) and runs its
default checks on each response: no server errors, documented status codes and content types,
bodies that match the response schemas, and more. A failure here is a bug in the API or its
schema, never a reason to weaken the checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation

from goodword.crm.models import Account, Contact, Deal, Task
from goodword.users.models import User
from goodword.users.services import apikey_create
from goodword.wsgi import application

# One deliberate setting: a body can match the schema and still be refused with 400 "invalid"
# for what no schema can say (an owner_email of no active user, an external_id already in use,
# a contact of another account). 400 joins the statuses positive_data_acceptance expects;
# 422 (the schema and the validation disagree) still fails it.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "400", "401", "403", "404", "409"]
            }
        }
    }
)
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application, config=CONFIG)


@pytest.fixture(autouse=True)
def fast_password_hasher(settings: Any) -> None:
    """The fixtures' users need no Argon2 here; hashing is tested where logins are."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def keep_test_connection() -> Iterator[None]:
    """The WSGI handler closes "old" connections around each request, which would close the
    test's transaction on PostgreSQL; Django's own test client suspends this the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def admin_key(
    admin_user: User,
    account: Account,
    other_account: Account,
    contact: Contact,
    deal: Deal,
    task: Task,
    other_task: Task,
    ask: Task,
) -> str:
    """A read-write key of an admin, with a few records of each type to find."""
    _, key = apikey_create(user=admin_user, scopes=["read", "write"])
    return key


@schema.parametrize()
@settings(
    max_examples=25,
    database=None,
    deadline=None,
    # The database fixtures are function-scoped on purpose: examples of one operation share
    # them, and each operation starts from the same records.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_conforms_to_its_schema(case: Any, admin_key: str) -> None:
    # The only header an operation declares is the Bearer key. When schemathesis breaks it on
    # purpose (negative headers), send what it made, which must be refused with 401; otherwise
    # the admin's key replaces the placeholder token it generates.
    breaks_auth = case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER)
    headers = None if breaks_auth else {"Authorization": f"Bearer {admin_key}"}
    case.call_and_validate(headers=headers)
