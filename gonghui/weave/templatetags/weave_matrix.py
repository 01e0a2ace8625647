"""Template filters of the coverage matrix pages."""

from django import template
from django.utils.formats import number_format

register = template.Library()


@register.filter
def pct(rate):
    """A coverage rate (0..1, or None when nobody was counted) as a percentage with one decimal."""
    if rate is None:
        return "—"
    return f"{number_format(100 * rate, 1)}%"
