"""Staff pages for membership under /members/ (queue, approval, transfers)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
