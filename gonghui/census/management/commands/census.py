"""`gonghui census import|export-links|review|run-batch|make-messy`: the census on the command line.

The command line runs as the operator of the installation (every batch, not a viewer's scope).
Exit 0 when a batch was imported (rejected rows are counted, not an error) or was already
imported ("unchanged"); exit 2 with one line when the file was refused, nothing written.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from django.utils.translation import gettext as _

from gonghui.census.models import BatchRow, ImportBatch, ReviewItem, ReviewStatus, SourceKind
from gonghui.census.selectors import current_batches
from gonghui.census.services import ImportResult, census_import
from gonghui.lib.cli import AreaCommand, UsageError
from gonghui.orgs.models import Org

EXPORT_COLUMNS = ("source_file", "source_row", "person_id", "status", "group")


def _import_arguments(parser):
    parser.add_argument("file", help=".xlsx, .xls, .ods or .csv (UTF-8 or GBK)")
    parser.add_argument(
        "--source", required=True, metavar="KIND", help=f"source kind: {', '.join(SourceKind.values)}"
    )
    parser.add_argument("--name", default="", help="source name (default: the file name without extension)")
    parser.add_argument(
        "--sheet", default=None, help="sheet name or 1-based number (default: the first with a header)"
    )
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="HEADER=FIELD",
        help="map a header to a field by hand (repeatable); FIELD empty leaves the column out",
    )
    parser.add_argument(
        "--org", default=None, metavar="CODE", help="code of the importing union (owner of the batch)"
    )


def _export_arguments(parser):
    parser.add_argument("out", help="CSV to write: source_file,source_row,person_id,status,group")


def _run_batch_arguments(parser):
    parser.add_argument("batch_id", type=int, help="id of a queued batch (started by the web upload)")


def _messy_arguments(parser):
    parser.add_argument("out_dir", help="directory for the files and truth.csv")
    parser.add_argument("--people", type=int, default=1000, help="how many real people behind the rows")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same files")
    parser.add_argument(
        "--sources", nargs="*", default=None, metavar="KIND", help="source kinds (default: all)"
    )


def _parse_map(pairs: list[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        header, sep, field_name = pair.partition("=")
        if not sep or not header.strip():
            raise UsageError(f"--map 的格式是 表头=字段，不是「{pair}」")
        mapping[header.strip()] = field_name.strip()
    return mapping


class Command(AreaCommand):
    help = "Census: import departmental lists and platform rosters, export the links, list the review queue."
    verbs = {
        "import": (
            "Import one file as one batch (all or nothing) and print its summary; the same file again changes nothing.",
            _import_arguments,
            "import_file",
        ),
        "export-links": (
            "Write one line per row of every current batch: source_file,source_row,person_id,status,group.",
            _export_arguments,
            "export_links",
        ),
        "review": ("List the open review queue (values masked).", None, "list_review"),
        "run-batch": (
            "Run a queued import batch (the web upload starts this in the background).",
            _run_batch_arguments,
            "run_batch",
        ),
        "make-messy": (
            "Write messy census files with ground truth (truth.csv), for tests and benchmarks.",
            _messy_arguments,
            "make_messy",
        ),
    }

    def _progress(self):
        last = {}

        def report(done: int, total: int, stage: str) -> None:
            # One line per stage change and per tenth of the rows: enough to see it move.
            step = max(1, total // 10)
            key = (stage, done // step if total else 0, done == total)
            if last.get("key") == key:
                return
            last["key"] = key
            self.stderr.write(f"{stage}: {done}/{total}")

        return report

    def import_file(self, *, file: str, source: str, name: str, sheet, map: list[str], org, **options):
        path = Path(file)
        if not path.is_file():
            raise UsageError(f"找不到文件 {file}")
        owner = None
        if org:
            owner = Org.objects.filter(code=org).first()
            if owner is None:
                raise UsageError(f"没有代码为 {org} 的组织")
        result = census_import(
            source=path,
            file_name=path.name,
            source_kind=source,
            name=name,
            org=owner,
            sheet=sheet,
            manual_map=_parse_map(map) or None,
            progress=self._progress(),
        )
        self._summary(result)

    def _summary(self, result: ImportResult) -> None:
        b = result.batch
        head = _("batch %(id)s: %(name)s (%(kind)s) %(file)s") % {
            "id": b.pk,
            "name": b.name,
            "kind": b.source_kind,
            "file": b.file_name,
        }
        if result.unchanged:
            head += " — " + _("unchanged (this file was imported before)")
        elif b.supersedes_id:
            head += " — " + _("corrected version of batch %(id)s") % {"id": b.supersedes_id}
        self.stdout.write(head)
        self.stdout.write(
            _(
                "rows %(rows)s, valid %(valid)s, rejected %(rejected)s, new people %(new)s, "
                "linked %(linked)s, review %(review)s"
            )
            % {
                "rows": b.rows_total,
                "valid": b.rows_valid,
                "rejected": b.rows_rejected,
                "new": b.people_new,
                "linked": b.people_linked,
                "review": b.rows_review,
            }
        )

    def export_links(self, *, out: str, **options):
        rows = (
            BatchRow.objects.filter(batch__in=current_batches())
            .order_by("batch_id", "row_number")
            .values_list("batch__file_name", "row_number", "person_id", "status", "group__code")
        )
        count = 0
        with open(out, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(EXPORT_COLUMNS)
            for file_name, row_number, person_id, status, group in rows.iterator(chunk_size=5000):
                person = "" if status == "rejected" or person_id is None else person_id
                writer.writerow([Path(file_name).name, row_number, person, status, group or ""])
                count += 1
        self.stdout.write(_("%(count)s rows written to %(out)s") % {"count": count, "out": out})

    def list_review(self, **options):
        items = (
            ReviewItem.objects.filter(status=ReviewStatus.OPEN)
            .select_related("row", "row__batch", "candidate")
            .order_by("-match_probability", "id")
        )
        count = 0
        for item in items.iterator(chunk_size=2000):
            row, person = item.row, item.candidate
            self.stdout.write(
                "\t".join(
                    [
                        f"#{item.pk}",
                        f"{item.match_probability:.2f}",
                        f"{row.batch.file_name}:{row.row_number}",
                        row.name,
                        row.id_number_masked or row.id_last4,
                        row.phone_masked,
                        "?=",
                        f"person {person.pk}",
                        person.name,
                        person.id_number_masked,
                        person.phone_masked,
                    ]
                )
            )
            count += 1
        self.stdout.write(_("%(count)s open review items") % {"count": count})

    def run_batch(self, *, batch_id: int, **options):
        from gonghui.census.tasks import run_batch

        if not ImportBatch.objects.filter(pk=batch_id).exists():
            raise UsageError(f"没有编号为 {batch_id} 的导入批次")
        result = run_batch(batch_id, progress=self._progress())
        if result is None:
            self.stdout.write(_("batch %(id)s is already done") % {"id": batch_id})
            return
        self._summary(result)

    def make_messy(self, *, out_dir: str, people: int, seed: int, sources, **options):
        from gonghui.census.messy import generate_census

        truth = generate_census(people=people, seed=seed, out_dir=Path(out_dir), sources=sources or None)
        for file_name, kind in truth.files.items():
            self.stdout.write(f"{kind}\t{Path(out_dir) / file_name}")
        self.stdout.write(
            _("%(rows)s rows of %(people)s people; truth in %(truth)s")
            % {"rows": len(truth.rows), "people": len(truth.people), "truth": truth.truth_path}
        )
        sys.stdout.flush()
