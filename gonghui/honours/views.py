"""Pages of the register of honours: the staff list (filters, xlsx), certificates, the public check,
and the staff action that grants a finished contest's awards."""

from __future__ import annotations

import io

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from gonghui.orgs.models import Org

from . import selectors
from .certificates import certificate_check, certificate_pdf, verify_url
from .models import Honour, HonourKind
from .services import honour_revoke

PER_PAGE = 50


def _filters(request) -> dict:
    kind = request.GET.get("kind", "")
    year = request.GET.get("year", "")
    return {
        "kind": kind if kind in HonourKind.values else "",
        "year": int(year) if year.isdigit() else None,
        "union": request.GET.get("union", "").strip(),
    }


def _unions(viewer):
    """The conferring unions in the viewer's subtree that have honours (for the filter)."""
    ids = selectors.honour_list(viewer=viewer).values("conferred_by_id")
    return Org.objects.filter(pk__in=ids).order_by("path")


@login_required
@require_GET
def honour_register(request):
    """Staff: the register in the viewer's subtree, filtered by kind, year and union; `?format=xlsx` exports it."""
    filters = _filters(request)
    unions = list(_unions(request.user))
    union = next((u for u in unions if u.code == filters["union"]), None)
    rows = selectors.honour_list(viewer=request.user, kind=filters["kind"], year=filters["year"], union=union)
    if request.GET.get("format") == "xlsx":
        response = HttpResponse(
            register_xlsx(rows),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = 'attachment; filename="honours.xlsx"'
        return response
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "honours/register.html",
        {
            "page": page,
            "filters": filters,
            "kinds": HonourKind.choices,
            "years": selectors.honour_years(viewer=request.user),
            "unions": unions,
            "query": query.urlencode(),
        },
    )


EXPORT_COLUMNS = [
    "证书编号", "获得者", "类别", "荣誉名称", "级别", "授予单位", "联合授予", "来源", "授予日期",
    "金额（元，税前）", "政策文件", "政策生效日期", "状态", "撤销原因",
]  # fmt: skip


def register_xlsx(rows) -> bytes:
    """The register rows as one xlsx sheet (full names: staff only, as on the list page's certificates)."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "荣誉登记"
    sheet.append(EXPORT_COLUMNS)
    for h in rows.iterator(chunk_size=2000):
        sheet.append(
            [
                h.certificate_no, h.holder_name, h.get_kind_display(), h.title, h.get_level_display(),
                h.conferred_by.name, h.conferred_with, h.source_label, h.conferred_on,
                float(h.amount) if h.amount is not None else None,
                h.policy_document or h.policy_file, h.policy_effective,
                "已撤销" if h.revoked else "有效", h.revoked_reason,
            ]
        )  # fmt: skip
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def certificate_response(request, honour: Honour) -> HttpResponse:
    """The certificate PDF of `honour` as a response (the caller has checked who may have it)."""
    response = HttpResponse(
        certificate_pdf(honour, verify=verify_url(request, honour)), content_type="application/pdf"
    )
    response["Content-Disposition"] = f'inline; filename="certificate-{honour.certificate_no}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
def honour_certificate(request, honour_id: int):
    """Staff: the certificate of an honour in their subtree (404 outside it)."""
    return certificate_response(request, selectors.access_honour(request.user, honour_id))


@never_cache
@require_GET
def honour_verify(request, token: str):
    """Anyone who scans a certificate: valid or revoked, masked name, title, union, date; nothing more."""
    response = render(request, "honours/verify.html", {"check": certificate_check(token)})
    response["X-Robots-Tag"] = "noindex"
    return response


@login_required
@require_POST
def contest_grant(request, code: str):
    """Staff (admin or staff of the organiser or a union above): grant a finished contest's awards."""
    from gonghui.competitions.awards import contest_grant_honours
    from gonghui.competitions.selectors import access_contest

    contest = access_contest(request.user, code)
    if not selectors.can_grant(viewer=request.user, org=contest.organiser):
        raise PermissionDenied
    try:
        report = contest_grant_honours(contest=contest, actor=request.user)
    except ValueError as exc:  # ContestError, HonourError, the policy's errors
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("%(created)d honours registered, %(existing)d already in the register.")
            % {"created": len(report.created), "existing": len(report.existing)},
        )
    return redirect("contest_progress", code=contest.code)


@login_required
@require_POST
def honour_revoke_view(request, honour_id: int):
    """Staff (admin or staff of the conferring union or above): revoke an honour with a reason."""
    honour = selectors.access_honour(request.user, honour_id)
    if not selectors.can_grant(viewer=request.user, org=honour.conferred_by):
        raise PermissionDenied
    try:
        honour_revoke(honour=honour, reason=request.POST.get("reason", ""), actor=request.user)
    except ValueError as exc:  # HonourError: no reason, or revoked already
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Honour %(number)s revoked.") % {"number": honour.certificate_no})
    back = QueryDict(request.POST.get("back", "")).urlencode()  # the list's filters, re-encoded
    return redirect(f"{reverse('honours:register')}?{back}")
