"""The 揭榜 board pages: thin views over `weave.board` (selectors scope to the viewer, services write)."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from . import board
from .models import TaskStatus

TASKS_PER_PAGE = 50


class ClaimForm(forms.Form):
    org = forms.ModelChoiceField(queryset=None, label=gettext_lazy("Claiming union"), empty_label=None)
    promised_on = forms.DateField(
        label=gettext_lazy("Promised date"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def __init__(self, *args, orgs, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["org"].queryset = orgs


class FederationForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("Code"), max_length=40)
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)


class WithdrawForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=300)


@login_required
def board_list(request):
    tab = request.GET.get("tab", board.Tab.OPEN)
    if tab not in board.Tab.ALL:
        tab = board.Tab.OPEN
    today = timezone.localdate()
    tasks = board.board_tasks(viewer=request.user, tab=tab, today=today)
    page = Paginator(tasks, TASKS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "weave/board.html",
        {
            "tab": tab,
            "tabs": [
                (board.Tab.OPEN, _("Open")),
                (board.Tab.CLAIMED, _("Claimed")),
                (board.Tab.OVERDUE, _("Overdue")),
                (board.Tab.DONE, _("Done")),
            ],
            "counts": board.board_counts(viewer=request.user, today=today),
            "page": page,
            "today": today,
            "policy": board.board_policy(today),
        },
    )


def _detail_context(request, task, **forms_given):
    today = timezone.localdate()
    policy = board.board_policy(today)
    claimers = board.claimer_orgs(viewer=request.user, task=task)
    can_claim = task.status == TaskStatus.OPEN and claimers.exists()
    can_create = board.can_create_federation(viewer=request.user, task=task)
    can_withdraw = board.can_withdraw(viewer=request.user, task=task)
    claim_form = forms_given.get("claim_form") or ClaimForm(
        orgs=claimers, initial={"promised_on": today + dt.timedelta(days=policy.promise_days)}
    )
    federation_form = forms_given.get("federation_form") or FederationForm(
        initial={"name": f"{task.region.name}{task.group.name}行业工会联合会"}
    )
    return {
        "task": task,
        "today": today,
        "overdue": task.status == TaskStatus.CLAIMED and task.promised_on and task.promised_on < today,
        "can_claim": can_claim,
        "can_create": can_create,
        "can_withdraw": can_withdraw,
        "claim_form": claim_form,
        "federation_form": federation_form,
        "withdraw_form": forms_given.get("withdraw_form") or WithdrawForm(),
        "engine_queues_runs": board.weave_run_queue() is not None,
    }


@login_required
def board_task(request, task_id: int):
    task = board.access_board_task(request.user, task_id)
    return render(request, "weave/board_task.html", _detail_context(request, task))


def _ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR")


@login_required
@require_POST
def board_claim(request, task_id: int):
    task = board.access_board_task(request.user, task_id)
    form = ClaimForm(request.POST, orgs=board.claimer_orgs(viewer=request.user, task=task))
    if form.is_valid():
        try:
            board.task_claim(
                viewer=request.user,
                task=task,
                org=form.cleaned_data["org"],
                promised_on=form.cleaned_data["promised_on"],
                ip=_ip(request),
            )
        except board.BoardError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Task claimed."))
            return redirect("weave_board_task", task_id=task.pk)
    return render(
        request, "weave/board_task.html", _detail_context(request, task, claim_form=form), status=400
    )


@login_required
@require_POST
def board_federation(request, task_id: int):
    task = board.access_board_task(request.user, task_id)
    form = FederationForm(request.POST)
    if form.is_valid():
        try:
            org = board.task_create_federation(
                viewer=request.user,
                task=task,
                code=form.cleaned_data["code"],
                name=form.cleaned_data["name"],
                ip=_ip(request),
            )
        except board.BoardError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Federation %(name)s created.") % {"name": org.name})
            return redirect("weave_board_task", task_id=task.pk)
    return render(
        request, "weave/board_task.html", _detail_context(request, task, federation_form=form), status=400
    )


@login_required
@require_POST
def board_withdraw(request, task_id: int):
    task = board.access_board_task(request.user, task_id)
    form = WithdrawForm(request.POST)
    if form.is_valid():
        try:
            board.task_withdraw(
                viewer=request.user, task=task, reason=form.cleaned_data["reason"], ip=_ip(request)
            )
        except board.BoardError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Task withdrawn."))
            return redirect("weave_board_task", task_id=task.pk)
    return render(
        request, "weave/board_task.html", _detail_context(request, task, withdraw_form=form), status=400
    )
