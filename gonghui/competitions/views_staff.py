"""Staff pages for a trade's question bank, blueprint and judges, under /contests/<code>/staff/<trade>/.

Only staff of the contest's organising union and of the unions above it reach these pages: the
contest comes through `selectors.access_trade`, which answers 404 to anyone else (the same as a
contest that does not exist). Every write is a service: `bank.bank_import` (all or nothing),
`questions.question_update` / `question_retire`, `services.blueprint_set`, `sheets.judge_assign` /
`sheets.judge_unassign`.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gonghui.audit.services import audit_record

from . import selectors, sheets
from .bank import FORMATS, BankError, bank_export, bank_import, parse_difficulty
from .models import (
    OPTION_LETTERS,
    Blueprint,
    Difficulty,
    Paper,
    Question,
    QuestionType,
)
from .questions import (
    answer_text,
    option_rows,
    question_on_papers,
    question_retire,
    question_search,
    question_update,
)
from .services import ContestError, RowSpec, blueprint_set

PER_PAGE = 20
BLANK_ROWS = 3
EXPORT = {
    "xlsx": ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "moodle-xml": ("xml", "application/xml; charset=utf-8"),
    "gift": ("gift.txt", "text/plain; charset=utf-8"),
}


def _cells(trade) -> list[dict]:
    """The bank's cells (type, knowledge area, difficulty) with their question counts: one GROUP BY query."""
    cells = list(
        Question.objects.filter(trade=trade)
        .values("qtype", "knowledge_area", "difficulty")
        .annotate(n=Count("id"))
        .order_by("knowledge_area", "qtype", "difficulty")
    )
    for cell in cells:
        cell["qtype_label"] = QuestionType(cell["qtype"]).label
        cell["difficulty_label"] = Difficulty(cell["difficulty"]).label
    return cells


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def bank_page(request, code: str, trade_code: str):
    """Browse and search the bank; upload a file (xlsx, Moodle XML, GIFT) into it, all or nothing."""
    trade = selectors.access_trade(request.user, code, trade_code)
    errors, report = [], None
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            errors = [_("Choose a file to upload.")]
        else:
            fmt = request.POST.get("format") or None
            try:
                report = bank_import(
                    trade=trade,
                    source=upload.read(),
                    file_name=upload.name,
                    fmt=fmt if fmt in FORMATS else None,
                    actor=request.user,
                )
            except BankError as exc:
                errors = [str(exc)]
            else:
                if report.errors:
                    errors = [str(report), *(str(e) for e in report.errors)]
                else:
                    messages.success(request, str(report))
                    return redirect("contest_staff_bank", code=code, trade_code=trade_code)
    filters = {
        "qtype": request.GET.get("qtype", "") if request.GET.get("qtype") in QuestionType.values else "",
        "area": request.GET.get("area", "").strip(),
        "difficulty": parse_difficulty(request.GET.get("difficulty", "")) or None,
        "q": request.GET.get("q", "")[:100],
    }
    page = Paginator(question_search(trade=trade, **filters), PER_PAGE).get_page(request.GET.get("page"))
    for question in page:
        question.lettered = list(zip(OPTION_LETTERS, question.options, strict=False))
        question.key_text = answer_text(question)
    cells = _cells(trade)
    return render(
        request,
        "competitions/staff/bank.html",
        {
            "trade": trade,
            "contest": trade.contest,
            "page": page,
            "filters": filters,
            "areas": sorted({c["knowledge_area"] for c in cells}),
            "qtypes": QuestionType.choices,
            "difficulties": Difficulty.choices,
            "formats": FORMATS,
            "errors": errors,
            "papers": Paper.objects.filter(trade=trade).count(),
        },
        status=400 if errors else 200,
    )


