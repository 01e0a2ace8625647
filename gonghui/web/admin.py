from django.contrib import admin
from django.utils.translation import gettext_lazy as _

admin.site.site_header = _("gonghui administration")
admin.site.site_title = _("gonghui admin")
admin.site.index_title = _("Reference data")
