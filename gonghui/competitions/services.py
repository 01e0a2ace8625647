"""Writes for contests, trades, blueprints and registrations. Bank import: `bank`; papers: `papers`; exams: `exam`."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from gonghui.audit.services import audit_record
from gonghui.lib.masking import mask_id_number
from gonghui.orgs.models import Employer, Org
from gonghui.people.models import ConsentChannel
from gonghui.people.services import consent_record, person_create, person_find_by_id_number
from gonghui.regions.models import Region, RegionLevel

from .models import (
    DIFFICULTY_ZH,
    QTYPE_ZH,
    Blueprint,
    BlueprintRow,
    Contest,
    Difficulty,
    Paper,
    Question,
    QuestionType,
    Registration,
    Team,
    Trade,
)
from .policy import ContestPolicy, contest_policy


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


def policy_of(contest: Contest) -> ContestPolicy | None:
    """The contest's policy, or None for a contest set up without one (then anyone may enter, no sheets)."""
    return contest_policy(contest.policy_file) if contest.policy_file else None


def _membership_at_registration(person, trade: Trade, id_number: str) -> tuple[bool, Org | None]:
    """Whether the person (None: not on record) is an active union member now, and of which union;
    refuses a non-member when the contest's policy admits members only."""
    from gonghui.membership.models import MembershipStatus
    from gonghui.membership.services import membership_status_for

    current = membership_status_for(person=person) if person is not None else None
    if current is not None and current.status == MembershipStatus.ACTIVE:
        return True, current.org
    policy = policy_of(trade.contest)
    if policy is not None and policy.members_only:
        who = person.id_number_masked if person is not None else mask_id_number(id_number)
        raise ContestError(
            f"{trade.contest.name}仅限工会会员报名：身份证号 {who} 未查到有效的工会会员身份"
            "（入会申请未批准的也不能报名），请先加入工会或联系所在工会核实"
        )
    return False, None


def work_area_regions(contest: Contest) -> QuerySet[Region]:
    """The regions a worker may name as where they work: under the organiser's region (anywhere when
    it has none), at the level the statistics count by (`stats.region_level`) and one below, by code.
    A province's contest offers its cities and their counties; a city's, its counties and townships."""
    from .stats import region_level

    level = region_level(contest)
    regions = Region.objects.filter(level__in={level, min(level + 1, RegionLevel.VILLAGE)})
    organiser_region = Region.objects.filter(orgs=contest.organiser_id).first()
    if organiser_region is not None:
        regions = regions.filter(code__startswith=organiser_region.prefix)
    return regions.order_by("code")


WORK_AREA = "工作地点"


def work_area_check(*, contest: Contest, region: Region | None, required: bool) -> None:
    """Refuses (ContestError naming the field) a missing work area when `required`, and one outside
    the contest's `work_area_regions`."""
    if region is None:
        if required:
            raise ContestError(f"{WORK_AREA}：请选择您工作所在的地区")
        return
    if not work_area_regions(contest).filter(pk=region.pk).exists():
        raise ContestError(f"{WORK_AREA}：“{region.name}”不在{contest.name}可选的地区内，请从列表中选择")


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
    region: Region | None = None,
    team: Team | None = None,
    team_leader: bool = False,
    actor: Any | None = None,
) -> Registration:
    """Enter a worker in a trade: the person is found by ID number (or created, protected), once per trade.

    Records whether the worker was an active union member at registration, and of which union; a
    contest whose policy admits members only refuses a non-member (ContestError, nothing written).
    `region` is where the worker says they work, kept on the registration for the statistics; one
    outside the contest's `work_area_regions` is refused. The person's own work region is not
    changed: it is a township or community elsewhere (membership, weave), and a city or county
    would misplace them there. Raises ContestError when the worker is already entered in this
    trade; InvalidIdNumber and the other people errors on bad identity data.
    """
    enterprise_name = (enterprise_name or "").strip() or (employer.name if employer else "")
    if not enterprise_name:
        raise ContestError("请填写工作单位")
    work_area_check(contest=trade.contest, region=region, required=False)
    person = person_find_by_id_number(id_number=id_number)
    if person is None:
        _membership_at_registration(None, trade, id_number)  # a members-only contest refuses before creating
        person = person_create(name=name, id_number=id_number, phone=phone, employer=employer, actor=actor)
    if Registration.objects.filter(trade=trade, person=person).exists():
        raise ContestError(f"{person.id_number_masked} 已报名{trade.name}，不能重复报名")
    was_member, member_union = _membership_at_registration(person, trade, id_number)
    for _attempt in range(5):
        try:
            with transaction.atomic():
                registration = Registration.objects.create(
                    trade=trade,
                    person=person,
                    employer=employer,
                    enterprise_name=enterprise_name,
                    union=union,
                    region=region,
                    ticket=_new_ticket(),
                    team=team,
                    team_leader=team_leader,
                    was_member=was_member,
                    member_union=member_union,
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
        detail={
            "trade": trade.code,
            "contest": trade.contest.code,
            "person_id": person.pk,
            "was_member": was_member,
            "member_union_id": member_union.pk if member_union else None,
            "team_id": team.pk if team else None,
            "region": region.code if region else None,
        },
    )
    return registration


