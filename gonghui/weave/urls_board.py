"""The 揭榜 board under /weave/board/."""

from django.urls import path

from . import views_board

urlpatterns = [
    path("", views_board.board_list, name="weave_board"),
    path("<int:task_id>/", views_board.board_task, name="weave_board_task"),
    path("<int:task_id>/claim/", views_board.board_claim, name="weave_board_claim"),
    path("<int:task_id>/federation/", views_board.board_federation, name="weave_board_federation"),
    path("<int:task_id>/withdraw/", views_board.board_withdraw, name="weave_board_withdraw"),
]
