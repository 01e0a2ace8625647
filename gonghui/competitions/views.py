"""Contest pages under /contests/: the public contest list and the candidates' online preliminary.

Candidates are workers, not staff users: they sign in to the exam with their admission ticket
number and ID number (POSTed, never in a URL), which puts their registration in the session.
Every exam page fetches the registration through `_registration` and answers 404 for one the
session does not hold. The paper page is built from stems and options shown, never from the key:
the answer key and explanations reach the browser only on the result page, after submission.
"""

from __future__ import annotations

from html import escape

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gonghui.analytics.services import view_count
from gonghui.audit.services import audit_record
from gonghui.people.consent import consent_text

from . import selectors
from .exam import (
    ExamClosed,
    ExamError,
    attempt_save,
    attempt_start,
    attempt_submit,
    candidate_find,
    shown_questions,
)
from .forms_public import WorkAreaForm
from .models import (
    OPTION_LETTERS,
    Attempt,
    AttemptStatus,
    Contest,
    PracticeSession,
    Question,
    QuestionType,
    Registration,
    Trade,
)
from .practice import MAX_SIZE, practice_check, practice_start
from .services import CONSENT_PURPOSE, registration_apply
from .stats import page_key

SESSION_KEY = "contest_registrations"
LOGIN_LIMIT = 10  # failed sign-ins per admission ticket per window
LOGIN_WINDOW = 3600  # seconds


BANK_PER_PAGE = 20


@require_GET
def contests_index(request):
    contests = list(
        Contest.objects.select_related("organiser")
        .prefetch_related("trades")
        .order_by("-preliminary_opens")[:20]
    )
    for contest in contests:
        contest.statistics = selectors.contest_statistics(contest)
    return render(request, "competitions/index.html", {"contests": contests})


@require_GET
def contest_bank(request, code: str, trade_code: str):
    """A public contest's question bank, with answers and explanations, for anyone (Jilin published theirs)."""
    trade = (
        Trade.objects.select_related("contest")
        .filter(contest__code=code, code=trade_code, contest__bank_public=True)
        .first()
    )
    if trade is None:
        raise Http404
    view_count(request, page_key(trade.contest, "bank"))
    questions = trade.questions.order_by("number")
    areas = list(
        trade.questions.order_by("knowledge_area").values_list("knowledge_area", flat=True).distinct()
    )
    area = request.GET.get("area", "")
    if area:
        questions = questions.filter(knowledge_area=area)
    page = Paginator(questions, BANK_PER_PAGE).get_page(request.GET.get("page"))
    for question in page:
        question.lettered = list(zip(OPTION_LETTERS, question.options, strict=False))
        question.blanks = "；".join(" / ".join(a) for a in question.accepted)
    return render(
        request,
        "competitions/bank.html",
        {"trade": trade, "contest": trade.contest, "page": page, "areas": areas, "area": area},
    )


def _registration(request, registration_id: int, *, with_attempt: bool = False) -> Registration:
    """The signed-in candidate's registration (404 for any other); `with_attempt` reads its attempt and paper along."""
    if registration_id not in request.session.get(SESSION_KEY, []):
        raise Http404
    related = ["trade__contest", "trade__blueprint", "person"]
    if with_attempt:
        related.append("attempt__paper")
    found = Registration.objects.select_related(*related).filter(pk=registration_id).first()
    if found is None:
        raise Http404
    return found


def hold_registrations(request, ids) -> None:
    """Sign the candidate in to these registrations, beside those the session already holds.

    A session from before gets a new key (no fixation); a new one gets its fresh key when first saved.
    """
    ids = list(ids)
    held = [r for r in request.session.get(SESSION_KEY, []) if r not in ids]
    if request.session.session_key:
        request.session.cycle_key()
    request.session[SESSION_KEY] = [*held, *ids]


def _attempt(registration: Registration) -> Attempt | None:
    if Registration.attempt.is_cached(registration):  # read along by _registration(with_attempt=True)
        return getattr(registration, "attempt", None)
    return Attempt.objects.select_related("paper").filter(registration=registration).first()


@never_cache
@require_http_methods(["GET", "POST"])
def candidate_login(request):
    error = ""
    if request.method == "POST":
        ticket = "".join(request.POST.get("ticket", "").split())[:20]
        limit_key = f"contest-login:{ticket}"
        if cache.get(limit_key, 0) >= LOGIN_LIMIT:
            error = _("Too many failed sign-ins for this ticket. Try again in an hour.")
        else:
            registration = candidate_find(ticket=ticket, id_number=request.POST.get("id_number", ""))
            if registration is None:
                cache.set(limit_key, cache.get(limit_key, 0) + 1, LOGIN_WINDOW)
                error = _("The admission ticket number or ID number is not right.")
            else:
                hold_registrations(request, [registration.pk])
                audit_record(actor=None, action="contest.candidate_login", target=registration)
                return redirect("contest_candidate_home")
    return render(
        request, "competitions/candidate_login.html", {"error": error}, status=400 if error else 200
    )


