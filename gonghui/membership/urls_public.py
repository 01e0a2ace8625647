"""Public pages under /join/: the phone joining page, the outcome lookup and the member's page,
member-card verification; and, for staff, the unions' joining QR codes to print."""

from django.urls import path

from . import views_public as views

app_name = "join"

urlpatterns = [
    path("", views.join_start, name="start"),
    path("union/", views.join_union, name="union"),
    path("done/", views.join_done, name="done"),
    path("status/", views.join_lookup, name="lookup"),
    path("me/", views.member_page, name="me"),
    path("me/transfer/", views.member_transfer, name="transfer"),
    path("me/leave/", views.member_leave, name="leave"),
    path("me/honours/<int:honour_id>.pdf", views.member_certificate, name="certificate"),
    path("card/<str:token>/", views.card_verify, name="verify"),
    path("qr/", views.join_qr_list, name="qr_list"),
    path("qr/<str:code>.<str:fmt>", views.join_qr_image, name="qr_image"),
]
