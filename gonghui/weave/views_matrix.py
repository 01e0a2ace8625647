"""The coverage matrix pages under /weave/: the heat table and charts, the people behind a number, the export.

Thin: parse the request, call `weave.matrix` (which scopes everything to the viewer), render.
A region or group outside the viewer's subtree, or unknown, answers 404.
"""

from __future__ import annotations

from io import BytesIO
from math import ceil
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from .matrix import (
    NO_GROUP,
    Counts,
    Matrix,
    access_matrix_region,
    coverage_matrix,
    matrix_breadcrumbs,
    matrix_group,
    matrix_people,
    member_trend,
)

VIEWS = ("heat", "group", "region")
SHADES = ("rate", "holes")
PEOPLE_PER_PAGE = 50
SHADE_STEPS = 5
# The export's header row, in Chinese whatever the page's language (the sheet goes to union offices).
EXPORT_HEADER = [
    "地区代码",
    "地区",
    "群体代码",
    "群体",
    "摸底人数",
    "会员",
    "覆盖率",
    "有工会覆盖",
    "无工会覆盖",
    "多重覆盖",
]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _choice(value: str | None, allowed: tuple[str, ...]) -> str:
    return value if value in allowed else allowed[0]


def _matrix_for(request) -> Matrix:
    region = access_matrix_region(request.user, request.GET.get("region"))
    group_key, group = matrix_group(request.GET.get("group"))
    return coverage_matrix(viewer=request.user, region=region, group_key=group_key, group=group)


def _people_url(matrix: Matrix, *, row_key: str | None, column_key: str, kind: str) -> str:
    """The drill-down address of one number: a child region (or the region itself) × a group."""
    params = {"region": row_key or matrix.region.code, "kind": kind}
    if row_key == "":
        params["here"] = "1"
    if column_key:
        params["group"] = column_key
    return f"{_people_base()}?{urlencode(params)}"


def _people_base() -> str:
    return reverse("weave_matrix_people")


def _shade(counts: Counts, mode: str, max_holes: int) -> str:
    if not counts.people:
        return "heat-none"
    if mode == "holes":
        step = 0 if not counts.holes else max(1, ceil(SHADE_STEPS * counts.holes / max(max_holes, 1)))
        return f"heat-h{step}"
    return f"heat-r{min(SHADE_STEPS, int(counts.rate * SHADE_STEPS))}"


def _percent_text(rate: float | None) -> str:
    return "—" if rate is None else f"{100 * rate:.1f}%"


def _heat_cell(counts: Counts, mode: str, max_holes: int, url: str, title: str) -> dict:
    """What one cell of the heat table shows, as text (a table of a few hundred cells renders fast)."""
    return {
        "people": counts.people,
        "shade": _shade(counts, mode, max_holes),
        "url": url,
        "text": str(counts.holes) if mode == "holes" else _percent_text(counts.rate),
        "sub": f"{counts.members}/{counts.people}",
        "title": title
        % {
            "members": counts.members,
            "people": counts.people,
            "holes": counts.holes,
            "overlaps": counts.overlaps,
        },
    }


def _heat(matrix: Matrix, mode: str) -> list[dict]:
    max_holes = max((c.holes for c in matrix.cells.values()), default=0)
    base = _people_base()
    title = _("%(members)s members of %(people)s; %(holes)s holes; %(overlaps)s overlaps")
    region_code = matrix.region.code

    def url(row_key: str, column_key: str) -> str:
        params = {"region": row_key or region_code, "kind": "all"}
        if row_key == "":
            params["here"] = "1"
        if column_key:
            params["group"] = column_key
        return f"{base}?{urlencode(params)}"

    rows = []
    for (row_key, label), total in zip(matrix.rows, matrix.by_region, strict=True):
        cells = [
            _heat_cell(matrix.cell(row_key, column_key), mode, max_holes, url(row_key, column_key), title)
            for column_key, _label in matrix.columns
        ]
        rows.append(
            {
                "key": row_key,
                "label": label,
                "cells": cells,
                "total": _heat_cell(total.counts, mode, max_holes, url(row_key, matrix.group_key), title),
                "is_child": bool(row_key) and row_key != region_code,
            }
        )
    return rows


