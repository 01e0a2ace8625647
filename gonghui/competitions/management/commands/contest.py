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
from ...services import contest_setup_from_policy, judge_score_record


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
    parser.add_argument("--ticket", required=True, help="the finalist's admission ticket number")
    parser.add_argument("--judge", required=True, help="the judge's name")
    parser.add_argument("--score", required=True, help="0 to 100")


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
            "Record one judge's practical score (0-100) for a finalist at the finals.",
            _judge_arguments,
            "judge_score",
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

    def judge_score(self, *, contest: str, ticket: str, judge: str, score: str, **options):
        registration = Registration.objects.filter(trade__contest__code=contest, ticket=ticket).first()
        if registration is None:
            raise UsageError(f"竞赛 {contest} 没有准考证号 {ticket}")
        try:
            value = Decimal(score)
        except InvalidOperation:
            raise UsageError(f"评分 {score} 不是数字") from None
        judge_score_record(registration=registration, judge=judge, score=value)
        self.stdout.write(f"{ticket}\t{judge}\t{value}")
