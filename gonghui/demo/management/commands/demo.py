"""`gonghui demo seed` and `gonghui demo logins`: the demo city on the command line."""

from __future__ import annotations

import unicodedata

from django.utils.translation import gettext as _

from gonghui.accounts.models import RoleKind
from gonghui.demo.contest import DEFAULT_PER_TRADE, demo_contests, demo_contests_exist, demo_try_candidate
from gonghui.demo.drive import demo_drive, demo_is_driven
from gonghui.demo.services import (
    DEFAULT_PEOPLE,
    DEFAULT_SEED,
    DEMO_ADDRESS,
    DEMO_PASSWORD,
    demo_is_seeded,
    demo_logins,
    demo_seed,
)
from gonghui.lib.cli import AreaCommand
from gonghui.orgs.models import OrgKind


def _seed_arguments(parser) -> None:
    parser.add_argument(
        "--people", type=int, default=DEFAULT_PEOPLE, help="how many workers to generate (default 27000)"
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="random seed: the same seed gives the same city"
    )
    parser.add_argument(
        "--if-empty",
        action="store_true",
        help="do nothing (and exit 0) when the database already holds people or orgs",
    )


def _drive_arguments(parser) -> None:
    parser.add_argument(
        "--if-empty",
        action="store_true",
        help="do nothing (and exit 0) when the database already holds memberships",
    )


def _contests_arguments(parser) -> None:
    parser.add_argument(
        "--per-trade",
        type=int,
        default=DEFAULT_PER_TRADE,
        help=f"entrants per trade of the finished contest (default {DEFAULT_PER_TRADE})",
    )
    parser.add_argument(
        "--if-empty", action="store_true", help="do nothing (and exit 0) when the demo contests already exist"
    )


def _width(text: str) -> int:
    """Columns a string takes on a terminal: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(width - _width(text), 0)


class Command(AreaCommand):
    # Help texts are plain strings: argparse cannot format lazy translations (as in the other areas).
    help = "The demo city (Jiamusi): seed it into an empty database, list its logins."
    verbs = {
        "seed": (
            "Seed the demo city: regions, union tree, employers, 27,000 synthetic workers, demo logins",
            _seed_arguments,
            "seed",
        ),
        "drive": (
            "Drive the seeded city: run the weave, make ~55% members with join dates since the drive began, "
            "leave applications pending in 郊区",
            _drive_arguments,
            "drive",
        ),
        "contests": (
            "Set up the demo skills contests: one finished end to end (preliminary, finals, honours), "
            "one open to try on a phone",
            _contests_arguments,
            "contests",
        ),
        "logins": ("Print the demo address and the demo logins", None, "logins"),
    }

    def seed(self, *, people: int, seed: int, if_empty: bool, **options) -> None:
        if if_empty and demo_is_seeded():
            self.stdout.write(_("The database already holds data: demo seed skipped."))
            return
        report = demo_seed(people=people, random_seed=seed, progress=self._progress)
        kinds = ", ".join(f"{OrgKind(kind).label} {n}" for kind, n in report.orgs_by_kind.items())
        self.stdout.write(
            _(
                "Seeded the demo city in {seconds:.1f} s: {orgs} orgs ({kinds}), {employers} employers, "
                "{people} people, logins: {logins}."
            ).format(
                seconds=report.seconds,
                orgs=report.orgs,
                kinds=kinds,
                employers=report.employers,
                people=report.people,
                logins=", ".join(report.logins),
            )
        )
        steps = ", ".join(f"{step} {s:.1f} s" for step, s in report.step_seconds.items())
        self.stdout.write(_("Steps: {steps}").format(steps=steps))

    def drive(self, *, if_empty: bool, **options) -> None:
        if if_empty and demo_is_driven():
            self.stdout.write(_("The database already holds memberships: demo drive skipped."))
            return
        r = demo_drive()
        self.stdout.write(
            f"演示入会推进完成（{r.seconds:.1f} 秒）：织网运行 #{r.weave_run}，{r.members} 人入会"
            f"（入会日期 {r.first_joined} 至 {r.last_joined}，跨 {r.weeks} 周），"
            f"郊区待审批申请 {r.pending} 件（其中超期 {r.pending_overdue} 件）。"
        )

    def contests(self, *, per_trade: int, if_empty: bool, **options) -> None:
        if if_empty and demo_contests_exist():
            self.stdout.write(_("The demo contests already exist: demo contests skipped."))
            return
        r = demo_contests(per_trade=per_trade)
        self.stdout.write(
            _(
                "Demo contests set up in {seconds:.1f} s: {finished} (finished: {registrations} registrations, "
                "{submitted} preliminary papers handed in, {finalists} finalists judged, {honours} honours "
                "granted, {sessions} practice sessions) and {open} (open to try)."
            ).format(
                seconds=r.seconds,
                finished=r.finished,
                registrations=r.registrations,
                submitted=r.submitted,
                finalists=r.finalists,
                honours=r.honours,
                sessions=r.practice_sessions,
                open=r.open,
            )
        )

    def _progress(self, step: str, done: int, total: int) -> None:
        line = f"{step} {done}/{total}"
        if self.stdout.isatty():
            self.stdout.write("\r" + line, ending="\n" if done >= total else "")
            self.stdout.flush()
        elif done >= total or step == "people":
            self.stdout.write(line)

    def logins(self, **options) -> None:
        rows = demo_logins()
        self.stdout.write(_("Demo city: {address}").format(address=DEMO_ADDRESS))
        self.stdout.write(_("Password for every demo login: {password}").format(password=DEMO_PASSWORD))
        header = (_("username"), _("password"), _("role"), _("organisation"), _("sees"))
        table = [
            (
                login.username,
                DEMO_PASSWORD,
                str(RoleKind(login.role).label),
                org.name if org else login.org_code,
                str(login.sees),
            )
            for login, org, _exists in rows
        ]
        widths = [max(_width(row[i]) for row in [header, *table]) for i in range(4)]
        for row in [header, *table]:
            self.stdout.write(
                "  ".join(_pad(cell, w) for cell, w in zip(row[:4], widths, strict=True)) + "  " + row[4]
            )
        candidate = demo_try_candidate()
        if candidate is not None:
            registration, id_number = candidate
            self.stdout.write(
                _(
                    "Try the online preliminary ({contest}, {trade}) at {address}/contests/exam/: "
                    "admission ticket {ticket}, ID number {id_number} (a synthetic demo worker)."
                ).format(
                    contest=registration.trade.contest.name,
                    trade=registration.trade.name,
                    address=DEMO_ADDRESS,
                    ticket=registration.ticket,
                    id_number=id_number,
                )
            )
        if not all(exists for _login, _org, exists in rows):
            self.stdout.write(_("Not seeded yet: run `gonghui demo seed` first."))
