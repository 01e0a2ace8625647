"""Receivers that write the sign-in audit trail; connected in `AccountsConfig.ready()`.

They only hand over to `accounts.services`: the signals are where Django announces sign-ins.
"""

from __future__ import annotations

from . import services


def on_logged_in(sender, request, user, **kwargs) -> None:
    services.login_record(user=user, request=request)


def on_login_failed(sender, credentials, request=None, **kwargs) -> None:
    # `credentials` has the password already scrubbed by Django; only the username is kept.
    services.login_failed_record(username=(credentials or {}).get("username"), request=request)


def on_logged_out(sender, request, user, **kwargs) -> None:
    services.logout_record(user=user, request=request)
