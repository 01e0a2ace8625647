from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "gonghui.analytics"
    verbose_name = _("Page views")
    default_auto_field = "django.db.models.BigAutoField"
