"""`gonghui weave run|export|run-queued`: the weave on the command line.

The command line runs as the operator of the installation (everyone, not a viewer's scope).
`run` prints the counts of the run; `export` writes the current answer, one line per person.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from collections import defaultdict
from pathlib import Path

from django.db import connection

from gonghui.lib.cli import AreaCommand, UsageError
from gonghui.orgs.models import Org
from gonghui.weave.models import Coverage, CoveringUnion, RunStatus, WeaveRun
from gonghui.weave.services import weave_run
from gonghui.weave.tasks import run_queued

EXPORT_COLUMNS = ("person_id", "primary_org_code", "covering_org_codes", "reason")
EXPORT_CHUNK = 20000


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
            with open(partial, "wb") as handle:
                if connection.vendor == "postgresql" and not _line_breaks_in_export():
                    rows = _copy_export(handle)
                else:
                    with io.TextIOWrapper(handle, encoding="utf-8", newline="") as text:
                        rows = _write_export(text)
            os.replace(partial, path)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise UsageError(f"无法写入 {out}：{exc.strerror or exc}") from None
        self.stdout.write(f"{rows} people written to {out}")


def _covering_codes():
    """(employer id, region id, group id) -> the codes of the unions that can take a person with that key, in order.

    The covering unions are stored once per key (`CoveringUnion`: per employer, per place); a
    person's list is the merge of their employer's and their place's by (rule's place, rank), as
    `selectors.covering_of` orders them. Keys are few (tens of thousands), so each list is joined once.
    """
    by_employer: dict[int, list] = defaultdict(list)
    by_place: dict[tuple, list] = defaultdict(list)
    rows = CoveringUnion.objects.values_list(
        "employer_id", "region_id", "group_id", "pos", "rank", "org__code"
    )
    for employer_id, region_id, group_id, pos, rank, code in rows.iterator(chunk_size=EXPORT_CHUNK):
        if employer_id is not None:
            by_employer[employer_id].append((pos, rank, code))
        else:
            by_place[(region_id, group_id)].append((pos, rank, code))
    joined: dict[tuple, str] = {}

    def codes(employer_id, region_id, group_id) -> str:
        key = (employer_id, region_id, group_id)
        found = joined.get(key)
        if found is None:
            merged = sorted(by_employer.get(employer_id, []) + by_place.get((region_id, group_id), []))
            found = joined[key] = ";".join(code for _pos, _rank, code in merged)
        return found

    return codes


def _line_breaks_in_export() -> bool:
    """Whether a code or a reason holds a line break (then COPY's lines could not be turned into csv's)."""
    q = connection.ops.quote_name
    cov, org = (q(m._meta.db_table) for m in (Coverage, Org))
    breaks = "(STRPOS({0}, CHR(10)) > 0 OR STRPOS({0}, CHR(13)) > 0)"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {org} WHERE {breaks.format('code')}) "
            f"OR EXISTS (SELECT 1 FROM {cov} WHERE {breaks.format('reason')})"
        )
        return bool(cursor.fetchone()[0])


def _copy_export(handle) -> int:
    """The export on PostgreSQL: the server writes the CSV (COPY … TO STDOUT), this process only passes it on.

    A person's codes are joined in SQL from strings prepared once per key: their place's unions
    whose rule comes before the enterprise rule, their employer's, their place's after it (every
    enterprise union has the same rule, so its place in the order is one number). COPY ends lines
    with LF where the csv module writes CRLF; with no line break inside a field (checked by the
    caller), each LF is a line end, turned into CRLF, so the file is the same byte for byte.
    """
    q = connection.ops.quote_name
    cov, covering, org = (q(m._meta.db_table) for m in (Coverage, CoveringUnion, Org))
    enterprise_pos = (
        CoveringUnion.objects.filter(employer__isnull=False)
        .order_by("pos")
        .values_list("pos", flat=True)
        .first()
    )
    split = int(enterprise_pos) if enterprise_pos is not None else 1 << 15
    pos, rank = q("pos"), q("rank")
    ordered = f"ORDER BY u.{pos}, u.{rank}"
    sql = (
        f"WITH place AS (SELECT u.region_id, COALESCE(u.group_id, 0) AS group_key, "
        f"STRING_AGG(CASE WHEN u.{pos} < {split} THEN o.code END, ';' {ordered}) AS before_enterprise, "
        f"STRING_AGG(CASE WHEN u.{pos} > {split} THEN o.code END, ';' {ordered}) AS after_enterprise "
        f"FROM {covering} u JOIN {org} o ON o.id = u.org_id WHERE u.employer_id IS NULL "
        f"GROUP BY u.region_id, COALESCE(u.group_id, 0)), "
        f"employer AS (SELECT u.employer_id, STRING_AGG(o.code, ';' {ordered}) AS codes "
        f"FROM {covering} u JOIN {org} o ON o.id = u.org_id WHERE u.employer_id IS NOT NULL "
        f"GROUP BY u.employer_id) "
        f"SELECT c.person_id, po.code, "
        f"NULLIF(CONCAT_WS(';', p.before_enterprise, e.codes, p.after_enterprise), ''), c.reason "
        f"FROM {cov} c LEFT JOIN {org} po ON po.id = c.primary_org_id "
        f"LEFT JOIN place p ON p.region_id = c.region_id AND p.group_key = COALESCE(c.group_id, 0) "
        f"LEFT JOIN employer e ON e.employer_id = c.employer_id ORDER BY c.person_id"
    )
    header = io.StringIO()
    csv.writer(header).writerow(EXPORT_COLUMNS)
    handle.write(header.getvalue().encode())
    written = 0
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)") as copy,
    ):
        for block in copy:
            block = bytes(block)
            written += block.count(b"\n")
            handle.write(block.replace(b"\n", b"\r\n"))
    return written


def _write_export(handle) -> int:
    """Stream the current answer, person by person, without holding it in memory (a server-side cursor on PostgreSQL)."""
    q = connection.ops.quote_name
    cov, org = (q(m._meta.db_table) for m in (Coverage, Org))
    codes = _covering_codes()
    sql = (
        f"SELECT c.person_id, po.code, c.reason, c.employer_id, c.region_id, c.group_id "
        f"FROM {cov} c LEFT JOIN {org} po ON po.id = c.primary_org_id ORDER BY c.person_id"
    )
    writer = csv.writer(handle)
    writer.writerow(EXPORT_COLUMNS)
    written = 0
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql)
        while chunk := cursor.fetchmany(EXPORT_CHUNK):
            writer.writerows(
                (person_id, primary or "", codes(employer_id, region_id, group_id), reason)
                for person_id, primary, reason, employer_id, region_id, group_id in chunk
            )
            written += len(chunk)
    return written