def _question(trade, number: int) -> Question:
    question = Question.objects.filter(trade=trade, number=number).first()
    if question is None:
        raise Http404
    return question


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def question_edit(request, code: str, trade_code: str, number: int):
    trade = selectors.access_trade(request.user, code, trade_code)
    question = _question(trade, number)
    error = ""
    values = {
        "stem": question.stem,
        "options": option_rows(question),
        "answer": answer_text(question),
        "knowledge_area": question.knowledge_area,
        "difficulty": question.difficulty,
        "explanation": question.explanation,
    }
    if request.method == "POST":
        options = [request.POST.get(f"option_{letter}", "") for letter in OPTION_LETTERS]
        values = {
            "stem": request.POST.get("stem", ""),
            "options": list(zip(OPTION_LETTERS, options, strict=True)),
            "answer": request.POST.get("answer", ""),
            "knowledge_area": request.POST.get("knowledge_area", ""),
            "difficulty": parse_difficulty(request.POST.get("difficulty", "")),
            "explanation": request.POST.get("explanation", ""),
        }
        try:
            question_update(
                question=question,
                stem=values["stem"],
                options=options,
                answer=values["answer"],
                knowledge_area=values["knowledge_area"],
                difficulty=values["difficulty"],
                explanation=values["explanation"],
                actor=request.user,
            )
        except ContestError as exc:
            error = str(exc)
        else:
            messages.success(request, _("Question %(number)s saved.") % {"number": question.number})
            return redirect("contest_staff_bank", code=code, trade_code=trade_code)
    return render(
        request,
        "competitions/staff/question.html",
        {
            "trade": trade,
            "contest": trade.contest,
            "question": question,
            "values": values,
            "error": error,
            "drawn": question_on_papers(question),
            "choice": question.qtype in (QuestionType.SINGLE, QuestionType.MULTIPLE),
            "difficulties": Difficulty.choices,
        },
        status=400 if error else 200,
    )


@login_required
@require_POST
def question_retire_view(request, code: str, trade_code: str, number: int):
    trade = selectors.access_trade(request.user, code, trade_code)
    question = _question(trade, number)
    try:
        question_retire(question=question, actor=request.user)
    except ContestError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Question %(number)s retired.") % {"number": number})
    return redirect("contest_staff_bank", code=code, trade_code=trade_code)


@login_required
@require_GET
def bank_download(request, code: str, trade_code: str, fmt: str):
    trade = selectors.access_trade(request.user, code, trade_code)
    if fmt not in EXPORT:
        raise Http404
    try:
        body = bank_export(trade=trade, fmt=fmt)
    except BankError as exc:
        messages.error(request, str(exc))
        return redirect("contest_staff_bank", code=code, trade_code=trade_code)
    audit_record(actor=request.user, action="contest.bank_export", target=trade, detail={"format": fmt})
    suffix, content_type = EXPORT[fmt]
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{trade.contest.code}-{trade.code}.{suffix}"'
    return response


