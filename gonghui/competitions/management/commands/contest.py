"""`gonghui contest <verb>`: set a contest up from its policy, move question banks in and out."""

from __future__ import annotations

import time
from decimal import Decimal, InvalidOperation
from pathlib import Path

from gonghui.lib.cli import AreaCommand, UsageError
from gonghui.orgs.models import Org

from ...bank import FORMATS, bank_export, bank_import
from ...exam import attempts_close_overdue
from ...models import Contest, Registration, Trade
from ...papers import papers_generate
from ...ranking import results_xlsx
from ...services import contest_setup_from_policy


def _setup_arguments(parser):
    parser.add_argument("policy", help="policy file under policies/, e.g. contest_jilin_2021.yaml")
    parser.add_argument("--organiser", required=True, metavar="CODE", help="code of the organising union")


def _import_arguments(parser):
    parser.add_argument("file", help="question bank: .xlsx/.xls/.ods/.csv template, Moodle .xml or .gift")
    parser.add_argument("--contest", required=True, metavar="CODE")
    parser.add_argument("--trade", required=True, metavar="CODE")
    parser.add_argument("--format", choices=FORMATS, help="file format (default: from the file's suffix)")


def _export_arguments(parser):
    parser.add_argument("out", help="file to write")
    parser.add_argument("--trade", required=True, metavar="CODE")
    parser.add_argument("--contest", metavar="CODE", help="needed when several contests have this trade code")
    parser.add_argument("--format", required=True, choices=FORMATS)


def find_trade(*, trade: str, contest: str | None) -> Trade:
    trades = Trade.objects.select_related("contest").filter(code=trade)
    if contest:
        if not Contest.objects.filter(code=contest).exists():
            raise UsageError(f"没有代码为 {contest} 的竞赛")
        trades = trades.filter(contest__code=contest)
    found = list(trades[:2])
    if not found:
        raise UsageError(f"没有代码为 {trade} 的工种" + (f"（竞赛 {contest}）" if contest else ""))
    if len(found) > 1:
        raise UsageError(f"多个竞赛都有工种 {trade}，请用 --contest 指定")
    return found[0]


def _papers_arguments(parser):
    parser.add_argument("--trade", required=True, metavar="CODE")
    parser.add_argument("--contest", metavar="CODE", help="needed when several contests have this trade code")


def _results_arguments(parser):
    parser.add_argument("out", help="the .xlsx file to write")
    parser.add_argument("--contest", required=True, metavar="CODE")


def _judge_arguments(parser):
    parser.add_argument("--contest", required=True, metavar="CODE")
    entry = parser.add_mutually_exclusive_group(required=True)
    entry.add_argument("--ticket", help="the finalist's admission ticket number")
    entry.add_argument("--team", metavar="NAME", help="the finalist team's name (a team contest)")
    parser.add_argument("--trade", metavar="CODE", help="the team's trade (with --team)")
    parser.add_argument("--judge", required=True, help="the judge's name")
    parser.add_argument("--score", help="0 to 100, for a trade without a score sheet")
    parser.add_argument(
        "--criterion",
        action="append",
        default=[],
        metavar="CODE=POINTS",
        help="the points of one criterion of the trade's score sheet (repeat for each; the score is their sum)",
    )


def _assign_arguments(parser):
    parser.add_argument("--contest", required=True, metavar="CODE")
    parser.add_argument("--trade", required=True, metavar="CODE")
    parser.add_argument("--username", required=True, help="the judge's staff account")
    parser.add_argument("--name", default="", help="the name on the judge's sheets (default: the username)")


def _grant_arguments(parser):
    parser.add_argument("--contest", required=True, metavar="CODE")
    parser.add_argument("--date", help="date conferred, YYYY-MM-DD (default: today)")