@require_POST
def candidate_logout(request):
    request.session.pop(SESSION_KEY, None)
    return redirect("contest_candidate_login")


@never_cache
@require_GET
def candidate_home(request):
    ids = request.session.get(SESSION_KEY, [])
    if not ids:
        return redirect("contest_candidate_login")
    registrations = list(
        Registration.objects.select_related("trade__contest", "trade__blueprint", "person", "attempt")
        .filter(pk__in=ids)
        .order_by("-created_at")
    )
    now = timezone.now()
    return render(
        request,
        "competitions/candidate_home.html",
        {"registrations": registrations, "now": now, "max_practice": MAX_SIZE},
    )


@require_POST
def exam_start(request, registration_id: int):
    registration = _registration(request, registration_id)
    try:
        attempt_start(registration=registration)
    except ExamError as exc:
        return render(
            request,
            "competitions/exam_message.html",
            {"registration": registration, "message": str(exc)},
            status=409,
        )
    return redirect("contest_exam_paper", registration_id=registration.pk)


def _paper_items(attempt: Attempt) -> list[str]:
    """Each position's fieldset: number, type, stem, the controls (options in the shown order, the saved answer). No key.

    The markup is built here, escaped with the standard library's `html.escape`, rather than in the
    template: a paper has 100 questions and about 500 controls, and every candidate opens it in the
    same minute; Django's template loop over them (or format_html, with its lazy-string checks) cost
    30-40 ms of CPU per page, this a few.
    """
    paper = attempt.paper
    shown = shown_questions(paper.questions)
    labels = {
        QuestionType.SINGLE: escape(_("single choice")),
        QuestionType.MULTIPLE: escape(_("multiple choice")),
        QuestionType.TRUE_FALSE: escape(_("true or false")),
        QuestionType.FILL_BLANK: escape(_("fill in the blank")),
    }
    true_false = (("T", escape(_("True"))), ("F", escape(_("False"))))
    blank_label = _("Blank %(n)s")
    items = []
    for position, (q, order) in enumerate(zip(shown, paper.orders, strict=True)):
        saved = attempt.answers.get(str(position), "")
        name = f"q{position}"
        if q.qtype in (QuestionType.SINGLE, QuestionType.MULTIPLE):
            kind = "radio" if q.qtype == QuestionType.SINGLE else "checkbox"
            options = q.options
            controls = "\n".join(
                f'<label class="option"><input type="{kind}" name="{name}" value="{letter}"'
                f"{' checked' if letter in saved else ''}> <b>{letter}.</b> "
                f"{escape(options[OPTION_LETTERS.index(original)])}</label>"
                for letter, original in zip(OPTION_LETTERS, order, strict=False)
            )
        elif q.qtype == QuestionType.TRUE_FALSE:
            controls = "\n".join(
                f'<label class="option"><input type="radio" name="{name}" value="{value}"'
                f"{' checked' if saved == value else ''}> {text}</label>"
                for value, text in true_false
            )
        else:
            # The number of blanks is shown (it is in the stem anyway); what fills them is not.
            values = saved.split("\x1f") if saved else []
            controls = "\n".join(
                f'<label class="blank">{escape(blank_label % {"n": i + 1})} <input type="text" name="{name}" '
                f'value="{escape(values[i] if i < len(values) else "")}" maxlength="200" autocomplete="off"></label>'
                for i in range(q.blanks)
            )
        stem = escape(q.stem.replace("\r\n", "\n").replace("\r", "\n")).replace("\n", "<br>")
        items.append(
            mark_safe(  # noqa: S308 - every value escaped above
                f'<fieldset class="question" id="q-{position + 1}">\n'
                f'<input type="hidden" name="positions" value="{position}">\n'
                f'<legend><span class="qno">{position + 1}.</span> <span class="qtype">{labels[q.qtype]}</span></legend>\n'
                f'<p class="stem">{stem}</p>\n{controls}\n</fieldset>'
            )
        )
    return items


