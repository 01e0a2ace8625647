"""`gonghui weave run|export`, and the whole path other tools use: orgs import, census import, weave run, export."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from gonghui.lib.creditcode import make_credit_code
from gonghui.lib.idcard import make_id_number
from gonghui.people.models import Person
from gonghui.weave.models import Coverage, RunStatus, WeaveRun

from . import weave_scenario

pytestmark = pytest.mark.django_db
weave_city = weave_scenario.weave_city  # the fixture

EXPORT_HEADER = ["person_id", "primary_org_code", "covering_org_codes", "reason"]


def gonghui(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def read_export(path: Path) -> dict[int, dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == EXPORT_HEADER
        return {int(row["person_id"]): row for row in reader}


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_the_held_out_path_orgs_import_census_import_weave_run_export(tmp_path):
    """Orgs and people as files through the command line, every rule, a hole with and without a region, overlaps."""
    gonghui(
        "regions", "load"
    )  # the shipped Jiamusi table: 郊区 230811 > 长发镇 230811100 > 富民村 230811100201
    shunda = make_credit_code(1)
    orgs = write_csv(
        tmp_path / "orgs.csv",
        "code,name,kind,parent_code,region_code,covers_regions,covers_groups,employer_credit_codes,status".split(
            ","
        ),
        [
            ["C230800", "佳木斯市总工会", "federation", "", "230800", "", "", "", ""],
            ["C230811", "郊区总工会", "federation", "C230800", "230811", "", "", "", ""],
            ["E001", "顺达快递有限公司工会", "企业工会", "C230811", "230811", "", "", shunda, ""],
            [
                "I001",
                "郊区快递行业工会联合会",
                "行业工会联合会",
                "C230811",
                "230811",
                "230811",
                "courier",
                "",
                "",
            ],
            [
                "I002",
                "佳木斯市快递行业工会联合会",
                "industry",
                "C230800",
                "230800",
                "230800",
                "快递员",
                "",
                "",
            ],
            [
                "I003",
                "长发镇快递行业工会（撤销）",
                "industry",
                "C230811",
                "230811100",
                "230811100",
                "courier",
                "",
                "撤销",
            ],
            ["J001", "长发镇联合工会", "区域联合工会", "C230811", "230811100", "", "", "", ""],
            ["J002", "郊区外卖骑手联合工会", "joint", "C230811", "230811", "230811", "rider", "", ""],
            ["T001", "长发镇总工会", "乡镇工会", "C230811", "230811100", "", "", "", ""],
            ["V001", "富民村工会", "村工会", "T001", "230811100201", "", "", "", ""],
        ],
    )
    out, err = gonghui("orgs", "import", str(orgs))
    assert "created 10" in out and "weave run" in err

    def id_no(seq: int) -> str:
        return make_id_number("230811", date(1990, 1, seq), seq)

    people = write_csv(
        tmp_path / "平台名册.csv",
        ["姓名", "身份证号", "工作单位", "统一社会信用代码", "职业", "所属社区"],
        [
            [
                "张企业",
                id_no(1),
                "顺达快递有限公司",
                shunda,
                "快递员",
                "郊区长发镇富民村",
            ],  # enterprise, by credit code
            ["钱企业", id_no(2), "顺达快递有限公司", "", "快递员", ""],  # enterprise, by name; no region
            ["王快递", id_no(3), "", "", "快递员", "郊区长发镇富民村"],  # nearest industry federation
            [
                "李骑手",
                id_no(4),
                "某外卖站",
                "",
                "外卖骑手",
                "长发镇",
            ],  # joint (the town's before 郊区's riders')
            ["周护工", id_no(5), "", "", "护工", "长发镇"],  # joint (no groups declared)
            ["赵护工", id_no(6), "", "", "护工", "永安街道"],  # 前进区: no union at all, a hole with a region
            ["孙无名", id_no(7), "", "", "护工", ""],  # no region, no employer union: a hole
        ],
    )
    gonghui("census", "import", str(people), "--source", "platform")
    by_name = {p.name: p for p in Person.objects.select_related("employer", "group", "work_region")}
    # What the census fills is what the rules need: the employer the orgs import created, group, work region.
    assert by_name["张企业"].employer.credit_code == shunda
    assert by_name["钱企业"].employer_id == by_name["张企业"].employer_id
    assert by_name["王快递"].group.code == "courier" and by_name["王快递"].work_region.code == "230811100201"

    out, err = gonghui("weave", "run")
    assert "people 7, covered 5, holes 2, overlaps 4" in out
    assert "changed 0 (gained 0, lost 0, switched 0)" in out
    assert "ranking" in err  # progress on stderr

    export = tmp_path / "out" / "weave.csv"
    export.parent.mkdir()
    out, _err = gonghui("weave", "export", str(export))
    assert "7 people" in out
    rows = read_export(export)
    got = {
        name: (rows[p.pk]["primary_org_code"], rows[p.pk]["covering_org_codes"], rows[p.pk]["reason"])
        for name, p in by_name.items()
    }
    assert got == {
        "张企业": ("E001", "E001;I001;I002;J001;T001;V001", "所在企业已单独建会"),
        "钱企业": ("E001", "E001", "所在企业已单独建会"),
        "王快递": ("I001", "I001;I002;J001;T001;V001", "由郊区快递行业工会联合会覆盖"),
        "李骑手": ("J001", "J001;J002;T001", "由长发镇联合工会覆盖"),
        "周护工": ("J001", "J001;T001", "由长发镇联合工会覆盖"),
        "赵护工": ("", "", "无工会覆盖"),
        "孙无名": ("", "", "无工会覆盖"),
    }


def test_run_prints_the_changes_against_the_previous_run(weave_city):
    from gonghui.orgs.models import OrgStatus

    gonghui("weave", "run")
    weave_city.ent.status = OrgStatus.DISSOLVED
    weave_city.ent.save()
    out, _err = gonghui("weave", "run")
    assert "changed 2 (gained 0, lost 1, switched 1)" in out
    assert WeaveRun.objects.filter(status=RunStatus.DONE).count() == 2


def test_export_refuses_bad_input_with_exit_2_and_one_chinese_line(tmp_path, weave_city):
    with pytest.raises(CommandError, match="还没有完成的织网运行") as exc:
        gonghui("weave", "export", str(tmp_path / "x.csv"))
    assert exc.value.returncode == 2
    gonghui("weave", "run")
    with pytest.raises(CommandError, match="目录 .* 不存在") as exc:
        gonghui("weave", "export", str(tmp_path / "missing" / "x.csv"))
    assert exc.value.returncode == 2
    assert not (tmp_path / "missing").exists()


def test_run_refuses_a_bad_date_and_a_date_before_the_policy(weave_city):
    for args, reason in ((["--date", "2026-13-01"], "YYYY-MM-DD"), (["--date", "1999-01-01"], "还没有生效")):
        with pytest.raises(CommandError, match=reason) as exc:
            gonghui("weave", "run", *args)
        assert exc.value.returncode == 2
    assert not Coverage.objects.exists()
    assert not WeaveRun.objects.filter(status__in=[RunStatus.DONE, RunStatus.RUNNING]).exists()


def test_run_queued_runs_a_queued_run_once(weave_city):
    from gonghui.weave.services import weave_run_queue

    run = weave_run_queue(trigger="test", launch=False)
    out, _err = gonghui("weave", "run-queued", str(run.pk))
    assert f"weave run #{run.pk}: people 10" in out
    out, _err = gonghui("weave", "run-queued", str(run.pk))
    assert "nothing to do" in out
    with pytest.raises(CommandError, match="没有编号为 999999") as exc:
        gonghui("weave", "run-queued", "999999")
    assert exc.value.returncode == 2


def test_export_writes_primary_first_then_the_rest_in_rank_order(tmp_path, weave_city):
    gonghui("weave", "run")
    out = tmp_path / "w.csv"
    gonghui("weave", "export", str(out))
    rows = read_export(out)
    p = weave_city.people
    assert rows[p.ent.pk]["covering_org_codes"] == "ENT;INDS;INDC;J1;T230811100;V1"
    assert rows[p.hole.pk] == {
        "person_id": str(p.hole.pk),
        "primary_org_code": "",
        "covering_org_codes": "",
        "reason": "无工会覆盖",
    }
    assert len(rows) == 10
