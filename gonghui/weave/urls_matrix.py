"""The coverage matrix under /weave/: the page, the people behind a number, the .xlsx export."""

from django.urls import path

from . import views_matrix

urlpatterns = [
    path("", views_matrix.matrix_page, name="weave_matrix"),
    path("people/", views_matrix.matrix_people_page, name="weave_matrix_people"),
    path("export.xlsx", views_matrix.matrix_export, name="weave_matrix_export"),
]
