"""Writes for contests, trades, blueprints and registrations. Bank import: `bank`; papers: `papers`; exams: `exam`."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from gonghui.audit.services import audit_record
from gonghui.orgs.models import Employer, Org
from gonghui.people.models import ConsentChannel
from gonghui.people.services import consent_record, person_create, person_find_by_id_number

from .models import (
    DIFFICULTY_ZH,
    QTYPE_ZH,
    Blueprint,
    BlueprintRow,
    Contest,
    Difficulty,
    JudgeScore,
    Paper,
    Question,
    QuestionType,
    Registration,
    Trade,
)
from .policy import contest_policy


class ContestError(ValueError):
    """A contest write that is not allowed; the message is one line of Chinese naming the field."""


@transaction.atomic
def contest_setup_from_policy(
    *, policy_file: str, organiser: Org, co_organisers: list[Org] | None = None, actor: Any | None = None
) -> Contest:
    """Create or update a contest and its trades (with blueprint time limits) from its policy file.

    Idempotent: the same policy twice changes nothing; a new version updates dates and trade rules.
    Trades are never removed here (they may have registrations); a trade missing from the policy stays.
    """
    policy = contest_policy(policy_file)
    fields = {
        "name": policy.name,
        "organiser": organiser,
        "co_organiser_names": "、".join(policy.co_organisers),
        "level": policy.level,
        "entry": policy.entry,
        "bank_public": policy.bank_public,
        "policy_file": policy.file_name,
        "policy_version": policy.version,
        "registration_opens": policy.registration[0],
        "registration_closes": policy.registration[1],
        "training_opens": policy.training[0],
        "training_closes": policy.training[1],
        "preliminary_opens": policy.preliminary[0],
        "preliminary_closes": policy.preliminary[1],
        "finals_start": policy.finals[0],
        "finals_end": policy.finals[1],
    }
    contest, created = Contest.objects.update_or_create(code=policy.code, defaults=fields)
    if co_organisers is not None:
        contest.co_organisers.set(co_organisers)
    for sort, rules in enumerate(policy.trades):
        trade, _ = Trade.objects.update_or_create(
            contest=contest,
            code=rules.code,
            defaults={
                "name": rules.name,
                "advancement": rules.advancement,
                "finalist_quota": rules.quota,
                "finalist_cutoff": rules.cutoff,
                "theory_weight": rules.theory_weight,
                "practical_weight": rules.practical_weight,
                "sort": sort,
            },
        )
        Blueprint.objects.get_or_create(
            trade=trade, defaults={"time_limit_minutes": rules.time_limit_minutes}
        )
    audit_record(
        actor=actor,
        action="contest.setup",
        target=contest,
        detail={"policy": policy.file_name, "version": policy.version, "created": created},
    )
    return contest


@dataclass(frozen=True)
class RowSpec:
    qtype: str
    knowledge_area: str
    difficulty: int
    count: int
    points: Decimal


@transaction.atomic
def blueprint_set(
    *,
    trade: Trade,
    rows: list[RowSpec],
    time_limit_minutes: int | None = None,
    avoid_practised: bool | None = None,
    actor: Any | None = None,
) -> Blueprint:
    """Replace a trade's blueprint rows; refuses a row the bank cannot fill, naming it (第 N 行)."""
    if not rows:
        raise ContestError("组卷方案至少需要一行")
    drawn = Paper.objects.filter(trade=trade).count()
    if drawn:
        raise ContestError(f"已按组卷方案生成 {drawn} 份试卷，方案不能再修改")
    seen = set()
    for number, row in enumerate(rows, start=1):
        where = f"组卷方案第 {number} 行"
        if row.qtype not in QuestionType.values:
            raise ContestError(f"{where}：题型 {row.qtype!r} 不存在")
        if row.difficulty not in Difficulty.values:
            raise ContestError(f"{where}：难度 {row.difficulty!r} 不存在")
        if row.count < 1 or row.points <= 0:
            raise ContestError(f"{where}：题数与分值应大于 0")
        cell = (row.qtype, row.knowledge_area, row.difficulty)
        if cell in seen:
            raise ContestError(f"{where}：与前面的行重复（同一题型、知识点、难度）")
        seen.add(cell)
        available = Question.objects.filter(
            trade=trade, qtype=row.qtype, knowledge_area=row.knowledge_area, difficulty=row.difficulty
        ).count()
        if available < row.count:
            raise ContestError(
                f"{where}（{QTYPE_ZH[row.qtype]}/{row.knowledge_area}/{DIFFICULTY_ZH[row.difficulty]}）："
                f"需要 {row.count} 题，题库只有 {available} 题"
            )
    blueprint, _ = Blueprint.objects.get_or_create(
        trade=trade, defaults={"time_limit_minutes": time_limit_minutes or 90}
    )
    if time_limit_minutes is not None:
        if time_limit_minutes < 1:
            raise ContestError("考试时长应大于 0 分钟")
        blueprint.time_limit_minutes = time_limit_minutes
    if avoid_practised is not None:
        blueprint.avoid_practised = avoid_practised
    blueprint.save()
    blueprint.rows.all().delete()
    BlueprintRow.objects.bulk_create(
        BlueprintRow(
            blueprint=blueprint,
            position=position,
            qtype=row.qtype,
            knowledge_area=row.knowledge_area,
            difficulty=row.difficulty,
            count=row.count,
            points=row.points,
        )
        for position, row in enumerate(rows)
    )
    audit_record(
        actor=actor,
        action="contest.blueprint_set",
        target=blueprint,
        detail={
            "trade": trade.code,
            "rows": [[r.qtype, r.knowledge_area, r.difficulty, r.count, str(r.points)] for r in rows],
            "time_limit_minutes": blueprint.time_limit_minutes,
            "avoid_practised": blueprint.avoid_practised,
        },
    )
    return blueprint


