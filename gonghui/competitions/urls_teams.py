"""Team registration, trade pages with technical documents, and the judges' pages (included by `urls`)."""

from django.urls import path

from . import views_judging, views_teams

urlpatterns = [
    path("judging/", views_judging.judging_home, name="contest_judging"),
    path("judging/<int:trade_id>/", views_judging.judging_trade, name="contest_judging_trade"),
    path("judging/<int:trade_id>/<int:entry_id>/", views_judging.judging_sheet, name="contest_judging_sheet"),
    path("<slug:code>/register/team/", views_teams.team_register_page, name="contest_register_team"),
    path("<slug:code>/trades/<slug:trade_code>/", views_teams.trade_page, name="contest_trade"),
    path(
        "<slug:code>/trades/<slug:trade_code>/documents/<int:document_id>/",
        views_teams.document_download,
        name="contest_document",
    ),
    path(
        "<slug:code>/trades/<slug:trade_code>/documents/manage/",
        views_teams.documents_manage,
        name="contest_documents_manage",
    ),
    path(
        "<slug:code>/trades/<slug:trade_code>/documents/manage/<int:document_id>/",
        views_teams.document_staff_download,
        name="contest_document_staff",
    ),
    path(
        "<slug:code>/trades/<slug:trade_code>/documents/manage/<int:document_id>/publish/",
        views_teams.document_publish_view,
        name="contest_document_publish",
    ),
]
