import io
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from gonghui.audit.models import AuditEvent
from gonghui.lib.creditcode import make_credit_code
from gonghui.orgs.models import Employer, Org
from gonghui.orgs.services import orgs_import_csv

HEADER = "code,name,kind,parent_code,region_code,covers_regions,covers_groups,employer_credit_codes"
SF = make_credit_code(101, "230811")  # 顺丰 in 郊区
JD = make_credit_code(102, "230811")
MT = make_credit_code(103, "230804")


def csv_text(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


# Parents come after their children on purpose (the enterprise union before its industry federation).
GOOD = csv_text(
    f"E1,佳木斯顺丰速运有限公司工会,企业工会,I1,230811100,,courier,{SF}",
    "I1,郊区快递行业工会联合会,industry,C230811,230811,230811,快递员;rider,",
    f"J1,长发镇区域联合工会,区域联合工会,T230811100,230811100,230811100,,{JD};{MT}",
    "V1,新发村工会,村工会,T230811100,230811100,,,",
)


def run(text: str, **kwargs):
    return orgs_import_csv(source=io.StringIO(text), **kwargs)


def snapshot():
    return (
        sorted(Org.objects.values_list("code", "name", "parent_id", "path", "depth")),
        sorted(Employer.objects.values_list("credit_code", "name")),
        sorted(Org.covers_regions.through.objects.values_list("org_id", "region_id")),
        sorted(Org.covers_groups.through.objects.values_list("org_id", "occupationgroup_id")),
        sorted(Org.covers_employers.through.objects.values_list("org_id", "employer_id")),
    )


def test_it_creates_orgs_with_paths_coverage_and_employers(world):
    report = run(GOOD, actor=world.city_user)
    assert report.errors == []
    assert (report.created, report.updated, report.unchanged) == (4, 0, 0)

    industry = Org.objects.get(code="I1")
    enterprise = Org.objects.get(code="E1")
    assert industry.parent == world.suburb_fed
    assert industry.path == f"{world.suburb_fed.path}{industry.pk}/" and industry.depth == 2
    assert enterprise.parent == industry
    assert enterprise.path == f"{industry.path}{enterprise.pk}/" and enterprise.depth == 3
    assert enterprise.kind == "enterprise" and enterprise.region == world.suburb_town
    assert Org.objects.get(code="J1").kind == "joint"
    assert Org.objects.get(code="V1").kind == "village"

    assert set(industry.covers_groups.values_list("code", flat=True)) == {"courier", "rider"}
    assert list(industry.covers_regions.all()) == [world.suburb]
    assert list(enterprise.covers_employers.values_list("credit_code", "name")) == [
        (SF, "佳木斯顺丰速运有限公司")
    ]
    # An employer listed with others gets a neutral name: the union's name is not the employer's.
    assert Employer.objects.get(credit_code=JD).name == f"统一社会信用代码 {JD} 的单位"
    assert not Employer.objects.get(credit_code=SF).is_head_enterprise

    event = AuditEvent.objects.get(action="orgs.import")
    assert event.actor == world.city_user and event.detail["created"] == 4

    # The new orgs are in the district's scope and out of the sibling's.
    from gonghui.orgs.selectors import org_list

    assert {"E1", "I1", "J1", "V1"} <= {o.code for o in org_list(viewer=world.district_user)}
    assert not {"E1", "I1", "J1", "V1"} & {o.code for o in org_list(viewer=world.sibling_user)}


def test_it_reports_everything_unchanged_the_second_time(world):
    run(GOOD)
    before = snapshot()
    again = run(GOOD)
    assert (again.created, again.updated, again.unchanged, again.errors) == (0, 0, 4, [])
    assert snapshot() == before


def test_it_updates_names_coverage_and_leaves_employers_it_knows(world):
    run(GOOD)
    Employer.objects.filter(credit_code=SF).update(name="顺丰速运", is_head_enterprise=True)
    changed = GOOD.replace("新发村工会", "新发村工会委员会").replace("快递员;rider", "快递员")
    report = run(changed)
    assert (report.created, report.updated, report.unchanged) == (0, 2, 2)
    assert Org.objects.get(code="V1").name == "新发村工会委员会"
    assert list(Org.objects.get(code="I1").covers_groups.values_list("code", flat=True)) == ["courier"]
    assert Employer.objects.filter(credit_code=SF, name="顺丰速运", is_head_enterprise=True).exists()


def test_it_moves_a_subtree_when_a_parent_changes(world):
    run(GOOD)
    # A child the file does not mention must follow its parent too.
    from gonghui.orgs.services import org_create

    shop = org_create(code="E2", name="某门店工会", kind="enterprise", parent=Org.objects.get(code="E1"))
    moved = GOOD.replace(
        "I1,郊区快递行业工会联合会,industry,C230811", "I1,郊区快递行业工会联合会,industry,C230800"
    )
    report = run(moved)
    assert (report.created, report.updated, report.unchanged) == (0, 1, 3)
    industry = Org.objects.get(code="I1")
    assert industry.parent == world.city_fed and industry.depth == 1
    shop.refresh_from_db()
    assert shop.path == f"{world.city_fed.path}{industry.pk}/{Org.objects.get(code='E1').pk}/{shop.pk}/"
    assert shop.depth == 3


def test_it_moves_existing_orgs_in_either_order_in_one_file(world):
    # 长发镇总工会 goes to the top, and 郊区总工会 under it: the reverse of today's tree.
    text = csv_text(
        "C230811,郊区总工会,federation,T230811100,230811,,,",
        "T230811100,长发镇总工会,township,,230811100,,,",
    )
    report = run(text)
    assert report.errors == []
    town = Org.objects.get(code="T230811100")
    suburb = Org.objects.get(code="C230811")
    assert (town.parent, town.path, town.depth) == (None, f"/{town.pk}/", 0)
    assert (suburb.parent, suburb.path, suburb.depth) == (town, f"/{town.pk}/{suburb.pk}/", 1)


def test_it_reads_optional_columns_and_full_width_separators(world):
    text = csv_text(
        "V2,永丰村工会,village,T230811100,230811100201,,courier；rider,,2021-11-03,筹建",
        header=HEADER + ",founded_on,status",
    )
    world_village = world.suburb_town.children.create(code="230811100201", name="永丰村", level=5)
    report = run(text)
    assert report.errors == [] and report.created == 1
    org = Org.objects.get(code="V2")
    assert (str(org.founded_on), org.status, org.region) == ("2021-11-03", "preparing", world_village)
    assert org.covers_groups.count() == 2


BAD_ROWS = [
    ("X1,某工会,federation,C230811,230899,,,", "第 2 行 region_code：行政区划 230899 不存在"),
    (
        "X1,某工会,federation,C999,230811,,,",
        "第 2 行 parent_code：上级组织 C999 不存在（文件和数据库中都没有）",
    ),
    ("X1,某工会,club,C230811,230811,,,", "第 2 行 kind：未知的组织类型 'club'"),
    (
        "X1,某工会,federation,C230811,2308X1,,,",
        "第 2 行 region_code：行政区划代码不对：代码 '2308X1' 应只含数字",
    ),
    ("X1,某工会,federation,C230811,230811,230811;230898,,", "第 2 行 covers_regions：行政区划 230898 不存在"),
    ("X1,某工会,federation,C230811,230811,,courier;厨师,", "第 2 行 covers_groups：未知的职业群体 厨师"),
    ("X1,,federation,C230811,230811,,,", "第 2 行 name：缺少组织名称"),
    ("X1,某工会,federation,X1,230811,,,", "第 2 行 parent_code：上级组织不能是自己（X1）"),
]


@pytest.mark.parametrize(("row", "message"), BAD_ROWS)
def test_it_names_the_row_and_column_of_a_bad_row(world, row, message):
    report = run(csv_text(row))
    assert [str(e) for e in report.errors][0].startswith(message)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 0)


