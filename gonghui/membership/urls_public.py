"""Public pages under /join/: the phone joining page, the outcome lookup, member-card verification."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
