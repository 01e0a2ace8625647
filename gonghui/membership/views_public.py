"""The public pages under /join/: joining from a phone, the outcome and the member's own page, card checks.

No login: the worker proves who they are with their ID number and phone, typed into POST forms
(never a URL) and never written back into a page. Between steps the session holds only ids and a
deadline. POSTs are limited per address (a cache counter), so the forms cannot be used to test
ID numbers in bulk. Staff pages here: the QR codes of the unions in the viewer's scope, to print.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from gonghui.lib.masking import mask_name
from gonghui.orgs.models import Employer
from gonghui.orgs.selectors import org_list
from gonghui.people.consent import consent_text
from gonghui.people.models import Person
from gonghui.people.services import PersonError
from gonghui.regions.models import Region

from . import services
from .cards import card_check, card_token, join_path, public_url, qr_png, qr_svg
from .forms_public import JoinForm, LookupForm, TransferForm, UnionChoiceForm
from .joining import (
    CONSENT_PURPOSE,
    AlreadyJoined,
    JoinError,
    join_apply,
    join_offers,
    join_register,
    link_union,
    member_lookup,
    member_overview,
)
from .models import Membership, MembershipStatus, TransferRequester

STEP_KEY = "join_step"  # between the details and the choice of union
DONE_KEY = "join_done"  # the application just made, for the confirmation page
MEMBER_KEY = "join_member"  # the person who looked themselves up, until a deadline
STEP_SECONDS = 30 * 60
MEMBER_SECONDS = 15 * 60
THROTTLE_WINDOW = 10 * 60


def _post_limit() -> int:
    return settings.GONGHUI_JOIN_POSTS_PER_10_MIN


def _throttled(request, bucket: str) -> bool:
    """Count this POST against the address; True once it is over the limit for the window."""
    key = f"gonghui:join:{bucket}:{request.META.get('REMOTE_ADDR', '')}"
    if cache.add(key, 1, THROTTLE_WINDOW):
        return False
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, THROTTLE_WINDOW)
        count = 1
    return count > _post_limit()


def _too_many(request):
    return render(request, "membership/join_throttled.html", status=429)


def _ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def _fresh(entry) -> dict | None:
    if not isinstance(entry, dict) or entry.get("until", 0) < time.time():
        return None
    return entry


def _already(request, exc: AlreadyJoined, status: int = 200):
    current = exc.membership
    return render(
        request,
        "membership/join_already.html",
        {"exc": exc, "membership": current if exc.disclose else None, "active": current.status == "active"},
        status=status,
    )


# --- joining ------------------------------------------------------------------------------------


@never_cache
def join_start(request):
    """Step one: who the worker is, where they work, the notice and the separate consents."""
    consent = consent_text(CONSENT_PURPOSE)
    if request.method == "POST":
        if _throttled(request, "join"):
            return _too_many(request)
        form = JoinForm(request.POST, consent=consent)
        if form.is_valid():
            data = form.cleaned_data
            try:
                person = join_register(
                    name=data["name"],
                    id_number=data["id_number"],
                    phone=data["phone"],
                    work_region=data["work_region"],
                    employer=data.get("employer"),
                    group=data.get("group"),
                    occupation=data.get("occupation", ""),
                    consent_version=data["consent_version"],
                    consent_items=form.consent_items,
                    ip=_ip(request),
                )
            except AlreadyJoined as exc:
                return _already(request, exc)
            except JoinError as exc:
                form.add_error("name", str(exc))
            except PersonError as exc:  # a record that cannot be written (a race on the same number ...)
                form.add_error(None, str(exc))
            else:
                request.session[STEP_KEY] = {
                    "person": person.pk,
                    "version": data["consent_version"],
                    "org": data.get("org", ""),
                    "employer": data["employer"].pk if data.get("employer") else None,
                    "employer_name": (data.get("employer_name") or "").strip(),
                    "group": data["group"].pk if data.get("group") else None,
                    "region": data["work_region"].pk,
                    "until": time.time() + STEP_SECONDS,
                }
                return redirect("join:union")
    else:
        form = JoinForm(initial={"org": request.GET.get("org", "")[:40]}, consent=consent)
    link_org = link_union(form["org"].value() or "")
    return render(request, "membership/join.html", {"form": form, "consent": consent, "link_org": link_org})


@never_cache
def join_union(request):
    """Step two: the union, the weave's suggestion chosen (or the union whose QR code brought them)."""
    step = _fresh(request.session.get(STEP_KEY))
    if step is None:
        return redirect("join:start")
    person = Person.objects.filter(pk=step["person"]).first()
    if person is None:
        request.session.pop(STEP_KEY, None)
        return redirect("join:start")
    region = Region.objects.filter(pk=step["region"]).first()
    offers = join_offers(
        employer_id=step.get("employer"),
        group_id=step.get("group"),
        work_region=region,
        link_code=step.get("org", ""),
    )
    form = UnionChoiceForm(request.POST or None, offers=offers)
    if request.method == "POST" and form.is_valid():
        note = ""
        if step.get("employer_name") and not step.get("employer"):
            # Stored with the application for the union's staff: Chinese whatever the page's language.
            note = f"申请人自填工作单位：{step['employer_name']}"
        try:
            membership = join_apply(
                person=person, org=form.chosen(), consent_version=step["version"], note=note
            )
        except AlreadyJoined as exc:
            request.session.pop(STEP_KEY, None)
            return _already(request, exc)
        except services.MembershipError as exc:
            form.add_error("org", str(exc))
        else:
            request.session.pop(STEP_KEY, None)
            request.session[DONE_KEY] = membership.pk
            return redirect("join:done")
    return render(
        request,
        "membership/join_union.html",
        {"form": form, "offers": offers, "masked_name": mask_name(person.name), "region": region},
    )


