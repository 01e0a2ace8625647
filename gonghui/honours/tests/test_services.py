import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from gonghui.audit.models import AuditEvent
from gonghui.honours.models import CertificateCounter, Honour
from gonghui.honours.services import HonourError, honour_grant, honour_revoke, honours_grant_bulk

from .conftest import CASH, grant


def test_it_numbers_certificates_by_the_conferring_unions_rule_per_year(world, people):
    report = honours_grant_bulk(
        grants=[grant(p, world.suburb_fed) for p in people]
        + [grant(people[0], world.city_fed, source_id="9")],
        actor=world.district_user,
    )
    numbers = sorted(h.certificate_no for h in report.created)
    assert numbers == [
        "C230800-RY2026-000001",
        "C230811-RY2026-000001",
        "C230811-RY2026-000002",
        "C230811-RY2026-000003",
    ]
    later = honour_grant(**{**grant(people[1], world.suburb_fed, source_id="2").__dict__, "detail": {}})
    assert later.certificate_no == "C230811-RY2026-000004"
    next_year = honour_grant(
        **{**grant(people[1], world.suburb_fed, source_id="3", conferred_on=dt.date(2027, 1, 5)).__dict__}
    )
    assert next_year.certificate_no == "C230811-RY2027-000001"
    honour = Honour.objects.get(certificate_no="C230811-RY2026-000001")
    assert (honour.holder_name, honour.holder_key, honour.granted_by) in {
        (p.name, f"person:{p.pk}", world.district_user) for p in people
    }
    assert honour.policy_effective == dt.date(2026, 3, 1) and honour.policy_document == "郊区职工技能比武方案"


def test_granting_the_same_source_holder_and_title_twice_creates_nothing_twice(world, people):
    first = honours_grant_bulk(grants=[grant(p, world.suburb_fed) for p in people])
    again = honours_grant_bulk(grants=[grant(p, world.suburb_fed) for p in people] * 2)
    assert len(first.created) == 3 and again.created == [] and len(again.existing) == 3
    assert Honour.objects.count() == 3
    assert honour_grant(**grant(people[0], world.suburb_fed).__dict__).pk in {h.pk for h in first.created}
    assert CertificateCounter.objects.get(prefix="C230811-RY2026-").next_value == 4  # nothing numbered twice
    # the database refuses a duplicate even when the service is bypassed
    row = Honour.objects.first()
    row.pk, row.certificate_no = None, "OTHER-1"
    with pytest.raises(IntegrityError), transaction.atomic():
        row.save()


def test_a_bulk_grant_with_one_bad_item_writes_nothing_and_names_the_item(world, people):
    bad = grant(people[1], world.suburb_fed, **{**CASH, "amount": None})
    with pytest.raises(HonourError, match="第 2 项：现金奖励需要大于 0 的金额"):
        honours_grant_bulk(grants=[grant(people[0], world.suburb_fed), bad])
    with pytest.raises(HonourError, match="第 1 项：只有现金奖励才有金额"):
        honours_grant_bulk(grants=[grant(people[0], world.suburb_fed, amount=Decimal(5))])
    with pytest.raises(HonourError, match="需要获得者"):
        honours_grant_bulk(grants=[grant(None, world.suburb_fed)])
    assert Honour.objects.count() == 0 and not CertificateCounter.objects.filter(next_value__gt=1).exists()


def test_cash_awards_carry_the_amount_and_teams_can_be_holders(world, people):
    cash = honour_grant(**grant(people[0], world.suburb_fed, **CASH).__dict__)
    assert cash.amount == Decimal("10000.00") and cash.kind == "cash"
    team = honour_grant(**grant(None, world.suburb_fed, team_name="长发镇电工班").__dict__)
    assert (team.holder_name, team.holder_key, team.person) == ("长发镇电工班", "team:长发镇电工班", None)
    with pytest.raises(IntegrityError), transaction.atomic():
        Honour.objects.filter(pk=cash.pk).update(amount=None)  # the database holds the rule too


def test_revoking_keeps_the_row_and_its_number_and_needs_a_reason(world, people):
    honour = honour_grant(**grant(people[0], world.suburb_fed).__dict__)
    with pytest.raises(HonourError, match="撤销需要填写原因"):
        honour_revoke(honour=honour, reason="  ", actor=world.district_user)
    revoked = honour_revoke(honour=honour, reason="成绩复核后名次变更", actor=world.district_user)
    assert (revoked.revoked, revoked.revoked_reason, revoked.revoked_by) == (
        True,
        "成绩复核后名次变更",
        world.district_user,
    )
    with pytest.raises(HonourError, match="已撤销"):
        honour_revoke(honour=honour, reason="again", actor=world.district_user)
    # a new honour never takes the revoked one's number
    other = honour_grant(**grant(people[1], world.suburb_fed).__dict__)
    assert other.certificate_no != revoked.certificate_no and Honour.objects.count() == 2
    actions = list(AuditEvent.objects.filter(action__startswith="honours.").values_list("action", flat=True))
    assert sorted(actions) == ["honours.grant", "honours.grant", "honours.revoke"]


def test_a_bulk_grant_costs_the_same_queries_for_many_honours(world, people):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from gonghui.people.services import person_create

    many = [person_create(name=f"职工{i}") for i in range(40)]
    with CaptureQueriesContext(connection) as few_queries:
        honours_grant_bulk(grants=[grant(p, world.suburb_fed, source_id="few") for p in many[:2]])
    with CaptureQueriesContext(connection) as many_queries:
        report = honours_grant_bulk(grants=[grant(p, world.suburb_fed) for p in many])
    assert len(report.created) == 40 and Honour.objects.count() == 42
    # the first call also creates the counter row: 40 honours cost no more queries than 2
    assert len(many_queries) <= len(few_queries) <= 16
