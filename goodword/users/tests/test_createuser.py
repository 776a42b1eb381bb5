from __future__ import annotations

import pytest
from click.testing import CliRunner

from goodword.cli import main
from goodword.users.models import User


@pytest.fixture
def runner():
    return CliRunner()


def test_createuser_reads_password_from_stdin(db, runner):
    result = runner.invoke(
        main,
        [
            "createuser",
            "--email",
            "Ana@Example.com",
            "--role",
            "manager",
            "--team",
            "North",
            "--password-stdin",
        ],
        input="a-long-enough-passphrase-7\n",
    )
    assert result.exit_code == 0, result.output
    assert result.output == "Created manager ana@example.com\n"
    user = User.objects.get(email="ana@example.com")
    assert (user.role, user.team.name if user.team else None) == ("manager", "North")
    assert user.check_password("a-long-enough-passphrase-7")


def test_createuser_refuses_duplicate_and_weak_password(db, runner, rep):
    dup = runner.invoke(main, ["createuser", "--email", rep.email, "--role", "rep"])
    assert dup.exit_code == 1
    assert dup.output.strip() == "Error: email: a user with rep@example.com already exists"
    weak = runner.invoke(
        main,
        ["createuser", "--email", "x@example.com", "--role", "rep", "--password-stdin"],
        input="123\n",
    )
    assert weak.exit_code == 1
    assert "password:" in weak.output
    assert not User.objects.filter(email="x@example.com").exists()


def test_createuser_rejects_unknown_role(db, runner):
    result = runner.invoke(main, ["createuser", "--email", "x@example.com", "--role", "boss"])
    assert result.exit_code == 2
    assert "'boss' is not one of" in result.output
    assert User.objects.count() == 0


def test_every_command_has_help(runner):
    for args in (
        ["--help"],
        ["demo", "--help"],
        ["serve", "--help"],
        ["worker", "--help"],
        ["migrate", "--help"],
        ["createuser", "--help"],
        ["apikey", "create", "--help"],
        ["apikey", "revoke", "--help"],
        ["import", "--help"],
        ["export", "--help"],
    ):
        result = runner.invoke(main, args)
        assert result.exit_code == 0, (args, result.output)
        assert "Usage:" in result.output
