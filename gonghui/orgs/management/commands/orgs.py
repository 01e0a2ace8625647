"""`gonghui orgs import FILE.csv` and `gonghui orgs list`."""

from __future__ import annotations

from pathlib import Path

from gonghui.lib.cli import AreaCommand, UsageError
from gonghui.orgs.importer import COLUMNS, OPTIONAL_COLUMNS
from gonghui.orgs.models import Org, OrgKind
from gonghui.orgs.services import orgs_import_csv


def _import_arguments(parser):
    parser.add_argument(
        "file",
        help=f"CSV with {','.join(COLUMNS)} (optional: {','.join(OPTIONAL_COLUMNS)}); lists separated by ';'",
    )


def _list_arguments(parser):
    parser.add_argument("--kind", choices=OrgKind.values, help="only orgs of this kind")
    parser.add_argument("--under", metavar="CODE", help="only this org and its subtree")


class Command(AreaCommand):
    help = "Union organisations: import from CSV, list the tree."
    verbs = {
        "import": (
            "Create or update orgs from a CSV file, all or nothing; bad rows are reported by row number.",
            _import_arguments,
            "import_file",
        ),
        "list": ("Print the org tree (code, kind, name), indented by depth.", _list_arguments, "list_orgs"),
    }

    def import_file(self, *, file: str, **options):
        if not Path(file).is_file():
            raise UsageError(f"找不到文件 {file}")
        report = orgs_import_csv(source=file)
        if report.errors:
            for error in report.errors:
                self.stderr.write(str(error))
            rows = len({e.row for e in report.errors})
            raise UsageError(f"{len(report.errors)} 处错误（{rows} 行），未写入任何数据")
        self.stdout.write(str(report))
        if report.created or report.updated:
            from gonghui.weave.services import weave_run_queue

            run = weave_run_queue(trigger="orgs import", launch=False)
            self.stderr.write(f"weave run #{run.pk} queued: run `gonghui weave run` to update coverage")

    def list_orgs(self, *, kind: str | None = None, under: str | None = None, **options):
        # The command line runs as the operator of the installation: the whole tree, not a viewer's scope.
        qs = Org.objects.order_by("path")
        if under:
            top = Org.objects.filter(code=under).first()
            if top is None:
                raise UsageError(f"没有代码为 {under} 的组织")
            qs = qs.filter(path__startswith=top.path)
        if kind:
            qs = qs.filter(kind=kind)
        for code, kind_value, name, depth in qs.values_list("code", "kind", "name", "depth").iterator():
            self.stdout.write(f"{'  ' * depth}{code}\t{kind_value}\t{name}")
