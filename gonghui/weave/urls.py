"""Weave pages under /weave/: each part of the weave keeps its own URL list (matrix, runs, board, outreach)."""

from django.urls import include, path

urlpatterns = [
    path("", include("gonghui.weave.urls_matrix")),
    path("runs/", include("gonghui.weave.urls_runs")),
    path("board/", include("gonghui.weave.urls_board")),
    path("outreach/", include("gonghui.weave.urls_outreach")),
]