@never_cache
@require_GET
def exam_paper(request, registration_id: int):
    registration = _registration(request, registration_id, with_attempt=True)
    attempt = _attempt(registration)
    if attempt is None:
        return redirect("contest_candidate_home")
    now = timezone.now()
    if attempt.status == AttemptStatus.IN_PROGRESS and now >= attempt.deadline:
        attempt = attempt_submit(attempt=attempt, now=now)  # closes it with the last saved answers
    if attempt.status != AttemptStatus.IN_PROGRESS:
        return redirect("contest_exam_result", registration_id=registration.pk)
    return render(
        request,
        "competitions/paper.html",
        {
            "registration": registration,
            "attempt": attempt,
            "items": _paper_items(attempt),
            "remaining": int((attempt.deadline - now).total_seconds()),
        },
    )


def _posted_answers(request, attempt: Attempt) -> dict[int, list[str]]:
    """position -> values, for every position the form says it shows (an unticked question is cleared)."""
    size = len(attempt.paper.questions)
    positions = request.POST.getlist("positions")
    answers = {}
    for text in positions:
        if not text.isdigit() or int(text) >= size:
            raise ExamError(_("The form does not match the paper."))
        answers[int(text)] = request.POST.getlist(f"q{text}")
    return answers


@require_POST
def exam_save(request, registration_id: int):
    # The autosave, every 30 s from every candidate: one read of the attempt (not of the
    # registration, person or contest, which a save does not need), then attempt_save's UPDATE.
    if registration_id not in request.session.get(SESSION_KEY, []):
        raise Http404
    attempt = (
        Attempt.objects.select_related("paper")
        .only("id", "registration_id", "status", "deadline", "paper__id", "paper__seed", "paper__questions")
        .filter(registration_id=registration_id)
        .first()
    )
    if attempt is None:
        raise Http404
    htmx = request.headers.get("HX-Request") == "true"
    try:
        saved_at = attempt_save(attempt=attempt, answers=_posted_answers(request, attempt))
    except ExamClosed as exc:
        response = render(request, "competitions/_save_status.html", {"error": str(exc)}, status=409)
        if htmx:
            response["HX-Redirect"] = reverse("contest_exam_paper", args=[registration_id])
        return response
    except ExamError as exc:
        return render(request, "competitions/_save_status.html", {"error": str(exc)}, status=400)
    if not htmx:
        return redirect("contest_exam_paper", registration_id=registration_id)
    return render(request, "competitions/_save_status.html", {"saved_at": saved_at})


@never_cache
@require_GET
def exam_state(request, registration_id: int):
    """The attempt's clock and saved answers, for the page's countdown and a reload check. No key."""
    # Every open paper asks each minute: one read of the attempt's own columns (as exam_save).
    if registration_id not in request.session.get(SESSION_KEY, []):
        raise Http404
    attempt = (
        Attempt.objects.only("status", "deadline", "answers", "saves", "last_saved_at")
        .filter(registration_id=registration_id)
        .first()
    )
    if attempt is None:
        raise Http404
    now = timezone.now()
    return JsonResponse(
        {
            "status": attempt.status,
            "deadline": attempt.deadline.isoformat(),
            "remaining_seconds": max(0, int((attempt.deadline - now).total_seconds())),
            "answers": attempt.answers,
            "saves": attempt.saves,
            "last_saved_at": attempt.last_saved_at.isoformat() if attempt.last_saved_at else None,
        }
    )


@require_POST
def exam_submit(request, registration_id: int):
    registration = _registration(request, registration_id, with_attempt=True)
    attempt = _attempt(registration)
    if attempt is None:
        raise Http404
    if attempt.status == AttemptStatus.IN_PROGRESS and timezone.now() < attempt.deadline:
        try:
            answers = _posted_answers(request, attempt)
            if answers:
                attempt_save(attempt=attempt, answers=answers)
        except ExamClosed:
            pass  # the deadline passed meanwhile: submitting closes it with what was saved
        except ExamError as exc:
            return render(
                request,
                "competitions/exam_message.html",
                {"registration": registration, "message": str(exc)},
                status=400,
            )
    attempt_submit(attempt=attempt)
    return redirect("contest_exam_result", registration_id=registration.pk)


@never_cache
@require_GET
def exam_result(request, registration_id: int):
    registration = _registration(request, registration_id, with_attempt=True)
    attempt = _attempt(registration)
    if attempt is None or attempt.status == AttemptStatus.IN_PROGRESS:
        return redirect("contest_candidate_home")
    return render(request, "competitions/result.html", {"registration": registration, "attempt": attempt})