class Command(AreaCommand):
    help = "Skills competitions: set up from a policy, import and export question banks."
    verbs = {
        "setup": (
            "Create or update a contest and its trades from its policy file.",
            _setup_arguments,
            "setup",
        ),
        "import-bank": (
            "Add a question bank file to a trade, all or nothing; refused rows are listed with the reason.",
            _import_arguments,
            "import_bank",
        ),
        "export-bank": (
            "Write a trade's question bank as xlsx, Moodle XML or GIFT.",
            _export_arguments,
            "export_bank",
        ),
        "papers": (
            "Draw a preliminary paper for every registration of a trade that has none (to the blueprint).",
            _papers_arguments,
            "papers",
        ),
        "results": (
            "Write the preliminary results of a contest (ranked, with advancement to the finals) as .xlsx.",
            _results_arguments,
            "results",
        ),
        "judge-score": (
            "Record one judge's practical score for a finalist (or finalist team): --criterion CODE=POINTS "
            "for each line of the trade's score sheet, or --score 0-100 for a trade without one.",
            _judge_arguments,
            "judge_score",
        ),
        "judge-assign": (
            "Assign a staff account to judge a trade's finals (the judging pages show them its finalists only).",
            _assign_arguments,
            "judge_assign",
        ),
        "grant-honours": (
            "Register the awards of a finished contest's final ranking in the register of honours (idempotent).",
            _grant_arguments,
            "grant_honours",
        ),
        "close-overdue": (
            "Close every preliminary attempt past its deadline, scored on its last saved answers.",
            None,
            "close_overdue",
        ),
    }

    def setup(self, *, policy: str, organiser: str, **options):
        org = Org.objects.filter(code=organiser).first()
        if org is None:
            raise UsageError(f"没有代码为 {organiser} 的组织")
        contest = contest_setup_from_policy(policy_file=policy, organiser=org)
        self.stdout.write(f"{contest.code}\t{contest.name}\t{contest.trades.count()} 个工种")

    def import_bank(self, *, file: str, contest: str, trade: str, format: str | None = None, **options):
        path = Path(file)
        if not path.is_file():
            raise UsageError(f"找不到文件 {file}")
        target = find_trade(trade=trade, contest=contest)
        report = bank_import(trade=target, source=path.read_bytes(), file_name=path.name, fmt=format)
        if report.errors:
            for error in report.errors:
                self.stderr.write(str(error))
            raise UsageError(str(report))
        self.stdout.write(str(report))

    def export_bank(self, *, out: str, trade: str, format: str, contest: str | None = None, **options):
        target = find_trade(trade=trade, contest=contest)
        data = bank_export(trade=target, fmt=format)
        try:
            Path(out).write_bytes(data)
        except OSError as exc:
            raise UsageError(f"无法写入 {out}：{exc.strerror or exc}") from None
        self.stdout.write(f"{out}：{target.questions.count()} 题")

    def papers(self, *, trade: str, contest: str | None = None, **options):
        target = find_trade(trade=trade, contest=contest)
        started = time.perf_counter()
        count = papers_generate(trade=target)
        self.stdout.write(f"{target.name}：生成 {count} 份试卷（{time.perf_counter() - started:.1f} 秒）")

    def close_overdue(self, **options):
        closed = attempts_close_overdue()
        self.stdout.write(f"关闭超时试卷 {closed} 份")

    def results(self, *, out: str, contest: str, **options):
        found = Contest.objects.filter(code=contest).first()
        if found is None:
            raise UsageError(f"没有代码为 {contest} 的竞赛")
        data = results_xlsx(found)
        try:
            Path(out).write_bytes(data)
        except OSError as exc:
            raise UsageError(f"无法写入 {out}：{exc.strerror or exc}") from None
        self.stdout.write(f"{out}：{found.trades.count()} 个工种")

    def judge_assign(self, *, contest: str, trade: str, username: str, name: str = "", **options):
        from django.contrib.auth import get_user_model

        from ...services import ContestError
        from ...sheets import judge_assign

        target = find_trade(trade=trade, contest=contest)
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise UsageError(f"没有用户 {username}")
        try:
            assignment = judge_assign(trade=target, user=user, name=name)
        except ContestError as exc:
            raise UsageError(str(exc)) from None
        self.stdout.write(f"{target.name}\t{assignment.name}\t{username}")

    def grant_honours(self, *, contest: str, date: str | None = None, **options):
        import datetime as dt

        from ...awards import contest_grant_honours

        found = Contest.objects.filter(code=contest).first()
        if found is None:
            raise UsageError(f"没有代码为 {contest} 的竞赛")
        try:
            on = dt.date.fromisoformat(date) if date else None
        except ValueError:
            raise UsageError(f"日期 {date} 应为 YYYY-MM-DD") from None
        report = contest_grant_honours(contest=found, conferred_on=on)
        self.stdout.write(f"{found.code}：{report}")

    def judge_score(
        self,
        *,
        contest: str,
        judge: str,
        ticket: str | None = None,
        team: str | None = None,
        trade: str | None = None,
        score: str | None = None,
        criterion: list[str] | None = None,
        **options,
    ):
        from ...models import Team
        from ...services import ContestError
        from ...sheets import sheet_record

        if ticket:
            found = Registration.objects.filter(trade__contest__code=contest, ticket=ticket).first()
            if found is None:
                raise UsageError(f"竞赛 {contest} 没有准考证号 {ticket}")
            target, label = {"registration": found}, ticket
        else:
            teams = Team.objects.filter(trade__contest__code=contest, name=team)
            if trade:
                teams = teams.filter(trade__code=trade)
            found = list(teams[:2])
            if len(found) != 1:
                raise UsageError(
                    f"竞赛 {contest} 没有队伍 {team}"
                    if not found
                    else f"队伍 {team} 不止一个工种有，请加 --trade"
                )
            target, label = {"team": found[0]}, team
        value = None
        if score is not None:
            try:
                value = Decimal(score)
            except InvalidOperation:
                raise UsageError(f"评分 {score} 不是数字") from None
        points = {}
        for item in criterion or []:
            code, sep, number = item.partition("=")
            if not sep or not code.strip():
                raise UsageError(f"--criterion {item} 应为 代码=分数")
            points[code.strip()] = number.strip()
        try:
            row = sheet_record(**target, judge=judge, score=value, criteria=points or None)
        except ContestError as exc:
            raise UsageError(str(exc)) from None
        self.stdout.write(f"{label}\t{judge}\t{row.score}")
