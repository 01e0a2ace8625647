"""Contest endpoints under /api/v1/contests/: contests and trades, public banks, registration, results, statistics.

Thin handlers over `competitions` services, selectors and `stats`; every call carries a bearer token
(the viewer). What anyone may read on the public pages (contests, trades, a public bank with its
answers and explanations, as the public bank page shows it: practice material) any token reads
here. Staff numbers (statistics) answer 404 outside the organising union's subtree, as the staff
pages do. ID numbers travel only in request bodies and leave only masked; registrations, status
and result look-ups are audit rows with the caller as actor.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django.http import Http404
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from gonghui.audit.services import audit_record
from gonghui.competitions import selectors
from gonghui.competitions.exam import candidate_find
from gonghui.competitions.models import OPTION_LETTERS, Contest, Trade
from gonghui.competitions.services import WORK_AREA, ContestError, registration_apply
from gonghui.competitions.stats import Figures, contest_figures
from gonghui.regions.models import Region
from gonghui.regions.services import RegionCodeError, normalize_region_code

router = Router(tags=["contests"])

MAX_PAGE_SIZE = 200


class ErrorOut(Schema):
    detail: str


class TradeOut(Schema):
    code: str
    name: str
    advancement: str = Field(..., description="quota or cutoff")
    finalist_quota: int | None = None
    finalist_cutoff: Decimal | None = None
    theory_weight: Decimal
    practical_weight: Decimal


class ContestOut(Schema):
    code: str
    name: str
    organiser: str
    co_organisers: str
    level: str
    entry: str = Field(..., description="individual or team")
    bank_public: bool
    registration_opens: datetime
    registration_closes: datetime
    training_opens: datetime
    training_closes: datetime
    preliminary_opens: datetime
    preliminary_closes: datetime
    finals_start: date
    finals_end: date
    trades: list[TradeOut]


class QuestionOut(Schema):
    number: int
    qtype: str = Field(..., description="single, multiple, true_false or fill_blank")
    stem: str
    options: dict[str, str] = Field(..., description="Option letter -> text (choice questions)")
    answer: str = Field(..., description="Option letters, or T/F; empty for fill-in-the-blank")
    accepted: list[list[str]] = Field(..., description="Accepted answers per blank (fill-in-the-blank)")
    knowledge_area: str
    difficulty: int = Field(..., description="1 easy, 2 medium, 3 hard")
    explanation: str


class BankPage(Schema):
    count: int
    items: list[QuestionOut]


class RegistrationIn(Schema):
    """One worker's registration, with the consent the caller collected from them (PIPL)."""

    trade_code: str = Field(..., max_length=40)
    name: str = Field(..., max_length=100)
    id_number: str = Field(..., max_length=24, description="Resident ID number")
    phone: str = Field("", max_length=24, description="Mobile number (optional)")
    enterprise_name: str = Field(..., max_length=200)
    work_region_code: str = Field(
        "",
        max_length=12,
        description="Division code of where the worker works: a city or county under the organiser's "
        "region (the public page's list); required",
    )
    consent_version: str = Field(..., max_length=20, description="Version of the contest consent text shown")
    consent_items: list[str] = Field(..., description="notice, id_number, and phone when a phone is given")


class CandidateIn(Schema):
    ticket: str = Field(..., max_length=20, description="Admission ticket number")
    id_number: str = Field(..., max_length=24, description="Resident ID number, in the body (never in a URL)")


class RegistrationOut(Schema):
    ticket: str
    contest_code: str
    trade_code: str
    trade_name: str
    name: str
    id_number_masked: str
    enterprise_name: str
    registered_at: datetime
    preliminary: str = Field(..., description="not_started, in_progress, submitted or closed")


class ResultOut(Schema):
    ticket: str
    trade_code: str
    score: Decimal | None = Field(None, description="Preliminary score (None: did not take it)")
    rank: int | None = Field(None, description="Rank in the trade by the policy's tie rule")
    ranked: int = Field(..., description="Candidates ranked in the trade")
    finalist: bool