def _new_ticket() -> str:
    # 12 digits: enough room that a random clash is rare; the unique constraint settles the rest.
    return f"{secrets.randbelow(10**12):012d}"


@transaction.atomic
def registration_create(
    *,
    trade: Trade,
    name: str,
    id_number: str,
    phone: str | None = None,
    enterprise_name: str,
    employer: Employer | None = None,
    union: Org | None = None,
    actor: Any | None = None,
) -> Registration:
    """Enter a worker in a trade: the person is found by ID number (or created, protected), once per trade.

    Raises ContestError when the worker is already entered in this trade; InvalidIdNumber and the
    other people errors on bad identity data.
    """
    enterprise_name = (enterprise_name or "").strip() or (employer.name if employer else "")
    if not enterprise_name:
        raise ContestError("请填写工作单位")
    person = person_find_by_id_number(id_number=id_number)
    if person is None:
        person = person_create(name=name, id_number=id_number, phone=phone, employer=employer, actor=actor)
    if Registration.objects.filter(trade=trade, person=person).exists():
        raise ContestError(f"{person.id_number_masked} 已报名{trade.name}，不能重复报名")
    for _attempt in range(5):
        try:
            with transaction.atomic():
                registration = Registration.objects.create(
                    trade=trade,
                    person=person,
                    employer=employer,
                    enterprise_name=enterprise_name,
                    union=union,
                    ticket=_new_ticket(),
                )
            break
        except IntegrityError:
            if Registration.objects.filter(trade=trade, person=person).exists():
                raise ContestError(f"{person.id_number_masked} 已报名{trade.name}，不能重复报名") from None
    else:  # pragma: no cover - five random 12-digit clashes in a row
        raise ContestError("准考证号生成失败，请重试")
    audit_record(
        actor=actor,
        action="contest.register",
        target=registration,
        detail={"trade": trade.code, "contest": trade.contest.code, "person_id": person.pk},
    )
    return registration


CONSENT_PURPOSE = "contest"


@transaction.atomic
def registration_apply(
    *,
    trade: Trade,
    name: str,
    id_number: str,
    phone: str = "",
    enterprise_name: str,
    consent_version: str,
    consent_items: list[str],
    ip: str | None = None,
    now: dt.datetime | None = None,
) -> Registration:
    """A worker registers themselves (the public page): in the registration stage, with their consent recorded.

    Guarantees: refused outside the stage; the notice and the separate consent for the ID number (and
    for the phone, when one is given) are required; the registration and the consent record are
    written together or not at all.
    """
    now = now or timezone.now()
    contest = trade.contest
    if not contest.registration_opens <= now <= contest.registration_closes:
        raise ContestError(
            f"报名时间为 {timezone.localtime(contest.registration_opens):%Y-%m-%d} 至 "
            f"{timezone.localtime(contest.registration_closes):%Y-%m-%d}"
        )
    needed = {"notice", "id_number"} | ({"phone"} if (phone or "").strip() else set())
    missing = needed - set(consent_items)
    if missing:
        raise ContestError(
            "请阅读并同意告知书，并单独同意处理身份证号" + ("和手机号" if "phone" in missing else "")
        )
    registration = registration_create(
        trade=trade,
        name=name,
        id_number=id_number,
        phone=(phone or "").strip() or None,
        enterprise_name=enterprise_name,
    )
    consent_record(
        person=registration.person,
        purpose=CONSENT_PURPOSE,
        version=consent_version,
        items=consent_items,
        channel=ConsentChannel.ONLINE,
        reference=f"contest:{contest.code}:{trade.code}",
        ip=ip,
    )
    return registration


@transaction.atomic
def judge_score_record(*, registration: Registration, judge: str, score: Decimal, actor: Any | None = None):
    """Record one judge's practical score (0-100) for a finalist; a judge scores a finalist once."""
    from .ranking import is_finalist

    judge = (judge or "").strip()
    if not judge:
        raise ContestError("请填写评委")
    if not Decimal(0) <= score <= Decimal(100):
        raise ContestError(f"评分 {score} 应在 0 到 100 之间")
    if not is_finalist(registration):
        raise ContestError(f"准考证号 {registration.ticket} 的选手未进入决赛")
    try:
        with transaction.atomic():
            row = JudgeScore.objects.create(registration=registration, judge=judge, score=score)
    except IntegrityError:
        raise ContestError(f"评委 {judge} 已为准考证号 {registration.ticket} 的选手评分") from None
    audit_record(
        actor=actor,
        action="contest.judge_score",
        target=registration,
        detail={"judge": judge, "score": str(score)},
    )
    return row
