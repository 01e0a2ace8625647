"""Signing in on the web: audit rows, the axes lockout, and sessions that end after 30 idle minutes."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone

from gonghui.audit.models import AuditEvent

LOGIN = "/accounts/login/"
DESK = "/"


def log_in(client, username, password):
    return client.post(LOGIN, {"username": username, "password": password})


def is_signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_it_audits_a_login_and_a_logout_with_the_address(client, world):
    response = log_in(client, "suburb", world.password)
    assert response.status_code == 302
    assert is_signed_in(client)
    login = AuditEvent.objects.get(action="accounts.login")
    assert login.actor == world.district_user
    assert login.ip == "127.0.0.1"

    client.post("/accounts/logout/")
    assert not is_signed_in(client)
    logout = AuditEvent.objects.get(action="accounts.logout")
    assert logout.actor == world.district_user and logout.ip == "127.0.0.1"


def test_it_audits_a_failed_login_with_the_username_tried_and_no_password(client, world):
    response = log_in(client, "suburb", "not-my-password")
    assert response.status_code == 200
    assert not is_signed_in(client)
    failed = AuditEvent.objects.get(action="accounts.login_failed")
    assert failed.actor is None
    assert failed.detail["username"] == "suburb"
    assert failed.ip == "127.0.0.1"
    assert "not-my-password" not in str(failed.detail)
    assert not AuditEvent.objects.filter(action="accounts.login").exists()


def test_it_locks_the_account_after_five_failed_logins(client, world):
    statuses = [log_in(client, "suburb", "wrong-password").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]
    sixth = log_in(client, "suburb", world.password)
    assert sixth.status_code == 429
    assert not is_signed_in(client)
    assert not AuditEvent.objects.filter(action="accounts.login").exists()
    # The lock is on the account, not the shared office address: a colleague still signs in.
    assert log_in(client, "city", world.password).status_code == 302


def test_it_resets_the_failure_count_after_a_successful_login(client, world):
    for _ in range(4):
        log_in(client, "suburb", "wrong-password")
    assert log_in(client, "suburb", world.password).status_code == 302
    client.post("/accounts/logout/")
    for _ in range(4):
        assert log_in(client, "suburb", "wrong-password").status_code == 200
    assert log_in(client, "suburb", world.password).status_code == 302


def test_it_configures_sessions_to_end_after_30_idle_minutes():
    assert settings.SESSION_COOKIE_AGE == 1800
    assert "gonghui.web.middleware.IdleSessionMiddleware" in settings.MIDDLEWARE
    assert "django.contrib.sessions.middleware.SessionMiddleware" not in settings.MIDDLEWARE


def test_it_ends_a_session_idle_for_more_than_30_minutes(client, world):
    start = timezone.now()

    def at(minutes):
        return mock.patch("django.utils.timezone.now", return_value=start + timedelta(minutes=minutes))

    with at(0):
        assert log_in(client, "suburb", world.password).status_code == 302
    key = client.session.session_key

    def expires():
        return Session.objects.get(session_key=key).expire_date

    assert abs(expires() - (start + timedelta(minutes=30))) < timedelta(seconds=5)

    # Each request pushes the end 30 minutes past it: 20 + 29 minutes in, still signed in.
    with at(20):
        assert client.get(DESK).status_code == 200
    assert abs(expires() - (start + timedelta(minutes=50))) < timedelta(seconds=5)
    with at(49):
        assert client.get(DESK).status_code == 200

    # A request within a minute of the last push does not write the session again (the row keeps
    # its expiry); one a minute or more after it pushes the expiry again.
    with at(49.5):
        assert client.get(DESK).status_code == 200
    assert abs(expires() - (start + timedelta(minutes=79))) < timedelta(seconds=5)
    with at(50.1):
        assert client.get(DESK).status_code == 200
    assert abs(expires() - (start + timedelta(minutes=80.1))) < timedelta(seconds=5)

    # 30.1 idle minutes after that last push the session is gone and the desk sends the user to sign in.
    with at(80.2):
        response = client.get(DESK)
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)