@never_cache
def join_done(request):
    membership = (
        Membership.objects.filter(pk=request.session.get(DONE_KEY) or 0).select_related("org").first()
    )
    if membership is None:
        return redirect("join:start")
    return render(request, "membership/join_done.html", {"membership": membership})


# --- the outcome and the member's own page ---------------------------------------------------------


@never_cache
def join_lookup(request):
    """The worker types ID number and phone (POST) and goes to their own page; either wrong: one answer."""
    form = LookupForm(request.POST or None)
    if request.method == "POST":
        if _throttled(request, "lookup"):
            return _too_many(request)
        if form.is_valid():
            person = member_lookup(id_number=form.cleaned_data["id_number"], phone=form.cleaned_data["phone"])
            if person is None:
                form.add_error(None, _("No application was found for this ID number and phone."))
            else:
                request.session.cycle_key()
                request.session[MEMBER_KEY] = {"person": person.pk, "until": time.time() + MEMBER_SECONDS}
                return redirect("join:me")
    return render(request, "membership/join_lookup.html", {"form": form})


def _member(request) -> Person | None:
    entry = _fresh(request.session.get(MEMBER_KEY))
    if entry is None:
        request.session.pop(MEMBER_KEY, None)
        return None
    return Person.objects.filter(pk=entry["person"]).first()


def _card(request, membership: Membership) -> dict:
    verify = public_url(request, reverse("join:verify", args=[card_token(membership)]))
    return {
        "membership": membership,
        "masked_name": mask_name(membership.person.name),
        "verify_url": verify,
        "qr": qr_svg(verify, scale=4, title=_("Scan to check this member card")),
    }


@never_cache
def member_page(request):
    """The member's page: status (pending / active with the card / rejected with the reason), history."""
    person = _member(request)
    if person is None:
        return redirect("join:lookup")
    overview = member_overview(person=person)
    card = None
    if overview.current is not None and overview.current.status == MembershipStatus.ACTIVE:
        overview.current.person = person
        card = _card(request, overview.current)
    from gonghui.honours.selectors import honours_of_person

    return render(
        request,
        "membership/me.html",
        {"overview": overview, "card": card, "masked_name": mask_name(person.name), "person": person,
         "honours": honours_of_person(person=person)},
    )  # fmt: skip


