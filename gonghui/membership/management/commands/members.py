"""`gonghui members import-roster|approve|export`: collective enrolment and membership on the command line.

The command line runs as the operator of the installation (every union). Exit 0 on success, exit 2
with one line on bad input (unknown union, unreadable file, a roster the census refuses), nothing
written then.
"""

from __future__ import annotations

import csv
from pathlib import Path

from django.utils.translation import gettext as _

from gonghui.census.models import SourceKind
from gonghui.lib.cli import AreaCommand, UsageError
from gonghui.membership.bulk import membership_approve_bulk, membership_import_roster
from gonghui.membership.selectors import membership_export_rows
from gonghui.orgs.models import Org

EXPORT_COLUMNS = ("person_id", "union_code", "member_no", "status", "joined_on")


def _roster_arguments(parser):
    parser.add_argument("file", help=".xlsx, .xls, .ods or .csv roster (UTF-8 or GBK)")
    parser.add_argument(
        "--union", required=True, metavar="CODE", help="code of the union that enrols the roster"
    )
    parser.add_argument(
        "--source",
        default=SourceKind.PLATFORM,
        metavar="KIND",
        help=f"who handed the roster over: {', '.join(SourceKind.values)} (default: platform)",
    )
    parser.add_argument("--name", default="", help="source name (default: the file name without extension)")
    parser.add_argument("--sheet", default=None, help="sheet name or 1-based number")
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="HEADER=FIELD",
        help="map a header to a field by hand (repeatable), e.g. --map 骑手证件=id_number",
    )


def _approve_arguments(parser):
    parser.add_argument(
        "--union", required=True, metavar="CODE", help="approve applications to this union's subtree"
    )
    parser.add_argument(
        "--all-pending", action="store_true", help="approve every pending application there (required)"
    )
    parser.add_argument("--reason", default="", help="recorded with each approval")


def _export_arguments(parser):
    parser.add_argument("out", help="CSV to write: person_id,union_code,member_no,status,joined_on")


def _allow_check_arguments(parser):
    parser.add_argument("username", help="the user (or the account behind a platform's API token)")
    parser.add_argument("--revoke", action="store_true", help="take the permission back")


def _parse_map(pairs: list[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        header, sep, field_name = pair.partition("=")
        if not sep or not header.strip():
            raise UsageError(f"--map 的格式是 表头=字段，不是「{pair}」")
        mapping[header.strip()] = field_name.strip()
    return mapping


def _union(code: str) -> Org:
    union = Org.objects.filter(code=code).first()
    if union is None:
        raise UsageError(f"没有代码为 {code} 的工会")
    return union


class Command(AreaCommand):
    help = "Membership: collective enrolment from a roster, bulk approval, export."
    verbs = {
        "import-roster": (
            "Import a roster through the census and make its people who are not members into applications.",
            _roster_arguments,
            "import_roster",
        ),
        "approve": (
            "Approve pending applications in bulk (numbers assigned by the policy).",
            _approve_arguments,
            "approve",
        ),
        "allow-check": (
            "Let a user (and its API tokens) check whether an ID number is an active member (each call audited).",
            _allow_check_arguments,
            "allow_check",
        ),
        "export": (
            "Write every membership: person_id,union_code,member_no,status,joined_on.",
            _export_arguments,
            "export",
        ),
    }

    def import_roster(
        self, *, file: str, union: str, source: str, name: str, sheet, map: list[str], **options
    ):
        path = Path(file)
        if not path.is_file():
            raise UsageError(f"找不到文件 {file}")
        manual_map = _parse_map(map) or None
        org = _union(union)
        result = membership_import_roster(
            source=path,
            file_name=path.name,
            union=org,
            source_kind=source,
            name=name,
            manual_map=manual_map,
            sheet=sheet,
        )
        b, e = result.census.batch, result.enrolment
        head = _("batch %(id)s: %(file)s") % {"id": b.pk, "file": b.file_name}
        if result.census.unchanged:
            head += " — " + _("unchanged (this file was imported before)")
        self.stdout.write(head)
        self.stdout.write(
            _(
                "people %(people)s, enrolled %(enrolled)s, already members or applicants %(already)s, "
                "no grassroots union %(unplaced)s, rows in census review %(review)s"
            )
            % {
                "people": e.people,
                "enrolled": e.enrolled,
                "already": e.already,
                "unplaced": e.unplaced,
                "review": e.in_review,
            }
        )
        for code, n in sorted(e.by_union.items()):
            self.stdout.write(f"  {code}\t{n}")
        self.stderr.write(
            f"census import {result.census_seconds:.1f}s, enrolment {result.enrol_seconds:.1f}s"
        )

    def approve(self, *, union: str, all_pending: bool, reason: str, **options):
        if not all_pending:
            raise UsageError("批量审批需要 --all-pending（审批该工会及下级工会的全部待审核申请）")
        result = membership_approve_bulk(union=_union(union), reason=reason)
        self.stdout.write(
            _("approved %(n)s, left pending (active elsewhere) %(skipped)s")
            % {"n": result.approved, "skipped": result.skipped_active_elsewhere}
        )
        for first, last in result.ranges:
            self.stdout.write(f"  {first} … {last}")

    def export(self, *, out: str, **options):
        target = Path(out)
        if not target.parent.exists():
            raise UsageError(f"目录不存在：{target.parent}")
        count = 0
        with open(target, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(EXPORT_COLUMNS)
            for person_id, code, number, status, joined in membership_export_rows():
                writer.writerow([person_id, code, number or "", status, joined.isoformat() if joined else ""])
                count += 1
        self.stdout.write(_("%(count)s memberships written to %(out)s") % {"count": count, "out": out})

    def allow_check(self, *, username: str, revoke: bool, **options):
        from django.contrib.auth import get_user_model

        from gonghui.membership.services import membership_check_allow

        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise UsageError(f"没有用户名为 {username} 的用户")
        membership_check_allow(user=user, allow=not revoke)
        if revoke:
            self.stdout.write(_("%(user)s may no longer check membership") % {"user": username})
        else:
            self.stdout.write(
                _("%(user)s may check membership (POST /api/v1/members/check)") % {"user": username}
            )