def _table_rows(matrix: Matrix, by: str) -> list[dict]:
    """The by-group or by-region rows with the drill-down address of each number."""
    out = []
    for row in matrix.by_group if by == "group" else matrix.by_region:
        if by == "group":
            urls = {
                k: _people_url(matrix, row_key=matrix.region.code, column_key=row.key, kind=k) for k in _KINDS
            }
            link = None
        else:
            urls = {
                k: _people_url(matrix, row_key=row.key, column_key=matrix.group_key, kind=k) for k in _KINDS
            }
            link = row.key if row.key and row.key != matrix.region.code else None
        out.append(
            {"key": row.key, "label": row.label, "counts": row.counts, "urls": urls, "region_link": link}
        )
    return out


_KINDS = ("all", "members", "covered", "holes", "overlaps")


def _percent(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 1)


def _chart_data(matrix: Matrix, heat: list[dict], mode: str, trend) -> dict:
    data = []
    for y, row in enumerate(heat):
        for x, (column_key, _label) in enumerate(matrix.columns):
            counts = matrix.cell(row["key"], column_key)
            if counts.people:
                value = counts.holes if mode == "holes" else _percent(counts.rate)
                data.append([x, y, value])
    return {
        "heat": {
            "x": [label for _key, label in matrix.columns],
            "y": [row["label"] for row in heat],
            "data": data,
            "mode": mode,
            "max": max((d[2] for d in data), default=0) if mode == "holes" else 100,
        },
        "by_group": {
            "labels": [r.label for r in matrix.by_group],
            "rate": [_percent(r.counts.rate) or 0 for r in matrix.by_group],
            "holes": [r.counts.holes for r in matrix.by_group],
        },
        "by_region": {
            "labels": [r.label for r in matrix.by_region],
            "rate": [_percent(r.counts.rate) or 0 for r in matrix.by_region],
            "holes": [r.counts.holes for r in matrix.by_region],
        },
        "trend": {
            "weeks": [w.isoformat() for w in trend.weeks],
            "members": trend.members,
            "target": trend.should_join,
            "projection": [[d.isoformat(), n] for d, n in trend.projection],
        },
    }


@login_required
def matrix_page(request):
    """The coverage matrix of a region: totals, the heat table or one table by group / by region, charts, trend."""
    matrix = _matrix_for(request)
    by = _choice(request.GET.get("by"), VIEWS)
    shade = _choice(request.GET.get("shade"), SHADES)
    trend = member_trend(viewer=request.user, matrix=matrix)
    heat = _heat(matrix, shade)
    base = {"region": matrix.region.code}
    if matrix.group_key:
        base["group"] = matrix.group_key
    return render(
        request,
        "weave/matrix.html",
        {
            "matrix": matrix,
            "by": by,
            "shade": shade,
            "heat": heat,
            "table": _table_rows(matrix, by) if by != "heat" else [],
            "trend": trend,
            "crumbs": matrix_breadcrumbs(request.user, matrix.region),
            "chart_data": _chart_data(matrix, heat, shade, trend),
            "query": urlencode(base),
            "query_by": urlencode({**base, "by": by}),
            "query_view": urlencode({**base, "by": by, "shade": shade}),
            "group_choices": matrix.group_choices,
            "totals_urls": {
                k: _people_url(matrix, row_key=matrix.region.code, column_key=matrix.group_key, kind=k)
                for k in _KINDS
            },
            "no_group": NO_GROUP,
        },
    )


