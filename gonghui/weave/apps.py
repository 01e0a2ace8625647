from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WeaveConfig(AppConfig):
    name = "gonghui.weave"
    label = "weave"
    verbose_name = _("Weave (coverage)")
