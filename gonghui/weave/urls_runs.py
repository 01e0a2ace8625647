from django.urls import path

from . import views_runs

urlpatterns = [
    path("", views_runs.runs, name="weave_runs"),
    path("start/", views_runs.run_start, name="weave_run_start"),
    path("<int:run_id>/", views_runs.run_detail, name="weave_run"),
    path("<int:run_id>/progress/", views_runs.run_progress, name="weave_run_progress"),
    path("people/<int:person_id>/", views_runs.person_coverage, name="weave_person_coverage"),
]
