"""`gonghui weave run|export|run-queued`: the weave on the command line.

The command line runs as the operator of the installation (everyone, not a viewer's scope).
`run` prints the counts of the run; `export` writes the current answer, one line per person.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from itertools import groupby
from pathlib import Path

from django.db import connection

from gonghui.lib.cli import AreaCommand, UsageError
from gonghui.orgs.models import Org
from gonghui.weave.models import Coverage, CoveringOrg, RunStatus, WeaveRun
from gonghui.weave.services import weave_run
from gonghui.weave.tasks import run_queued

EXPORT_COLUMNS = ("person_id", "primary_org_code", "covering_org_codes", "reason")
EXPORT_CHUNK = 5000


def _run_arguments(parser):
    parser.add_argument(
        "--date",
        default=None,
        metavar="YYYY-MM-DD",
        help="apply the coverage policy in force on this date (default: today)",
    )


def _export_arguments(parser):
    parser.add_argument("out", help="CSV to write: person_id,primary_org_code,covering_org_codes,reason")


def _run_queued_arguments(parser):
    parser.add_argument("run_id", type=int, help="id of a queued run (started by the web page)")


def _coverage_arguments(parser):
    parser.add_argument(
        "--region", metavar="CODE", default="", help="division code, any level (default: the top region)"
    )
    parser.add_argument(
        "--by", choices=("group", "region"), default="group", help="one row per group or per child region"
    )
    parser.add_argument(
        "--group", metavar="CODE", default="", help="only this occupation group (_none: without a group)"
    )
    parser.add_argument(
        "--format", choices=("csv", "table"), default="table", help="csv (with a header) or an aligned table"
    )
    parser.add_argument(
        "--refresh-members",
        action="store_true",
        help="first recompute every cell's members and the weekly trend from the memberships",
    )


def _summary(run: WeaveRun) -> str:
    return (
        f"weave run #{run.pk}: people {run.people}, covered {run.covered}, holes {run.holes}, "
        f"overlaps {run.overlaps}, safety net only {run.safety_net_only}, "
        f"changed {run.changed} (gained {run.gained}, lost {run.lost}, switched {run.switched})"
    )


class Command(AreaCommand):
    help = "The weave: which unions cover each person (run), the current answer as CSV (export)."
    verbs = {
        "run": (
            "Run the weave over everyone now (progress on stderr) and print the counts.",
            _run_arguments,
            "run",
        ),
        "export": (
            "Write one line per person: person_id,primary_org_code,covering_org_codes,reason.",
            _export_arguments,
            "export",
        ),
        "run-queued": (
            "Run a queued weave run (the web page starts this in the background).",
            _run_queued_arguments,
            "run_queued",
        ),
        "coverage": (
            "Print the coverage matrix of a region: people, members, coverage rate, covered, holes, overlaps.",
            _coverage_arguments,
            "coverage",
        ),
    }

    def _progress(self):
        def report(percent: int, note: str) -> None:
            self.stderr.write(f"{percent:3d}% {note}")

        return report

    def run(self, *, date: str | None = None, **options):
        on = None
        if date:
            try:
                on = dt.date.fromisoformat(date)
            except ValueError:
                raise UsageError(f"--date 应写作 YYYY-MM-DD，不是 {date}") from None
        run = weave_run(trigger="command line", on=on, progress=self._progress())
        self.stdout.write(_summary(run))

    def run_queued(self, *, run_id: int, **options):
        if not WeaveRun.objects.filter(pk=run_id).exists():
            raise UsageError(f"没有编号为 {run_id} 的织网运行")
        run = run_queued(run_id, progress=self._progress())
        if run is None:
            self.stdout.write(f"weave run #{run_id}: already started or finished, nothing to do")
        else:
            self.stdout.write(_summary(run))

    def coverage(
        self,
        *,
        region: str = "",
        by: str = "group",
        group: str = "",
        format: str = "table",
        refresh_members: bool = False,
        **options,
    ):
        from django.http import Http404

        from gonghui.weave import matrix

        if refresh_members:
            matrix.cells_refresh_members()
        try:
            top = matrix.access_matrix_region(matrix.EVERYTHING, region)
        except Http404:
            raise UsageError(f"--region：没有代码为 {region} 的地区") from None
        try:
            group_key, group_row = matrix.matrix_group(group)
        except Http404:
            raise UsageError(f"--group：没有代码为 {group} 的职业群体") from None
        m = matrix.coverage_matrix(viewer=matrix.EVERYTHING, region=top, group_key=group_key, group=group_row)
        rows = matrix.matrix_lines(m, by)
        if format == "csv":
            self.stdout.write(matrix.matrix_csv(rows), ending="")
        else:
            self.stdout.write(f"{top.name}（{top.code}）", ending="\n")
            self.stdout.write(matrix.matrix_table(rows, m.totals), ending="")

    def export(self, *, out: str, **options):
        path = Path(out)
        if not path.parent.is_dir():
            raise UsageError(f"无法写入 {out}：目录 {path.parent} 不存在")
        if not WeaveRun.objects.filter(status=RunStatus.DONE).exists():
            raise UsageError("还没有完成的织网运行，请先运行 gonghui weave run")
        partial = path.with_name(f".{path.name}.part")
        try:
            with open(partial, "w", encoding="utf-8", newline="") as handle:
                rows = _write_export(handle)
            os.replace(partial, path)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise UsageError(f"无法写入 {out}：{exc.strerror or exc}") from None
        self.stdout.write(f"{rows} people written to {out}")


def _write_export(handle) -> int:
    """Stream the current answer, person by person, without holding it in memory (a server-side cursor on PostgreSQL)."""
    q = connection.ops.quote_name
    cov, covering, org = (q(m._meta.db_table) for m in (Coverage, CoveringOrg, Org))
    sql = (
        f"SELECT c.person_id, po.code, c.reason, co.{q('rank')}, oo.code "
        f"FROM {cov} c LEFT JOIN {org} po ON po.id = c.primary_org_id "
        f"LEFT JOIN {covering} co ON co.person_id = c.person_id "
        f"LEFT JOIN {org} oo ON oo.id = co.org_id "
        f"ORDER BY c.person_id, co.{q('rank')}"
    )
    writer = csv.writer(handle)
    writer.writerow(EXPORT_COLUMNS)
    written = 0
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql)

        def rows():
            while chunk := cursor.fetchmany(EXPORT_CHUNK):
                yield from chunk

        for person_id, group in groupby(rows(), key=lambda row: row[0]):
            group = list(group)
            primary, reason = group[0][1] or "", group[0][2]
            codes = [row[4] for row in group if row[4]]
            writer.writerow((person_id, primary, ";".join(codes), reason))
            written += 1
    return written