@require_POST
def practice_begin(request, registration_id: int):
    registration = _registration(request, registration_id)
    try:
        session = practice_start(
            registration=registration,
            mode=request.POST.get("mode", "random"),
            area=request.POST.get("area", ""),
            size=int(request.POST["size"]) if request.POST.get("size", "").isdigit() else 10,
        )
    except ExamError as exc:
        return render(
            request,
            "competitions/exam_message.html",
            {"registration": registration, "message": str(exc)},
            status=409,
        )
    return redirect("contest_practice", registration_id=registration.pk, session_id=session.pk)


def _practice_session(registration: Registration, session_id: int) -> PracticeSession:
    session = PracticeSession.objects.filter(pk=session_id, registration=registration).first()
    if session is None:
        raise Http404
    return session


@never_cache
@require_GET
def practice_page(request, registration_id: int, session_id: int):
    registration = _registration(request, registration_id)
    session = _practice_session(registration, session_id)
    by_id = {
        q["id"]: q
        for q in Question.objects.filter(pk__in=session.shown).values(
            "id", "qtype", "stem", "options", "accepted"
        )
    }
    items = []
    for position, qid in enumerate(session.shown):
        q = by_id.get(qid)
        if q is None:
            continue
        items.append(
            {
                "position": position,
                "number": position + 1,
                "qtype": q["qtype"],
                "stem": q["stem"],
                "options": list(zip(OPTION_LETTERS, q["options"], strict=False)),
                "blanks": range(len(q["accepted"])),
            }
        )
    return render(
        request,
        "competitions/practice.html",
        {"registration": registration, "session": session, "items": items},
    )


@require_POST
def practice_check_answer(request, registration_id: int, session_id: int, position: int):
    registration = _registration(request, registration_id)
    session = _practice_session(registration, session_id)
    try:
        checked = practice_check(session=session, position=position, values=request.POST.getlist("answer"))
    except ExamError as exc:
        return render(request, "competitions/_practice_check.html", {"error": str(exc)}, status=400)
    return render(request, "competitions/_practice_check.html", {"checked": checked})


@login_required
@never_cache
@require_GET
def contest_progress_page(request, code: str):
    """Staff: the preliminary's progress per trade (started, handed in, average), refreshed every 10 s."""
    contest = selectors.access_contest(request.user, code)
    rows = selectors.contest_progress(viewer=request.user, contest=contest)
    template = (
        "competitions/_progress.html"
        if request.headers.get("HX-Request") == "true"
        else "competitions/progress.html"
    )
    return render(request, template, {"contest": contest, "rows": rows, "now": timezone.now()})


REGISTER_LIMIT = 20  # registrations tried per address per window


def _client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "") or ""


def registrations_exhausted(request) -> bool:
    """Whether this address has tried REGISTER_LIMIT registrations (single or team) in the window."""
    return cache.get(f"contest-register:{_client_ip(request)}", 0) >= REGISTER_LIMIT


def registration_counted(request) -> None:
    """Count one registration tried from this address."""
    key = f"contest-register:{_client_ip(request)}"
    cache.set(key, cache.get(key, 0) + 1, LOGIN_WINDOW)


@never_cache
@require_http_methods(["GET", "POST"])
def contest_register(request, code: str):
    """A worker registers from a phone: trade, name, ID number, phone, enterprise, where they work, the
    notice and consents."""
    contest = Contest.objects.filter(code=code).first()
    if contest is None:
        raise Http404
    if request.method == "GET":
        view_count(request, page_key(contest, "register"))
    consent = consent_text(CONSENT_PURPOSE)
    trades = list(contest.trades.order_by("sort", "code"))
    work_area = WorkAreaForm(request.POST if request.method == "POST" else None, contest=contest)
    error, values = "", {}
    if request.method == "POST":
        values = {k: request.POST.get(k, "").strip() for k in ("trade", "name", "phone", "enterprise")}
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
                registration = registration_apply(
                    trade=trade,
                    name=values["name"],
                    id_number=request.POST.get("id_number", ""),
                    phone=values["phone"],
                    enterprise_name=values["enterprise"],
                    region=work_area.region(),
                    consent_version=request.POST.get("consent_version", ""),
                    consent_items=request.POST.getlist("consent"),
                    ip=_client_ip(request) or None,
                )
            except ValueError as exc:  # ContestError, the people errors (ID number, phone), ConsentError
                error = str(exc)
            else:
                hold_registrations(request, [registration.pk])
                return render(request, "competitions/registered.html", {"registration": registration})
    return render(
        request,
        "competitions/register.html",
        {
            "contest": contest,
            "trades": trades,
            "consent": consent,
            "error": error,
            "values": values,
            "work_area": work_area,
        },
        status=400 if error else 200,
    )
