"""Template helpers for the web pages."""

from __future__ import annotations

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def viewer_roles(context):
    """The signed-in user's roles with their orgs, for the header (one query, once per request)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return []
    cached = getattr(request, "_gonghui_roles", None)
    if cached is None:
        cached = list(user.roles.select_related("org").order_by("org__path"))
        request._gonghui_roles = cached
    return cached
