"""The register of honours under /honours/: staff list and certificates, the public certificate check."""

from django.urls import path

from . import views

app_name = "honours"

urlpatterns = [
    path("", views.honour_register, name="register"),
    path("<int:honour_id>/certificate.pdf", views.honour_certificate, name="certificate"),
    path("<int:honour_id>/revoke/", views.honour_revoke_view, name="revoke"),
    path("verify/<str:token>/", views.honour_verify, name="verify"),
    path("contest/<slug:code>/grant/", views.contest_grant, name="contest_grant"),
]
