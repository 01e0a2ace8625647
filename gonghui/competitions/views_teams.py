"""Pages for team registration, a trade's public page with its technical documents, and staff document upload.

The team page is the phone form a team leader fills in (the same identity and consent path as an
individual's registration, `teams.team_apply`). A trade's page and its published documents are
public for a public contest; the documents' management page is staff-only and scoped like every
contest page (`selectors.access_contest`: 404 outside the viewer's part of the tree).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gonghui.people.consent import consent_text

from . import selectors
from .documents import (
    MAX_DOCUMENT_BYTES,
    access_public_document,
    document_path,
    document_publish,
    document_upload,
    public_documents,
)
from .forms_public import WorkAreaForm
from .models import Contest, Trade
from .services import CONSENT_PURPOSE, ContestError, policy_of
from .sheets import trade_criteria
from .teams import MemberSpec, team_apply
from .views import _client_ip, hold_registrations, registration_counted, registrations_exhausted


def _team_sizes(contest: Contest) -> tuple[int, int]:
    policy = policy_of(contest)
    if policy is None or policy.team is None:
        return 1, 5
    return policy.team.min_size, policy.team.max_size


@never_cache
@require_http_methods(["GET", "POST"])
def team_register_page(request, code: str):
    """A team leader registers a team from a phone: trade, team name, unit and where it is, the leader and
    members, consents."""
    contest = Contest.objects.filter(code=code, entry="team").first()
    if contest is None:
        raise Http404
    low, high = _team_sizes(contest)
    trades = list(contest.trades.order_by("sort", "code"))
    consent = consent_text(CONSENT_PURPOSE)
    work_area = WorkAreaForm(request.POST if request.method == "POST" else None, contest=contest)
    error, values = "", {}
    rows = [{"name": "", "phone": ""} for _ in range(high)]
    if request.method == "POST":
        values = {k: request.POST.get(k, "").strip() for k in ("trade", "team", "enterprise")}
        names, ids, phones = (
            request.POST.getlist(k)[:high] for k in ("member_name", "member_id", "member_phone")
        )
        rows = [
            {"name": n.strip(), "phone": p.strip()}
            for n, p in zip(names + [""] * high, phones + [""] * high, strict=False)
        ][:high]
        members = [
            MemberSpec(name=n.strip(), id_number=i.strip(), phone=p.strip())
            for n, i, p in zip(names, ids, phones + [""] * len(names), strict=False)
            if n.strip() or i.strip()
        ]
        trade = next((t for t in trades if t.code == values["trade"]), None)
        if registrations_exhausted(request):
            error = _("Too many registrations from this address. Try again in an hour.")
        elif trade is None:
            error = _("Choose a trade.")
        elif not work_area.is_valid():
            error = work_area.error()
        else:
            registration_counted(request)
            try:
                team = team_apply(
                    trade=trade,
                    name=values["team"],
                    enterprise_name=values["enterprise"],
                    region=work_area.region(),
                    members=members,
                    consent_version=request.POST.get("consent_version", ""),
                    consent_items=request.POST.getlist("consent"),
                    ip=_client_ip(request) or None,
                )
            except ValueError as exc:  # ContestError, ConsentError
                error = str(exc)
            else:
                registrations = list(team.members.select_related("person").order_by("-team_leader", "id"))
                hold_registrations(request, [r.pk for r in registrations])
                return render(
                    request,
                    "competitions/teams/registered.html",
                    {"team": team, "registrations": registrations},
                )
    return render(
        request,
        "competitions/teams/register.html",
        {
            "contest": contest,
            "trades": trades,
            "consent": consent,
            "error": error,
            "values": values,
            "work_area": work_area,
            "rows": rows,
            "min_size": low,
            "max_size": high,
        },
        status=400 if error else 200,
    )


def _public_trade(code: str, trade_code: str) -> Trade:
    trade = (
        Trade.objects.select_related("contest")
        .filter(contest__code=code, code=trade_code, contest__bank_public=True)
        .first()
    )
    if trade is None:
        raise Http404
    return trade


@require_GET
def trade_page(request, code: str, trade_code: str):
    """A trade of a public contest: weights, the practical score sheet, the bank and the technical documents."""
    trade = _public_trade(code, trade_code)
    return render(
        request,
        "competitions/teams/trade.html",
        {
            "trade": trade,
            "contest": trade.contest,
            "documents": public_documents(trade),
            "criteria": trade_criteria(trade),
        },
    )


@require_GET
def document_download(request, code: str, trade_code: str, document_id: int):
    """Anyone downloads a published document of a public contest; the digest is in a header to check it by."""
    document = access_public_document(code, trade_code, document_id)
    return _file_response(document)


def _file_response(document):
    path = document_path(document)
    if not path.is_file():
        raise Http404
    response = FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=document.original_name,
        content_type=document.content_type,
    )
    response["X-Content-SHA256"] = document.sha256
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _staff_trade(request, code: str, trade_code: str) -> Trade:
    contest = selectors.access_contest(request.user, code)
    trade = contest.trades.filter(code=trade_code).first()
    if trade is None:
        raise Http404
    return trade


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def documents_manage(request, code: str, trade_code: str):
    """Staff: upload a trade's technical documents and see every one, published or not."""
    trade = _staff_trade(request, code, trade_code)
    error = ""
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            error = _("Choose a file.")
        elif upload.size > MAX_DOCUMENT_BYTES:
            error = _("The file is larger than %(mb)d MB.") % {"mb": MAX_DOCUMENT_BYTES // (1024 * 1024)}
        else:
            try:
                document_upload(
                    trade=trade,
                    title=request.POST.get("title", ""),
                    name=upload.name,
                    data=upload.read(),
                    actor=request.user,
                )
            except ContestError as exc:
                error = str(exc)
            else:
                return redirect("contest_documents_manage", code=code, trade_code=trade_code)
    return render(
        request,
        "competitions/teams/documents_manage.html",
        {
            "trade": trade,
            "contest": trade.contest,
            "documents": trade.documents.select_related("uploaded_by"),
            "error": error,
            "max_mb": MAX_DOCUMENT_BYTES // (1024 * 1024),
        },
        status=400 if error else 200,
    )


@login_required
@require_POST
def document_publish_view(request, code: str, trade_code: str, document_id: int):
    trade = _staff_trade(request, code, trade_code)
    document = trade.documents.filter(pk=document_id).first()
    if document is None:
        raise Http404
    document_publish(document=document, published=request.POST.get("published") == "1", actor=request.user)
    return redirect("contest_documents_manage", code=code, trade_code=trade_code)


@login_required
@require_GET
def document_staff_download(request, code: str, trade_code: str, document_id: int):
    """Staff download any document of a trade they may manage, published or not."""
    trade = _staff_trade(request, code, trade_code)
    document = trade.documents.filter(pk=document_id).first()
    if document is None:
        raise Http404
    return _file_response(document)
