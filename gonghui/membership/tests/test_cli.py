"""`gonghui members import-roster|approve|export`: collective enrolment end to end and the CLI contract."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from gonghui.lib.idcard import make_id_number
from gonghui.membership.models import MemberNumber, Membership, MembershipEvent
from gonghui.membership.services import membership_apply, membership_approve
from gonghui.people.models import ConsentRecord, Person

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("members", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def roster(tmp_path: Path, n: int, *, start: int = 0, name: str = "美团骑手名册.csv") -> Path:
    lines = ["姓名,身份证号,手机号,职业"]
    for i in range(start, start + n):
        idn = make_id_number("230811", date(1985, 1, 1 + i % 28), 100 + i)
        lines.append(f"骑手{i:03d},{idn},139{i:08d},外卖骑手")
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_roster_becomes_applications_once_with_consent(tmp_path, unions):
    path = roster(tmp_path, 5)
    out, _ = run("import-roster", str(path), "--union", unions.town.code)
    assert "enrolled 5" in out
    pending = Membership.objects.filter(status="pending", org=unions.town, channel="roster")
    assert pending.count() == 5
    assert (
        MembershipEvent.objects.filter(membership__in=pending, from_status="", to_status="pending").count()
        == 5
    )
    consents = ConsentRecord.objects.filter(
        person__memberships__in=pending, channel="roster", purpose="membership"
    )
    assert consents.count() == 5
    assert set(pending.values_list("consent_version", flat=True)) == {consents.first().version}

    # The same roster again enrols nobody twice.
    out, _ = run("import-roster", str(path), "--union", unions.town.code)
    assert "unchanged" in out and "enrolled 0" in out
    assert Membership.objects.count() == 5
    assert ConsentRecord.objects.count() == 5


def test_members_and_applicants_are_left_alone(tmp_path, unions, world):
    path = roster(tmp_path, 3)
    run("import-roster", str(path), "--union", unions.town.code)
    first = Membership.objects.order_by("pk").first()
    membership_approve(membership=first, by=world.city_user)
    # A corrected roster (one more person): the member and the two applicants are not enrolled again.
    bigger = roster(tmp_path, 4, name="美团骑手名册.csv")
    out, _ = run("import-roster", str(bigger), "--union", unions.town.code)
    assert "enrolled 1" in out and "already members or applicants 3" in out
    assert Membership.objects.count() == 4


def test_the_weave_chooses_the_union_under_the_given_one(tmp_path, unions, world):
    from gonghui.weave.models import Coverage, WeaveRun

    path = roster(tmp_path, 3)
    # First import without enrolment logic deciding: run the census part, then set coverage.
    from gonghui.census.services import census_import

    result = census_import(source=path, file_name=path.name, source_kind="platform")
    people = list(Person.objects.order_by("pk"))
    run_ = WeaveRun.objects.create(status="done")
    Coverage.objects.create(person=people[0], run=run_, primary_org=unions.village)  # under 郊区: taken
    Coverage.objects.create(
        person=people[1], run=run_, primary_org=unions.street
    )  # 前进区: not under --union
    from gonghui.membership.bulk import membership_enrol_batch

    enrolled = membership_enrol_batch(batch_id=result.batch.pk, union=unions.town)
    assert enrolled.enrolled == 3
    orgs = dict(Membership.objects.values_list("person_id", "org__code"))
    assert orgs[people[0].pk] == unions.village.code
    assert orgs[people[1].pk] == unions.town.code
    assert orgs[people[2].pk] == unions.town.code


def test_approve_all_pending_numbers_them_set_based(tmp_path, unions, world):
    from gonghui.people.tests.factories import PersonFactory

    run("import-roster", str(roster(tmp_path, 6)), "--union", unions.town.code)
    elsewhere = membership_apply(person=PersonFactory(), org=unions.street, channel="online")
    out, _ = run("approve", "--union", "C230811", "--all-pending")
    assert "approved 6" in out
    active = Membership.objects.filter(status="active").order_by("pk")
    numbers = list(active.values_list("member_no", flat=True))
    year = active.first().joined_on.year
    assert numbers == [f"C230800-{year}-{i:07d}" for i in range(1, 7)]
    assert set(MemberNumber.objects.values_list("number", flat=True)) == set(numbers)
    assert MembershipEvent.objects.filter(from_status="pending", to_status="active").count() == 6
    elsewhere.refresh_from_db()
    assert elsewhere.status == "pending"  # 前进区 is not under 郊区
    # One at a time afterwards continues the same counter.
    membership_approve(membership=elsewhere, by=world.city_user)
    assert Membership.objects.get(pk=elsewhere.pk).member_no == f"C230800-{year}-{7:07d}"
    out, _ = run("approve", "--union", "C230811", "--all-pending")
    assert "approved 0" in out


def test_approve_leaves_someone_active_elsewhere_pending(unions, world):
    from gonghui.people.tests.factories import PersonFactory

    person = PersonFactory()
    pending = membership_apply(person=person, org=unions.town, channel="online")
    # Became a member elsewhere meanwhile (data from before the constraint on pending; forced here).
    Membership.objects.filter(pk=pending.pk).update(status="withdrawn")
    membership_approve(membership=membership_apply(person=person, org=unions.street, channel="online"))
    Membership.objects.filter(pk=pending.pk).update(status="pending")
    out, _ = run("approve", "--union", unions.town.code, "--all-pending")
    assert "approved 0" in out and "active elsewhere) 1" in out


def test_export_writes_every_membership(tmp_path, unions, world):
    run("import-roster", str(roster(tmp_path, 2)), "--union", unions.town.code)
    run("approve", "--union", unions.town.code, "--all-pending")
    out_file = tmp_path / "members.csv"
    out, _ = run("export", str(out_file))
    assert "2 memberships" in out
    with out_file.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == ["person_id", "union_code", "member_no", "status", "joined_on"]
        rows = list(reader)
    assert {r["union_code"] for r in rows} == {unions.town.code}
    assert all(r["status"] == "active" and r["member_no"] and r["joined_on"] for r in rows)
    assert {int(r["person_id"]) for r in rows} == set(Person.objects.values_list("pk", flat=True))


@pytest.mark.parametrize(
    "args, message",
    [
        (["import-roster", "/nonexistent.csv", "--union", "T230811100"], "找不到文件"),
        (["import-roster", "{roster}", "--union", "NOPE"], "没有代码为 NOPE 的工会"),
        (["import-roster", "{roster}", "--union", "T230811100", "--map", "nonsense"], "表头=字段"),
        (["import-roster", "{roster}", "--union", "T230811100", "--source", "fax"], "来源类型"),
        (["approve", "--union", "T230811100"], "--all-pending"),
        (["approve", "--union", "NOPE", "--all-pending"], "NOPE"),
        (["export", "/nonexistent-dir/x.csv"], "目录不存在"),
        (["allow-check", "nobody"], "nobody"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, unions, args, message):
    path = roster(tmp_path, 2)
    args = [a.replace("{roster}", str(path)) for a in args]
    with pytest.raises(CommandError) as caught:
        run(*args)
    assert caught.value.returncode == 2
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert not Membership.objects.exists()


def test_a_roster_without_a_name_column_is_refused(tmp_path, unions):
    path = tmp_path / "bad.csv"
    path.write_text("编号,备注\n1,x\n", encoding="utf-8")
    with pytest.raises(CommandError) as caught:
        run("import-roster", str(path), "--union", unions.town.code)
    assert caught.value.returncode == 2
    assert not Membership.objects.exists() and not Person.objects.exists()


def test_allow_check_grants_and_revokes_the_permission(world):
    from django.contrib.auth import get_user_model

    run("allow-check", "qianjin")
    user = get_user_model().objects.get(username="qianjin")
    assert user.has_perm("membership.check_membership")
    run("allow-check", "qianjin", "--revoke")
    user = get_user_model().objects.get(username="qianjin")
    assert not user.has_perm("membership.check_membership")