def rows_from_form(post) -> list[RowSpec]:
    """The blueprint rows typed in the form, in order; a blank row is skipped, a half-filled one refused.

    Errors are ContestError in Chinese naming the row as the service does (组卷方案第 N 行).
    """
    rows: list[RowSpec] = []
    for i in range(int(post.get("row_count", "0") or 0) if str(post.get("row_count", "")).isdigit() else 0):
        cell = {
            k: (post.get(f"{k}_{i}") or "").strip()
            for k in ("qtype", "area", "difficulty", "count", "points")
        }
        if not any(cell.values()):
            continue
        where = f"组卷方案第 {len(rows) + 1} 行"
        if not all(cell.values()):
            raise ContestError(f"{where}：请填写题型、知识点、难度、题数和每题分值")
        difficulty = parse_difficulty(cell["difficulty"])
        if difficulty is None:
            raise ContestError(f"{where}：难度应为 易/中/难")
        if not cell["count"].isdigit():
            raise ContestError(f"{where}：题数应为正整数")
        try:
            points = Decimal(cell["points"])
        except InvalidOperation:
            raise ContestError(f"{where}：每题分值应为数字") from None
        rows.append(
            RowSpec(
                qtype=cell["qtype"],
                knowledge_area=cell["area"],
                difficulty=difficulty,
                count=int(cell["count"]),
                points=points,
            )
        )
    return rows


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def blueprint_page(request, code: str, trade_code: str):
    """Set the blueprint by a form; the service checks each row against the bank and refuses once papers exist."""
    trade = selectors.access_trade(request.user, code, trade_code)
    blueprint = Blueprint.objects.filter(trade=trade).first()
    rows = [
        {
            "qtype": r.qtype,
            "area": r.knowledge_area,
            "difficulty": r.difficulty,
            "count": r.count,
            "points": r.points,
        }
        for r in (blueprint.rows.all() if blueprint else [])
    ]
    time_limit = blueprint.time_limit_minutes if blueprint else ""
    avoid = blueprint.avoid_practised if blueprint else False
    error = ""
    if request.method == "POST":
        count = int(request.POST["row_count"]) if request.POST.get("row_count", "").isdigit() else 0
        rows = [
            {k: request.POST.get(f"{k}_{i}", "") for k in ("qtype", "area", "difficulty", "count", "points")}
            for i in range(count)
        ]
        time_limit = request.POST.get("time_limit", "").strip()
        avoid = request.POST.get("avoid_practised") == "on"
        try:
            if not time_limit.isdigit():
                raise ContestError("考试时长应为正整数（分钟）")
            blueprint_set(
                trade=trade,
                rows=rows_from_form(request.POST),
                time_limit_minutes=int(time_limit),
                avoid_practised=avoid,
                actor=request.user,
            )
        except ContestError as exc:
            error = str(exc)
        else:
            messages.success(request, _("Blueprint saved."))
            return redirect("contest_staff_blueprint", code=code, trade_code=trade_code)
        rows = [r for r in rows if any(str(v).strip() for v in r.values())]
    for row in rows:
        row["difficulty"] = parse_difficulty(str(row["difficulty"])) or ""
    rows += [{"qtype": "", "area": "", "difficulty": "", "count": "", "points": ""}] * BLANK_ROWS
    papers = Paper.objects.filter(trade=trade).count()
    return render(
        request,
        "competitions/staff/blueprint.html",
        {
            "trade": trade,
            "contest": trade.contest,
            "rows": rows,
            "row_count": len(rows),
            "time_limit": time_limit,
            "avoid_practised": avoid,
            "error": error,
            "cells": _cells(trade),
            "papers": papers,
            "qtypes": QuestionType.choices,
            "difficulties": Difficulty.choices,
        },
        status=400 if error else 200,
    )


def _judges_context(request, trade, **extra) -> dict:
    return {
        "trade": trade,
        "contest": trade.contest,
        "judges": sheets.trade_judge_list(viewer=request.user, trade=trade),
        "candidates": sheets.judge_candidate_list(viewer=request.user, trade=trade),
        **extra,
    }


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def judges_page(request, code: str, trade_code: str):
    """The trade's judges and their sheets; assign a staff account of the organising union's tree."""
    trade = selectors.access_trade(request.user, code, trade_code)
    error, values = "", {"user": "", "name": ""}
    if request.method == "POST":
        values = {"user": request.POST.get("user", "").strip(), "name": request.POST.get("name", "").strip()}
        chosen = values["user"]
        account = (
            get_user_model().objects.filter(pk=int(chosen), is_active=True).first()
            if chosen.isascii() and chosen.isdigit() and len(chosen) <= 9
            else None
        )
        if account is None:
            error = "评委账号：请从列表中选择主办工会或其下级工会的工作人员"
        else:
            try:
                assignment = sheets.judge_assign(
                    trade=trade,
                    user=account,
                    name=values["name"],
                    actor=request.user,
                    organiser_staff_only=True,
                )
            except ContestError as exc:
                error = str(exc)
            else:
                messages.success(request, _("%(name)s now judges this trade.") % {"name": assignment.name})
                return redirect("contest_staff_judges", code=code, trade_code=trade_code)
    return render(
        request,
        "competitions/staff/judges.html",
        _judges_context(request, trade, error=error, values=values),
        status=400 if error else 200,
    )


@login_required
@require_POST
def judge_remove(request, code: str, trade_code: str, judge_id: int):
    trade = selectors.access_trade(request.user, code, trade_code)
    assignment = sheets.access_trade_judge(request.user, trade, judge_id)
    try:
        sheets.judge_unassign(assignment=assignment, actor=request.user)
    except ContestError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("%(name)s no longer judges this trade.") % {"name": assignment.name})
    return redirect("contest_staff_judges", code=code, trade_code=trade_code)
