import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from gonghui.regions.models import Region


@pytest.mark.django_db
def test_it_loads_the_shipped_table_by_default_and_prints_counts(capsys):
    call_command("regions", "load")
    first = capsys.readouterr().out.strip()
    assert first.startswith("created ") and first.endswith("updated 0, unchanged 0")
    call_command("regions", "load")
    assert capsys.readouterr().out.strip() == f"created 0, updated 0, unchanged {Region.objects.count()}"


@pytest.mark.django_db
def test_it_exits_2_with_one_line_on_a_bad_table(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("code,name,level,parent_code\n230899001,某街道,township,230899\n", encoding="utf-8")
    with pytest.raises(CommandError) as caught:
        call_command("regions", "load", str(bad))
    assert caught.value.returncode == 2
    assert str(caught.value) == "第 2 行：上级代码 230899000000 不存在"
    assert Region.objects.count() == 0


@pytest.mark.django_db
def test_it_exits_2_on_a_missing_file(tmp_path):
    with pytest.raises(CommandError) as caught:
        call_command("regions", "load", str(tmp_path / "nope.csv"))
    assert caught.value.returncode == 2


def test_it_has_help():
    result = subprocess.run(
        [sys.executable, "-m", "gonghui", "regions", "load", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert "Load a division table" in result.stdout
