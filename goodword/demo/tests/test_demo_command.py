"""`goodword demo`: builds the company, prints a login that works, refuses foreign data."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from django.contrib.auth import authenticate

from goodword.cli import main
from goodword.crm.models import Account, Deal
from goodword.demo.generator import DEMO_PASSWORD
from goodword.users.models import User


@pytest.fixture
def runner():
    return CliRunner()


def demo_accounts() -> int:
    """The generated accounts (a referral the demo's story accepts adds its company too)."""
    return Account.objects.filter(external_id__startswith="demo-a").count()


def test_demo_builds_the_company_and_prints_logins_that_work(db, runner):
    # when
    result = runner.invoke(main, ["demo", "--no-serve", "--accounts", "100"])

    # then
    assert result.exit_code == 0, result.output
    assert demo_accounts() == 100
    assert Deal.objects.exists()
    assert f"password '{DEMO_PASSWORD}'" in result.stdout
    logins = dict(re.findall(r"^  (\w+) +(\S+@demo\.goodword\.example)$", result.stdout, re.M))
    assert set(logins) == {"rep", "csm", "manager", "admin"}
    for role, email in logins.items():
        user = authenticate(email=email, password=DEMO_PASSWORD)
        assert user is not None
        assert user.role == role
    assert "accounts" in result.stderr  # the progress bar
    assert "Worked the asks" in result.stdout


def test_demo_rebuilds_over_an_earlier_demo(db, runner):
    runner.invoke(main, ["demo", "--no-serve", "--accounts", "30", "--seed", "1"])

    result = runner.invoke(main, ["demo", "--no-serve", "--accounts", "20", "--seed", "2"])

    assert result.exit_code == 0, result.output
    assert demo_accounts() == 20


def test_demo_refuses_a_database_with_other_users_and_changes_nothing(db, runner, rep):
    result = runner.invoke(main, ["demo", "--no-serve", "--accounts", "20"])

    assert result.exit_code == 1
    assert "--force" in result.stderr
    assert list(User.objects.values_list("email", flat=True)) == [rep.email]
    assert not Account.objects.exists()


def test_demo_force_wipes_other_data(db, runner, rep):
    result = runner.invoke(main, ["demo", "--no-serve", "--accounts", "20", "--force"])

    assert result.exit_code == 0, result.output
    assert not User.objects.filter(email=rep.email).exists()
    assert demo_accounts() == 20


def test_demo_help_names_the_password_and_options(runner):
    result = runner.invoke(main, ["demo", "--help"])

    assert result.exit_code == 0
    for word in ("--accounts", "--seed", "--no-serve", "--force", "goodword-demo"):
        assert word in result.output