def test_it_refuses_a_bad_credit_code_with_its_reason(world):
    bad = SF[:-1] + ("0" if SF[-1] != "0" else "1")
    report = run(csv_text(f"E9,某企业工会,enterprise,C230811,230811,,,{bad}"))
    assert [str(e) for e in report.errors] == [
        f"第 2 行 employer_credit_codes：{bad}：统一社会信用代码校验位不符：应为 {SF[-1]}，实为 {bad[-1]}"
    ]


def test_it_finds_loops_in_the_file_and_through_the_database(world):
    in_file = run(csv_text("A,甲工会,joint,B,,,,", "B,乙工会,joint,A,,,,"))
    assert [str(e) for e in in_file.errors] == [
        "第 2 行 parent_code：上级组织形成循环：A → B → A",
        "第 3 行 parent_code：上级组织形成循环：A → B → A",
    ]
    # 郊区总工会 put under its own township union, which the file does not mention.
    via_db = run(csv_text("C230811,郊区总工会,federation,T230811100,230811,,,"))
    assert [str(e) for e in via_db.errors] == [
        "第 2 行 parent_code：上级组织形成循环：C230811 → T230811100 → C230811"
    ]


def test_it_writes_nothing_when_any_row_is_bad(world):
    before = snapshot()
    text = (
        GOOD.rstrip("\n") + "\nX1,某工会,federation,C230811,230899,,,\nX1,重复,federation,C230811,230811,,,\n"
    )
    report = run(text)
    assert [str(e) for e in report.errors] == [
        "第 6 行 region_code：行政区划 230899 不存在",
        "第 7 行 code：组织代码 X1 重复（已见于第 6 行）",
    ]
    assert snapshot() == before
    assert not AuditEvent.objects.filter(action="orgs.import").exists()


