"""`gonghui accounts <verb>`: exit 0 on success, 2 with one line on bad input, nothing written then."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from gonghui.accounts.models import ApiToken, Role, User
from gonghui.accounts.services import api_token_authenticate

PASSWORD = "a-long-enough-pass"


def run(*args):
    from io import StringIO

    out = StringIO()
    call_command("accounts", *args, stdout=out)
    return out.getvalue()


def refused(*args) -> str:
    with pytest.raises(CommandError) as caught:
        run(*args)
    assert caught.value.returncode == 2
    assert "\n" not in str(caught.value)
    return str(caught.value)


def test_it_creates_a_user_from_the_command_line(world):
    out = run(
        "create-user", "--username", "clerk", "--org", "C230811", "--role", "staff", "--password", PASSWORD
    )
    assert "clerk" in out
    user = User.objects.get(username="clerk")
    assert user.password.startswith("argon2")
    assert Role.objects.get(user=user).org == world.suburb_fed
    assert not user.has_perm("people.view_unmasked")


def test_it_takes_the_password_from_the_environment_and_grants_unmask(world, monkeypatch):
    monkeypatch.setenv("GONGHUI_PASSWORD", PASSWORD)
    run("create-user", "--username", "auditor", "--org", "C230800", "--role", "reviewer", "--can-unmask")
    user = User.objects.get(username="auditor")
    assert user.check_password(PASSWORD)
    assert user.has_perm("people.view_unmasked")


def test_it_refuses_bad_input_with_exit_2_and_writes_nothing(world, monkeypatch):
    monkeypatch.delenv("GONGHUI_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    before = User.objects.count()
    assert "C999" in refused(
        "create-user", "--username", "x1", "--org", "C999", "--role", "staff", "--password", PASSWORD
    )
    assert "已存在" in refused(
        "create-user", "--username", "suburb", "--org", "C230811", "--role", "staff", "--password", PASSWORD
    )
    assert "password" in refused(
        "create-user", "--username", "x2", "--org", "C230811", "--role", "staff", "--password", "123"
    )
    assert "GONGHUI_PASSWORD" in refused(
        "create-user", "--username", "x3", "--org", "C230811", "--role", "staff"
    )
    assert User.objects.count() == before


def test_it_grants_and_revokes_roles(world):
    run("grant-role", "--username", "suburb", "--org", "C230804", "--role", "viewer")
    assert Role.objects.filter(user=world.district_user, org=world.qianjin_fed, role="viewer").exists()
    run("revoke-role", "--username", "suburb", "--org", "C230804")
    assert not Role.objects.filter(user=world.district_user, org=world.qianjin_fed).exists()
    assert "nobody" in refused("grant-role", "--username", "nobody", "--org", "C230804", "--role", "viewer")


def test_it_issues_a_token_that_works(world):
    token = run("issue-token", "--username", "suburb", "--password", world.password).strip()
    assert api_token_authenticate(token) == world.district_user
    assert refused("issue-token", "--username", "suburb", "--password", "wrong-password")
    assert ApiToken.objects.count() == 1
