"""A contest's public page with its statistics and charts, and the staff statistics with the xlsx export.

The public page (anyone) shows aggregate figures only and counts its own views (`analytics`, bots
left out). The staff page and the export take the contest through `selectors.access_contest`:
staff of the organising union and its ancestors; anyone else gets 404.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from gonghui.analytics.services import view_count
from gonghui.audit.services import audit_record

from . import selectors
from .models import Contest
from .stats import contest_figures, figures_xlsx, page_key

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@require_GET
def contest_page(request, code: str):
    """A contest's public page: dates, trades, and its statistics by trade and region, with charts."""
    contest = Contest.objects.select_related("organiser__region").filter(code=code).first()
    if contest is None:
        raise Http404
    view_count(request, page_key(contest, "page"))
    figures = contest_figures(contest)
    return render(
        request,
        "competitions/contest.html",
        {
            "contest": contest,
            "trades": contest.trades.order_by("sort", "code"),
            "figures": figures,
            "chart_data": figures.chart_data(),
            "staff": False,
        },
    )


@login_required
@never_cache
@require_GET
def contest_statistics(request, code: str):
    """Staff: the same figures with the page views by day and the export (organiser's staff only, else 404)."""
    contest = selectors.access_contest(request.user, code)
    figures = contest_figures(contest)
    return render(
        request,
        "competitions/statistics.html",
        {"contest": contest, "figures": figures, "chart_data": figures.chart_data(), "staff": True},
    )


@login_required
@require_GET
def contest_statistics_xlsx(request, code: str):
    contest = selectors.access_contest(request.user, code)
    body = figures_xlsx(contest, contest_figures(contest))
    audit_record(actor=request.user, action="contest.statistics_export", target=contest)
    response = HttpResponse(body, content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{contest.code}-statistics.xlsx"'
    return response