class FiguresOut(Schema):
    key: str = Field(..., description="Trade code or region code prefix ('' for totals or region unknown)")
    label: str
    registrations: int
    enterprises: int
    unions: int
    practice_sessions: int
    candidates: int
    finalists: int
    average: Decimal | None = None


class StatisticsOut(Schema):
    page_views: int
    totals: FiguresOut
    by_trade: list[FiguresOut]
    by_region: list[FiguresOut]


def _trade_out(t: Trade) -> dict:
    return {
        k: getattr(t, k)
        for k in (
            "code", "name", "advancement", "finalist_quota", "finalist_cutoff", "theory_weight",
            "practical_weight",
        )
    }  # fmt: skip


def _contest_out(c: Contest) -> dict:
    return {
        **{
            k: getattr(c, k)
            for k in (
                "code", "name", "level", "entry", "bank_public", "registration_opens",
                "registration_closes", "training_opens", "training_closes", "preliminary_opens",
                "preliminary_closes", "finals_start", "finals_end",
            )
        },
        "organiser": c.organiser.name,
        "co_organisers": c.co_organiser_names,
        "trades": [_trade_out(t) for t in c.trades.all()],
    }  # fmt: skip


def _contest(code: str) -> Contest:
    contest = (
        Contest.objects.select_related("organiser").prefetch_related("trades").filter(code=code).first()
    )  # fmt: skip
    if contest is None:
        raise Http404
    return contest


@router.get("", response=list[ContestOut], summary="Contests and their trades (public information)")
def contest_index(request):
    contests = (
        Contest.objects.select_related("organiser").prefetch_related("trades").order_by("-preliminary_opens")
    )
    return [_contest_out(c) for c in contests[:100]]


@router.get("/{code}", response={200: ContestOut, 404: ErrorOut}, summary="One contest and its trades")
def contest_detail(request, code: str):
    return _contest_out(_contest(code))


@router.get(
    "/{code}/trades/{trade_code}/bank",
    response={200: BankPage, 404: ErrorOut},
    summary="A trade's public question bank, with answers and explanations (404 unless the bank is public)",
)
def trade_bank(
    request,
    code: str,
    trade_code: str,
    page: int = Query(1, ge=1),
    page_size: int = Query(50, ge=1, le=MAX_PAGE_SIZE),
    area: str = Query("", max_length=100, description="Knowledge area"),
):
    """The same questions the public bank page shows: practice material the contest published."""
    trade = Trade.objects.filter(contest__code=code, code=trade_code, contest__bank_public=True).first()
    if trade is None:
        raise Http404
    questions = trade.questions.order_by("number")
    if area:
        questions = questions.filter(knowledge_area=area)
    start = (page - 1) * page_size
    items = [
        {
            "number": q.number,
            "qtype": q.qtype,
            "stem": q.stem,
            "options": dict(zip(OPTION_LETTERS, q.options, strict=False)),
            "answer": q.answer,
            "accepted": q.accepted,
            "knowledge_area": q.knowledge_area,
            "difficulty": q.difficulty,
            "explanation": q.explanation,
        }
        for q in questions[start : start + page_size]
    ]
    return {"count": questions.count(), "items": items}


def _registration_out(r) -> dict:
    attempt = getattr(r, "attempt", None)
    return {
        "ticket": r.ticket,
        "contest_code": r.trade.contest.code,
        "trade_code": r.trade.code,
        "trade_name": r.trade.name,
        "name": r.person.name,
        "id_number_masked": r.person.id_number_masked,
        "enterprise_name": r.enterprise_name,
        "registered_at": r.created_at,
        "preliminary": attempt.status if attempt is not None else "not_started",
    }


def _work_region(code: str) -> Region | None:
    """The region with this division code (2-12 digits), None when none is given; an unknown code is a 400."""
    if not code.strip():
        return None
    try:
        full = normalize_region_code(code.strip())
    except RegionCodeError:
        full = ""
    region = Region.objects.filter(code=full).first() if full else None
    if region is None:
        raise ContestError(f"{WORK_AREA}：地区代码 {code.strip()} 不存在")
    return region


