from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "gonghui.accounts"
    label = "accounts"
    verbose_name = _("Accounts and roles")

    def ready(self) -> None:
        from django.contrib.auth import signals as auth_signals

        from . import signals

        auth_signals.user_logged_in.connect(signals.on_logged_in, dispatch_uid="gonghui.accounts.login")
        auth_signals.user_login_failed.connect(
            signals.on_login_failed, dispatch_uid="gonghui.accounts.login_failed"
        )
        auth_signals.user_logged_out.connect(signals.on_logged_out, dispatch_uid="gonghui.accounts.logout")
