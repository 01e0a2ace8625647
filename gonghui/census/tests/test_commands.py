"""`gonghui census ...`: the command-line contract (exit codes, summary, export-links columns and row
numbers), and a real process killed during the write leaving nothing behind."""

from __future__ import annotations

import csv
import io
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import translation

from gonghui.census.models import BatchRow, BatchStatus, ImportBatch, ReviewItem
from gonghui.census.services import TEST_SLEEP_ENV, census_import_start
from gonghui.conftest import TEST_DATA_KEY
from gonghui.people.models import Person
from gonghui.people.services import id_number_hash

from .test_services import LI, NO_NAME, WANG, ZHANG, census_csv

TITLE = ["佳木斯市外卖骑手摸底登记表", "填报日期：2021年10月1日"]


@pytest.fixture(autouse=True)
def _english():
    """The command speaks the site's language (Chinese by default); these tests read the English."""
    with translation.override("en"):
        yield


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("census", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def read_links(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == ["source_file", "source_row", "person_id", "status", "group"]
        return list(reader)


@pytest.mark.django_db
def test_it_imports_a_file_and_prints_the_summary(tmp_path):
    path = write(tmp_path, "骑手名册.csv", census_csv([ZHANG, LI, WANG, NO_NAME], title=TITLE))
    out, err = run("import", str(path), "--source", "platform")
    assert "rows 4, valid 3, rejected 1, new people 3, linked 0, review 0" in out
    assert "read:" in err and "write:" in err
    batch = ImportBatch.objects.get()
    assert batch.status == BatchStatus.DONE and batch.header_row == 3

    out, _err = run("import", str(path), "--source", "platform")
    assert "unchanged" in out and f"batch {batch.pk}" in out
    assert ImportBatch.objects.count() == 1 and BatchRow.objects.count() == 4


@pytest.mark.django_db
def test_it_takes_a_name_a_sheet_a_hand_mapping_and_an_owner(tmp_path, world):
    path = write(tmp_path, "roster.csv", census_csv([("张建国", "13800000001")], headers=("师傅", "号码")))
    run("import", str(path), "--source", "association", "--name", "快递协会名册", "--sheet", "1",
        "--map", "师傅=name", "--map", "号码=phone", "--org", world.suburb_fed.code)  # fmt: skip
    batch = ImportBatch.objects.get()
    assert (batch.name, batch.org, batch.rows_valid) == ("快递协会名册", world.suburb_fed, 1)
    assert batch.mapping == {"师傅": "name", "号码": "phone"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "data", "reason"),
    [
        (["--source", "nonsense"], census_csv([ZHANG]), "来源类型"),
        (["--source", "tax"], b"\x00\x01garbage\xff" * 40, ""),
        (["--source", "tax"], census_csv([("1", "x")], headers=("序号", "备注")), "姓名"),
        (["--source", "tax", "--map", "broken"], census_csv([ZHANG]), "--map"),
        (["--source", "tax", "--org", "NO-SUCH"], census_csv([ZHANG]), "NO-SUCH"),
    ],
)
def test_it_refuses_a_bad_file_or_option_with_exit_2_and_writes_nothing(tmp_path, args, data, reason):
    path = write(tmp_path, "名册.xlsx" if data.startswith(b"\x00") else "名册.csv", data)
    with pytest.raises(CommandError) as refused:
        run("import", str(path), *args)
    assert refused.value.returncode == 2
    assert reason in str(refused.value) and "\n" not in str(refused.value)
    assert not ImportBatch.objects.exists() and not Person.objects.exists()


@pytest.mark.django_db
def test_it_exports_one_line_per_row_of_current_batches(tmp_path):
    riders = write(tmp_path, "骑手名册.csv", census_csv([ZHANG, LI, NO_NAME], title=TITLE))
    run("import", str(riders), "--source", "platform")
    tax = write(tmp_path, "税务.csv", census_csv([LI, WANG]))
    run("import", str(tax), "--source", "tax")
    out_path = tmp_path / "links.csv"
    out, _err = run("export-links", str(out_path))
    assert "5 rows" in out
    links = read_links(out_path)
    zhang = Person.objects.get(id_number_hash=id_number_hash(ZHANG[1]))
    li = Person.objects.get(id_number_hash=id_number_hash(LI[1]))
    wang = Person.objects.get(id_number_hash=id_number_hash(WANG[1]))
    assert links == [
        # Title block and header on rows 1-3: the first data row is row 4, as a spreadsheet shows it.
        {"source_file": "骑手名册.csv", "source_row": "4", "person_id": str(zhang.pk), "status": "new", "group": "courier"},
        {"source_file": "骑手名册.csv", "source_row": "5", "person_id": str(li.pk), "status": "new", "group": "rider"},
        {"source_file": "骑手名册.csv", "source_row": "6", "person_id": "", "status": "rejected", "group": "security_guard"},
        {"source_file": "税务.csv", "source_row": "2", "person_id": str(li.pk), "status": "linked", "group": "rider"},
        {"source_file": "税务.csv", "source_row": "3", "person_id": str(wang.pk), "status": "new", "group": "security_guard"},
    ]  # fmt: skip

    # A corrected version replaces the old batch's lines.
    (tmp_path / "v2").mkdir()
    corrected = write(tmp_path / "v2", "骑手名册.csv", census_csv([ZHANG, LI], title=TITLE))
    run("import", str(corrected), "--source", "platform")
    run("export-links", str(out_path))
    files = [(row["source_file"], row["source_row"]) for row in read_links(out_path)]
    assert files == [("税务.csv", "2"), ("税务.csv", "3"), ("骑手名册.csv", "4"), ("骑手名册.csv", "5")]


@pytest.mark.django_db
def test_it_lists_the_review_queue_masked(tmp_path):
    run("import", str(write(tmp_path, "a.csv", census_csv([ZHANG, LI]))), "--source", "platform")
    row = BatchRow.objects.get(row_number=2)
    li = Person.objects.get(id_number_hash=id_number_hash(LI[1]))
    ReviewItem.objects.create(row=row, candidate=li, match_probability=0.77)
    out, _err = run("review")
    assert "0.77" in out and "a.csv:2" in out and "1 open review items" in out
    assert ZHANG[1] not in out and LI[1] not in out and ZHANG[2] not in out
    assert li.id_number_masked in out


@pytest.mark.django_db
def test_it_runs_a_queued_batch(tmp_path, settings):
    settings.VAR_DIR = tmp_path
    settings.CENSUS_RUN_INLINE = False
    batch = census_import_start(source=census_csv([ZHANG, LI]), file_name="q.csv", source_kind="hrss")
    assert batch.status == BatchStatus.QUEUED  # launch happens on commit, which the test never reaches
    out, err = run("run-batch", str(batch.pk))
    batch.refresh_from_db()
    assert batch.status == BatchStatus.DONE and batch.rows_total == 2
    assert "rows 2" in out and "link:" in err
    out, _err = run("run-batch", str(batch.pk))
    assert "already done" in out
    with pytest.raises(CommandError) as missing:
        run("run-batch", "987654")
    assert missing.value.returncode == 2


def test_it_writes_messy_files_with_truth(tmp_path):
    out, _err = run("make-messy", str(tmp_path), "--people", "30", "--seed", "3")
    assert (tmp_path / "truth.csv").is_file()
    assert "truth" in out
    assert len(list(tmp_path.iterdir())) >= 3


# --- real processes ---------------------------------------------------------------------------


@pytest.fixture
def fresh_database(tmp_path):
    """A migrated database of its own (a file for SQLite, a scratch database on PostgreSQL), for
    real `gonghui` processes; yields (env, count(table) -> int)."""
    env = {
        **os.environ,
        "GONGHUI_DATA_KEY": TEST_DATA_KEY,
        "GONGHUI_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_SETTINGS_MODULE": "gonghui.settings",
    }
    env.pop(TEST_SLEEP_ENV, None)
    if connection.vendor == "postgresql":
        import psycopg

        params = connection.settings_dict
        name = f"{params['NAME']}_cli"[:60]
        base = {"host": params["HOST"] or "127.0.0.1", "port": params["PORT"] or 5432, "user": params["USER"]}
        with psycopg.connect(dbname="postgres", autocommit=True, **base) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.execute(f'CREATE DATABASE "{name}"')
        env["DATABASE_URL"] = f"postgres://{base['user']}@{base['host']}:{base['port']}/{name}"

        def count(table: str) -> int:
            with psycopg.connect(dbname=name, **base) as conn:
                return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    else:
        db_file = tmp_path / "cli.sqlite3"
        env["DATABASE_URL"] = f"sqlite:///{db_file}"

        def count(table: str) -> int:
            with sqlite3.connect(db_file) as conn:
                return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

    subprocess.run([sys.executable, "-m", "gonghui", "migrate", "-v", "0"], env=env, check=True, timeout=300)
    yield env, count
    if connection.vendor == "postgresql":
        import psycopg

        with psycopg.connect(dbname="postgres", autocommit=True, **base) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def gonghui(env, *args, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gonghui", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def test_it_exits_0_on_import_and_2_on_refusal_as_a_real_process(fresh_database, tmp_path):
    env, count = fresh_database
    good = write(tmp_path, "名册.csv", census_csv([ZHANG, NO_NAME]))
    done = gonghui(env, "census", "import", str(good), "--source", "platform")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() and count("census_batchrow") == 2 and count("people_person") == 1
    bad = write(tmp_path, "坏.xlsx", b"\x00not a spreadsheet\xff" * 30)
    refused = gonghui(env, "census", "import", str(bad), "--source", "platform")
    assert refused.returncode == 2
    assert len(refused.stderr.strip().splitlines()) == 1
    wrong_kind = gonghui(env, "census", "import", str(good), "--source", "nonsense")
    assert wrong_kind.returncode == 2 and len(wrong_kind.stderr.strip().splitlines()) == 1
    assert count("census_importbatch") == 1


def test_it_leaves_nothing_when_killed_during_the_write_and_runs_again(fresh_database, tmp_path):
    env, count = fresh_database
    rows = [(f"工人{i:04d}", "", f"139{i:08d}", "快递员", "") for i in range(300)]
    path = write(tmp_path, "大名册.csv", census_csv([ZHANG, LI, *rows]))
    slow = {**env, TEST_SLEEP_ENV: "60"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gonghui", "census", "import", str(path), "--source", "platform"],
        env=slow,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 240
        for line in proc.stderr:  # progress lines; the last stage before the commit is announced
            if line.startswith("commit-pending"):
                break
            assert time.monotonic() < deadline, "the import never reached its commit"
        else:
            pytest.fail(f"the import ended before its commit: {proc.wait()} {proc.stdout.read()}")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    for table in ("census_importbatch", "census_batchrow", "people_person", "census_reviewitem"):
        assert count(table) == 0, table

    again = gonghui(env, "census", "import", str(path), "--source", "platform")
    assert again.returncode == 0, again.stderr
    assert count("census_batchrow") == 302 and count("people_person") == 302


def test_it_runs_an_upload_in_a_detached_process_that_outlives_the_request(fresh_database, tmp_path):
    env, count = fresh_database
    upload = write(tmp_path, "名册.csv", census_csv([ZHANG, LI, WANG]))
    request = (
        "import django, sys, time; django.setup()\n"
        "from pathlib import Path\n"
        "from gonghui.census.services import census_import_start\n"
        "started = time.monotonic()\n"
        "batch = census_import_start(source=Path(sys.argv[1]).read_bytes(), file_name='名册.csv', source_kind='hrss')\n"
        "print(batch.pk, batch.status, round(time.monotonic() - started, 3))\n"
    )
    answered = subprocess.run(
        [sys.executable, "-c", request, str(upload)], env=env, capture_output=True, text=True, timeout=120
    )
    assert answered.returncode == 0, answered.stderr
    batch_id, status, _seconds = answered.stdout.split()
    assert status == "queued"  # the request returned before the import ran
    deadline = time.monotonic() + 180
    while count("census_batchrow") < 3:
        assert time.monotonic() < deadline, "the background import never finished"
        time.sleep(0.5)
    assert count("people_person") == 3
    log = Path(env["GONGHUI_VAR_DIR"]) / "census" / "logs" / f"batch-{batch_id}.log"
    assert log.is_file()
