"""Accounts services: users, roles, API tokens; each write audited."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from gonghui.accounts.models import ApiToken, Role, User
from gonghui.accounts.selectors import viewer_scope
from gonghui.accounts.services import (
    AccountLocked,
    AccountsError,
    BadCredentials,
    api_token_authenticate,
    api_token_issue,
    api_token_revoke,
    role_grant,
    role_revoke,
    user_create,
)
from gonghui.audit.models import AuditEvent

PASSWORD = "a-long-enough-pass"


def test_it_creates_a_user_with_an_argon2_password_and_a_role(world):
    user = user_create(
        username="clerk", password=PASSWORD, org=world.suburb_fed, role="staff", actor=world.city_user
    )
    user.refresh_from_db()
    assert user.password.startswith("argon2")
    assert PASSWORD not in user.password
    assert user.check_password(PASSWORD)
    assert list(Role.objects.filter(user=user).values_list("org__code", "role")) == [("C230811", "staff")]
    assert not user.has_perm("people.view_unmasked")
    assert viewer_scope(user).org_paths == (world.suburb_fed.path,)
    event = AuditEvent.objects.get(action="accounts.user_create")
    assert event.actor == world.city_user
    assert event.target_id == str(user.pk)
    assert event.detail == {"org": "C230811", "role": "staff", "can_unmask": False}
    assert PASSWORD not in str(event.detail)


def test_it_grants_the_unmask_permission_only_when_asked(world):
    user = user_create(
        username="auditor", password=PASSWORD, org=world.city_fed, role="reviewer", can_unmask=True
    )
    assert User.objects.get(pk=user.pk).has_perm("people.view_unmasked")


def test_it_hashes_the_world_personas_with_argon2(world):
    for user in (world.city_user, world.district_user, world.sibling_user):
        assert user.password.startswith("argon2$")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"username": "suburb"}, "已存在"),
        ({"username": "SUBURB"}, "已存在"),
        ({"username": "  "}, "username"),
        ({"role": "boss"}, "role"),
        ({"password": "short"}, "password"),
        ({"password": "password123"}, "password"),
    ],
)
def test_it_refuses_a_bad_user_and_writes_nothing(world, kwargs, message):
    before = (User.objects.count(), Role.objects.count(), AuditEvent.objects.count())
    arguments = {
        "username": "newbie",
        "password": PASSWORD,
        "org": world.suburb_fed,
        "role": "staff",
        **kwargs,
    }
    with pytest.raises(AccountsError, match=message):
        user_create(**arguments)
    assert (User.objects.count(), Role.objects.count(), AuditEvent.objects.count()) == before


def test_it_grants_changes_and_revokes_a_role(world):
    user = world.district_user
    role_grant(user=user, org=world.qianjin_fed, role="viewer", actor=world.city_user)
    role_grant(user=user, org=world.qianjin_fed, role="reviewer", actor=world.city_user)
    assert Role.objects.get(user=user, org=world.qianjin_fed).role == "reviewer"
    role_revoke(user=user, org=world.qianjin_fed, actor=world.city_user)
    assert not Role.objects.filter(user=user, org=world.qianjin_fed).exists()
    assert [(e.action, e.detail["from"]) for e in AuditEvent.objects.order_by("id")] == [
        ("accounts.role_grant", None),
        ("accounts.role_grant", "viewer"),
        ("accounts.role_revoke", "reviewer"),
    ]
    with pytest.raises(AccountsError, match="没有角色"):
        role_revoke(user=user, org=world.qianjin_fed)
    with pytest.raises(AccountsError, match="role"):
        role_grant(user=user, org=world.qianjin_fed, role="boss")


def test_it_issues_a_token_that_authenticates_until_it_expires(world, settings):
    settings.GONGHUI_API_TOKEN_TTL_HOURS = 2
    token = api_token_issue(username="suburb", password=world.password, ip="10.1.2.3")
    stored = ApiToken.objects.get()
    assert stored.key_hash == hashlib.sha256(token.encode()).hexdigest()
    assert timedelta(hours=1, minutes=59) < stored.expires_at - timezone.now() <= timedelta(hours=2)
    assert api_token_authenticate(token) == world.district_user
    assert api_token_authenticate(token + "x") is None
    assert api_token_authenticate("") is None
    assert AuditEvent.objects.get(action="accounts.token_issue").ip == "10.1.2.3"

    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert api_token_authenticate(token) is None
    # A new token replaces the expired one in the table.
    fresh = api_token_issue(username="suburb", password=world.password)
    assert list(ApiToken.objects.values_list("key_hash", flat=True)) == [
        hashlib.sha256(fresh.encode()).hexdigest()
    ]


def test_it_revokes_a_token(world):
    token = api_token_issue(username="suburb", password=world.password)
    assert api_token_revoke(token=token) is True
    assert api_token_authenticate(token) is None
    assert api_token_revoke(token=token) is False
    assert AuditEvent.objects.filter(action="accounts.token_revoke", actor=world.district_user).count() == 1


def test_it_refuses_bad_credentials_and_locks_after_five(world):
    for _ in range(4):
        with pytest.raises(BadCredentials):
            api_token_issue(username="suburb", password="wrong-password")
    with pytest.raises(AccountLocked):  # the fifth failure is the one that locks
        api_token_issue(username="suburb", password="wrong-password")
    with pytest.raises(AccountLocked):
        api_token_issue(username="suburb", password=world.password)
    assert not ApiToken.objects.exists()
    assert AuditEvent.objects.filter(action="accounts.login_failed", detail__username="suburb").count() == 6


def test_it_forgets_earlier_failures_after_a_successful_token_issue(world):
    for _ in range(4):
        with pytest.raises(BadCredentials):
            api_token_issue(username="suburb", password="wrong-password")
    api_token_issue(username="suburb", password=world.password)
    for _ in range(4):
        with pytest.raises(BadCredentials):
            api_token_issue(username="suburb", password="wrong-password")
    assert api_token_issue(username="suburb", password=world.password)


def test_it_refuses_a_token_to_an_inactive_user(world):
    User.objects.filter(pk=world.district_user.pk).update(is_active=False)
    with pytest.raises(BadCredentials):
        api_token_issue(username="suburb", password=world.password)