CONSENT_PURPOSE = "contest"


def registration_check_open(*, contest: Contest, now: dt.datetime) -> None:
    """Refuses (ContestError) outside the contest's registration stage."""
    if not contest.registration_opens <= now <= contest.registration_closes:
        raise ContestError(
            f"报名时间为 {timezone.localtime(contest.registration_opens):%Y-%m-%d} 至 "
            f"{timezone.localtime(contest.registration_closes):%Y-%m-%d}"
        )


def consent_check(*, items: list[str], phones: list[str]) -> None:
    """The notice and the separate consent for ID numbers (and phones, when any is given) are required."""
    needed = {"notice", "id_number"} | ({"phone"} if any((p or "").strip() for p in phones) else set())
    missing = needed - set(items)
    if missing:
        raise ContestError(
            "请阅读并同意告知书，并单独同意处理身份证号" + ("和手机号" if "phone" in missing else "")
        )


@transaction.atomic
def registration_apply(
    *,
    trade: Trade,
    name: str,
    id_number: str,
    phone: str = "",
    enterprise_name: str,
    region: Region | None,
    consent_version: str,
    consent_items: list[str],
    ip: str | None = None,
    now: dt.datetime | None = None,
    actor: Any | None = None,
) -> Registration:
    """A worker registers themselves (the public page), or a caller of the API for them (`actor`, audited):
    in the registration stage, with their consent recorded.

    Guarantees: refused outside the stage; the notice and the separate consent for the ID number (and
    for the phone, when one is given) are required; so is where the worker works (`region`, one of
    `work_area_regions`): the enterprise is typed, not a known one, so nothing else places them in
    the statistics; the registration and the consent record are written together or not at all.
    """
    now = now or timezone.now()
    contest = trade.contest
    if contest.entry == "team":
        raise ContestError(f"{contest.name}为团体赛，请以团队报名")
    registration_check_open(contest=contest, now=now)
    work_area_check(contest=contest, region=region, required=True)
    consent_check(items=consent_items, phones=[phone])
    registration = registration_create(
        trade=trade,
        name=name,
        id_number=id_number,
        phone=(phone or "").strip() or None,
        enterprise_name=enterprise_name,
        region=region,
        actor=actor,
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


def judge_score_record(
    *,
    registration: Registration,
    judge: str,
    score: Decimal | None = None,
    criteria: dict[str, Decimal] | None = None,
    actor: Any | None = None,
):
    """Record one judge's practical score for a finalist: a sheet by criterion when the trade's policy
    has one (the score is their sum), else one score of 0-100; a judge scores a finalist once.
    See `sheets.sheet_record` for the guarantees."""
    from .sheets import sheet_record

    return sheet_record(registration=registration, judge=judge, score=score, criteria=criteria, actor=actor)
