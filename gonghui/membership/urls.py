"""Staff pages for membership under /members/ (queue, approval, memberships, transfers, counts)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.queue, name="members_queue"),
    path("approve-selected/", views.approve_selected, name="members_approve_selected"),
    path("all/", views.membership_list, name="members_list"),
    path("stats/", views.stats, name="members_stats"),
    path("transfers/", views.transfers, name="members_transfers"),
    path("transfers/<int:transfer_id>/confirm/", views.transfer_confirm, name="members_transfer_confirm"),
    path("transfers/<int:transfer_id>/refuse/", views.transfer_refuse, name="members_transfer_refuse"),
    path("transfers/<int:transfer_id>/cancel/", views.transfer_cancel, name="members_transfer_cancel"),
    path("<int:membership_id>/", views.detail, name="members_detail"),
    path("<int:membership_id>/approve/", views.approve, name="members_approve"),
    path("<int:membership_id>/reject/", views.reject, name="members_reject"),
    path("<int:membership_id>/lapse/", views.lapse, name="members_lapse"),
    path("<int:membership_id>/withdraw/", views.withdraw, name="members_withdraw"),
    path("<int:membership_id>/transfer/", views.transfer_request, name="members_transfer_request"),
]