def test_it_refuses_a_file_without_the_columns(world):
    report = run("code,name\nX1,某工会\n")
    assert [str(e) for e in report.errors] == [
        "第 1 行：表头缺少列 kind, parent_code, region_code, covers_regions, covers_groups, employer_credit_codes"
        "（应为 code,name,kind,parent_code,region_code,covers_regions,covers_groups,employer_credit_codes"
        "[,founded_on][,status]）"
    ]


def test_it_imports_a_file_from_the_command_line(world, tmp_path, capsys):
    path = tmp_path / "orgs.csv"
    path.write_text(GOOD, encoding="utf-8-sig")
    call_command("orgs", "import", str(path))
    assert capsys.readouterr().out.strip() == "created 4, updated 0, unchanged 0"
    call_command("orgs", "import", str(path))
    assert capsys.readouterr().out.strip() == "created 0, updated 0, unchanged 4"
    call_command("orgs", "list", "--under", "C230811")
    listing = capsys.readouterr().out
    assert "郊区快递行业工会联合会" in listing and "前进区总工会" not in listing


def test_it_exits_2_printing_each_bad_row_then_a_summary(world, tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text(csv_text("X1,某工会,federation,C999,230899,,,"), encoding="utf-8")
    with pytest.raises(CommandError) as caught:
        call_command("orgs", "import", str(path))
    assert caught.value.returncode == 2
    assert str(caught.value) == "2 处错误（1 行），未写入任何数据"
    assert capsys.readouterr().err.splitlines() == [
        "第 2 行 parent_code：上级组织 C999 不存在（文件和数据库中都没有）",
        "第 2 行 region_code：行政区划 230899 不存在",
    ]
    assert not Org.objects.filter(code="X1").exists()


def test_it_exits_2_on_a_missing_file(world, tmp_path):
    with pytest.raises(CommandError) as caught:
        call_command("orgs", "import", str(tmp_path / "nope.csv"))
    assert caught.value.returncode == 2


def test_it_has_help():
    result = subprocess.run(
        [sys.executable, "-m", "gonghui", "orgs", "import", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert "employer_credit_codes" in result.stdout


def test_it_uses_no_more_queries_for_many_rows_than_for_few(world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_for(prefix: str, n: int, seed: int) -> int:
        rows = [
            f"{prefix}{i},企业{prefix}{i}工会,enterprise,C230811,230811100,230811100,courier,{make_credit_code(seed + i)}"
            for i in range(n)
        ]
        with CaptureQueriesContext(connection) as ctx:
            report = run(csv_text(*rows))
        assert report.created == n
        return len(ctx.captured_queries)

    assert queries_for("A", 5, 1000) == queries_for("B", 200, 2000)