@router.post(
    "/{code}/registrations",
    response={201: RegistrationOut, 400: ErrorOut, 404: ErrorOut},
    summary="Register a worker for a trade (in the registration stage, with their consent)",
)
def registration_submit(request, code: str, body: RegistrationIn):
    """As the public registration page does: the person found by ID number or created (protected),
    once per trade, where they work kept for the statistics, their consent recorded; 400 with a
    Chinese message outside the stage, for a missing consent, a missing, unknown or out-of-scope work
    region, a bad ID number or phone, or a worker already entered in the trade."""
    trade = Trade.objects.select_related("contest").filter(contest__code=code, code=body.trade_code).first()
    if trade is None:
        raise Http404
    registration = registration_apply(
        trade=trade,
        name=body.name,
        id_number=body.id_number,
        phone=body.phone,
        enterprise_name=body.enterprise_name,
        region=_work_region(body.work_region_code),
        consent_version=body.consent_version,
        consent_items=body.consent_items,
        ip=request.META.get("REMOTE_ADDR"),
        actor=request.auth,
    )
    return Status(201, _registration_out(registration))


def _candidate(request, body: CandidateIn, action: str):
    """The registration with this ticket and ID number, or 404 (not told which is wrong); audited either way."""
    registration = candidate_find(ticket=body.ticket, id_number=body.id_number)
    audit_record(
        actor=request.auth,
        action=action,
        target=registration,
        detail={"found": registration is not None},
        ip=request.META.get("REMOTE_ADDR"),
    )
    if registration is None:
        raise Http404
    return registration


@router.post(
    "/registrations/status",
    response={200: RegistrationOut, 404: ErrorOut},
    summary="A registration's status, by admission ticket and ID number (audited)",
)
def registration_status(request, body: CandidateIn):
    return _registration_out(_candidate(request, body, "contest.api_status"))


@router.post(
    "/registrations/result",
    response={200: ResultOut, 404: ErrorOut, 409: ErrorOut},
    summary="A candidate's preliminary score and rank once the preliminary has closed (audited)",
)
def registration_result(request, body: CandidateIn):
    """Results are published when the preliminary window closes; before that, 409. The rank follows
    the trade's tie rule; `finalist` the trade's quota or cut-off."""
    from gonghui.competitions.policy import contest_policy
    from gonghui.competitions.ranking import preliminary_results

    registration = _candidate(request, body, "contest.api_result")
    contest = registration.trade.contest
    if timezone.now() < contest.preliminary_closes:
        return Status(
            409, {"detail": "初赛结束后公布成绩 / results are published when the preliminary closes"}
        )
    tie_rule = contest_policy(contest.policy_file).tie_rule if contest.policy_file else ("total_desc",)
    results = preliminary_results(registration.trade, tie_rule)
    mine = next(r for r in results if r.registration_id == registration.pk)
    return {
        "ticket": registration.ticket,
        "trade_code": registration.trade.code,
        "score": mine.score,
        "rank": mine.rank,
        "ranked": sum(1 for r in results if r.rank is not None),
        "finalist": mine.advances,
    }


def _figures_out(f: Figures) -> dict:
    return {k: getattr(f, k) for k in FiguresOut.model_fields}


@router.get(
    "/{code}/statistics",
    response={200: StatisticsOut, 404: ErrorOut},
    summary="Staff: a contest's statistics by trade and region (404 outside the organiser's subtree)",
)
def contest_statistics(request, code: str):
    contest = selectors.access_contest(request.auth, code)
    figures = contest_figures(contest)
    return {
        "page_views": figures.page_views,
        "totals": _figures_out(figures.totals),
        "by_trade": [_figures_out(f) for f in figures.by_trade],
        "by_region": [_figures_out(f) for f in figures.by_region],
    }
