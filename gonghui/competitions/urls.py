"""Contest pages under /contests/: the public list and the candidates' online preliminary."""

from django.urls import include, path

from . import views, views_staff, views_stats

urlpatterns = [
    path("", views.contests_index, name="contests_index"),
    # Teams, trade pages with technical documents, judging: before any "<code>/" pattern.
    path("", include("gonghui.competitions.urls_teams")),
    path("<slug:code>/register/", views.contest_register, name="contest_register"),
    path("<slug:code>/progress/", views.contest_progress_page, name="contest_progress"),
    path("<slug:code>/<slug:trade_code>/bank/", views.contest_bank, name="contest_bank"),
    path("exam/", views.candidate_login, name="contest_candidate_login"),
    path("exam/logout/", views.candidate_logout, name="contest_candidate_logout"),
    path("exam/home/", views.candidate_home, name="contest_candidate_home"),
    path("exam/<int:registration_id>/start/", views.exam_start, name="contest_exam_start"),
    path("exam/<int:registration_id>/", views.exam_paper, name="contest_exam_paper"),
    path("exam/<int:registration_id>/save/", views.exam_save, name="contest_exam_save"),
    path("exam/<int:registration_id>/state.json", views.exam_state, name="contest_exam_state"),
    path("exam/<int:registration_id>/submit/", views.exam_submit, name="contest_exam_submit"),
    path("exam/<int:registration_id>/result/", views.exam_result, name="contest_exam_result"),
    path("exam/<int:registration_id>/practice/", views.practice_begin, name="contest_practice_begin"),
    path(
        "exam/<int:registration_id>/practice/<int:session_id>/", views.practice_page, name="contest_practice"
    ),
    path(
        "exam/<int:registration_id>/practice/<int:session_id>/check/<int:position>/",
        views.practice_check_answer,
        name="contest_practice_check",
    ),
    # Last: "<code>/" would otherwise take "exam/".
    path("<slug:code>/", views_stats.contest_page, name="contest_page"),
    path("<slug:code>/statistics/", views_stats.contest_statistics, name="contest_statistics"),
    path("<slug:code>/statistics.xlsx", views_stats.contest_statistics_xlsx, name="contest_statistics_xlsx"),
    path("<slug:code>/staff/<slug:trade_code>/bank/", views_staff.bank_page, name="contest_staff_bank"),
    path(
        "<slug:code>/staff/<slug:trade_code>/bank/<int:number>/",
        views_staff.question_edit,
        name="contest_staff_question",
    ),
    path(
        "<slug:code>/staff/<slug:trade_code>/bank/<int:number>/retire/",
        views_staff.question_retire_view,
        name="contest_staff_question_retire",
    ),
    path(
        "<slug:code>/staff/<slug:trade_code>/bank/export/<str:fmt>/",
        views_staff.bank_download,
        name="contest_staff_bank_download",
    ),
    path(
        "<slug:code>/staff/<slug:trade_code>/blueprint/",
        views_staff.blueprint_page,
        name="contest_staff_blueprint",
    ),
    path("<slug:code>/staff/<slug:trade_code>/judges/", views_staff.judges_page, name="contest_staff_judges"),
    path(
        "<slug:code>/staff/<slug:trade_code>/judges/<int:judge_id>/remove/",
        views_staff.judge_remove,
        name="contest_staff_judge_remove",
    ),
]