@never_cache
def member_certificate(request, honour_id: int):
    """The member's own honour certificate (PDF), from their page; anyone else's answers 404."""
    from gonghui.honours.selectors import honours_of_person
    from gonghui.honours.views import certificate_response

    person = _member(request)
    if person is None:
        return redirect("join:lookup")
    honour = honours_of_person(person=person).filter(pk=honour_id).first()
    if honour is None:
        raise Http404
    return certificate_response(request, honour)


@never_cache
def member_transfer(request):
    """Ask to move to another union: where the member works now, then the unions that cover that."""
    person = _member(request)
    if person is None:
        return redirect("join:lookup")
    overview = member_overview(person=person)
    current = overview.current
    if current is None or current.status != MembershipStatus.ACTIVE or overview.open_transfer is not None:
        return redirect("join:me")
    form = TransferForm(request.POST or None, initial={"work_region": person.work_region_id})
    offers = choice = None
    if request.method == "POST":
        if _throttled(request, "transfer"):
            return _too_many(request)
        if form.is_valid():
            data = form.cleaned_data
            employer = (
                data.get("employer") or Employer.objects.filter(name=data.get("employer_name", "")).first()
            )
            group = data.get("group")
            offers = join_offers(
                employer_id=employer.pk if employer else None,
                group_id=group.pk if group else None,
                work_region=data["work_region"],
                exclude_org_id=current.org_id,
            )
            choice = UnionChoiceForm(request.POST if "org" in request.POST else None, offers=offers)
            if "org" in request.POST and choice.is_valid():
                facts = [
                    data["work_region"].name,
                    data.get("employer_name") or (employer.name if employer else ""),
                ]
                reason = "；".join(
                    filter(None, [f"现工作地点：{'，'.join(filter(None, facts))}", data["reason"]])
                )
                try:
                    services.transfer_request(
                        membership=current,
                        to_org=choice.chosen(),
                        requested_by_kind=TransferRequester.WORKER,
                        reason=reason,
                    )
                except services.MembershipError as exc:
                    choice.add_error("org", str(exc))
                else:
                    return redirect("join:me")
    return render(
        request,
        "membership/me_transfer.html",
        {"form": form, "offers": offers, "choice": choice, "current": current},
    )


@require_POST
def member_leave(request):
    request.session.pop(MEMBER_KEY, None)
    return redirect("join:lookup")


def card_verify(request, token: str):
    """Anyone who scans a card: valid or not, the masked name and the union; nothing more."""
    response = render(request, "membership/verify.html", {"check": card_check(token)})
    response["X-Robots-Tag"] = "noindex"
    return response


# --- staff: the unions' joining QR codes ------------------------------------------------------------


def _grassroots_in_scope(viewer):
    return org_list(viewer=viewer).filter(kind__in=services.GRASSROOTS_KINDS).order_by("path")


@login_required
def join_qr_list(request):
    """The joining QR code of every grassroots union the viewer may see, laid out to print."""
    page = Paginator(_grassroots_in_scope(request.user), 24).get_page(request.GET.get("page"))
    codes = [{"org": org, "url": public_url(request, join_path(org))} for org in page.object_list]
    for item in codes:
        item["svg"] = qr_svg(item["url"], scale=3, title=item["org"].name)
    return render(request, "membership/join_qr.html", {"page": page, "codes": codes})


@login_required
def join_qr_image(request, code: str, fmt: str):
    """One union's joining QR code as a file (PNG or SVG), for posters; 404 outside the viewer's scope."""
    org = _grassroots_in_scope(request.user).filter(code=code).first()
    if org is None:
        raise Http404
    url = public_url(request, join_path(org))
    if fmt == "png":
        response = HttpResponse(qr_png(url), content_type="image/png")
    else:
        response = HttpResponse(qr_svg(url, scale=10, title=org.name), content_type="image/svg+xml")
    response["Content-Disposition"] = f'inline; filename="join-{org.code}.{fmt}"'
    return response
