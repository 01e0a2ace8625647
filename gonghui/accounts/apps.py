from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "gonghui.accounts"
    label = "accounts"

    def ready(self) -> None:
        from django.contrib.auth import signals as auth_signals

        from . import signals

        auth_signals.user_logged_in.connect(signals.on_logged_in, dispatch_uid="gonghui.accounts.login")
        auth_signals.user_login_failed.connect(
            signals.on_login_failed, dispatch_uid="gonghui.accounts.login_failed"
        )
        auth_signals.user_logged_out.connect(signals.on_logged_out, dispatch_uid="gonghui.accounts.logout")
