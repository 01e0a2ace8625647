"""The judges' phone pages at the finals: their trades, the finalists of each, and one score sheet per finalist.

A judge is a staff user assigned to a trade (`TradeJudge`). Every page fetches through
`sheets.access_judging` / `sheets.access_judging_entry`, so a user sees the finalists of the trades
they judge and nothing else: another trade, a candidate who did not advance, or a user who judges
nothing gets 404. Finalists are shown by admission ticket (or team name), not by name.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from .models import Registration, Team
from .services import ContestError
from .sheets import (
    access_judging,
    access_judging_entry,
    judge_assignments,
    judging_entries,
    sheet_record,
    trade_criteria,
)


@login_required
@never_cache
@require_GET
def judging_home(request):
    return render(
        request,
        "competitions/teams/judging_home.html",
        {"assignments": judge_assignments(viewer=request.user)},
    )


@login_required
@never_cache
@require_GET
def judging_trade(request, trade_id: int):
    assignment = access_judging(request.user, trade_id)
    return render(
        request,
        "competitions/teams/judging_trade.html",
        {
            "assignment": assignment,
            "trade": assignment.trade,
            "entries": judging_entries(assignment=assignment),
        },
    )


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def judging_sheet(request, trade_id: int, entry_id: int):
    """One judge's sheet for one finalist: a number per criterion (or one score), saved as the judge's sheet."""
    assignment = access_judging(request.user, trade_id)
    entry = access_judging_entry(assignment, entry_id)
    trade = assignment.trade
    criteria = trade_criteria(trade)
    error = ""
    saved = entry.sheet.criteria if entry.sheet else {}
    values = {c.code: saved.get(c.code, "") for c in criteria}
    score = entry.sheet.score if entry.sheet and not criteria else ""
    if request.method == "POST":
        values = {c.code: request.POST.get(f"c_{c.code}", "").strip() for c in criteria}
        score = request.POST.get("score", "").strip()
        target = (
            {"team": Team.objects.get(pk=entry.entry_id)}
            if trade.contest.entry == "team"
            else {"registration": Registration.objects.get(pk=entry.entry_id)}
        )
        try:
            sheet_record(
                **target,
                judge=assignment.name,
                judge_user=request.user,
                criteria=values if criteria else None,
                score=None if criteria else _score(score),
                replace=True,
                actor=request.user,
                assignment=assignment,
            )
        except ContestError as exc:
            error = str(exc)
        else:
            return redirect("contest_judging_trade", trade_id=trade.pk)
    return render(
        request,
        "competitions/teams/judging_sheet.html",
        {
            "assignment": assignment,
            "trade": trade,
            "entry": entry,
            "rows": [(c, values.get(c.code, "")) for c in criteria],
            "score": score,
            "error": error,
        },
        status=400 if error else 200,
    )


def _score(text: str):
    from decimal import Decimal, InvalidOperation

    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        raise ContestError(f"评分 {text!r} 不是数字") from None
    if not value.is_finite():
        raise ContestError(f"评分 {text!r} 不是数字")
    return value