@login_required
def matrix_people_page(request):
    """The people behind one number of the matrix (masked, scoped), a page at a time."""
    region = access_matrix_region(request.user, request.GET.get("region"))
    group_key, group = matrix_group(request.GET.get("group"))
    kind = request.GET.get("kind", "all")
    here = request.GET.get("here") == "1"
    people = matrix_people(
        viewer=request.user,
        region=region,
        group_key=group_key,
        group=group,
        kind=kind,
        row_key="" if here else None,
    )
    matrix = coverage_matrix(viewer=request.user, region=region, group_key=group_key, group=group)
    counts = next((r.counts for r in matrix.by_region if r.key == ""), Counts()) if here else matrix.totals
    try:
        number = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        number = 1
    # No COUNT(*) over a city's people: one row more than a page says whether there is a next one.
    start = (number - 1) * PEOPLE_PER_PAGE
    rows = list(people[start : start + PEOPLE_PER_PAGE + 1])
    has_next = len(rows) > PEOPLE_PER_PAGE
    base = {"region": region.code, "kind": kind}
    if group_key:
        base["group"] = group_key
    if here:
        base["here"] = "1"
    tabs = []
    for k in _KINDS:
        tab_query = {**base, "kind": k}
        tabs.append({"kind": k, "count": _kind_count(counts, k), "query": urlencode(tab_query)})
    return render(
        request,
        "weave/matrix_people.html",
        {
            "region": region,
            "group": group,
            "group_key": group_key,
            "no_group": NO_GROUP,
            "kind": kind,
            "here": here,
            "people": rows[:PEOPLE_PER_PAGE],
            "number": number,
            "has_next": has_next,
            "next_query": urlencode({**base, "page": number + 1}),
            "prev_query": urlencode({**base, "page": number - 1}),
            "tabs": tabs,
            "counts": counts,
            "crumbs": matrix_breadcrumbs(request.user, region),
            "back_query": urlencode({"region": region.code, **({"group": group_key} if group_key else {})}),
        },
    )


def _kind_count(counts: Counts, kind: str) -> int:
    return counts.people if kind == "all" else getattr(counts, kind)


def _rate_cell(counts: Counts) -> float | None:
    return None if counts.rate is None else round(counts.rate, 4)


@login_required
def matrix_export(request):
    """The current view of the matrix as .xlsx: a header row in Chinese, one row per group or region."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    matrix = _matrix_for(request)
    by = _choice(request.GET.get("by"), VIEWS)
    book = Workbook()
    sheet = book.active
    sheet.title = "覆盖矩阵"
    sheet.append(EXPORT_HEADER)
    region_code, region_name = matrix.region.code, matrix.region.name
    group_code = matrix.group_key
    group_name = dict(matrix.columns).get(group_code, "全部群体") if group_code else "全部群体"
    lines: list[tuple[str, str, str, str, Counts]] = []
    if by == "group":
        lines = [(region_code, region_name, r.key, r.label, r.counts) for r in matrix.by_group]
    elif by == "region":
        lines = [(r.key, r.label, group_code, group_name, r.counts) for r in matrix.by_region]
    else:
        for row_key, row_label in matrix.rows:
            for column_key, column_label in matrix.columns:
                counts = matrix.cell(row_key, column_key)
                if counts.people:
                    lines.append((row_key, row_label, column_key, column_label, counts))
    lines.append((region_code, f"{region_name}（合计）", group_code, group_name, matrix.totals))
    for code, name, g_code, g_name, c in lines:
        sheet.append(
            [code, name, g_code, g_name, c.people, c.members, _rate_cell(c), c.covered, c.holes, c.overlaps]
        )
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in sheet.iter_rows(min_row=2, min_col=7, max_col=7):
        for cell in row:
            cell.number_format = "0.0%"
    sheet.freeze_panes = "A2"
    for column, width in zip("ABCDEFGHIJ", (14, 24, 16, 14, 10, 10, 10, 12, 12, 10), strict=True):
        sheet.column_dimensions[column].width = width
    buffer = BytesIO()
    book.save(buffer)
    stamp = timezone.localdate().strftime("%Y%m%d")
    response = HttpResponse(buffer.getvalue(), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="coverage-{region_code}-{by}-{stamp}.xlsx"'
    return response
