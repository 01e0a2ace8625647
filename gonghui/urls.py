from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("gonghui.api.urls")),
    path("accounts/", include("gonghui.accounts.urls")),
    path("", include("gonghui.web.urls")),
]
