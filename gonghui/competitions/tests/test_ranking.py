import datetime as dt
import io
from decimal import Decimal

from django.core.management import call_command
from openpyxl import load_workbook

from gonghui.competitions.exam import attempt_start
from gonghui.competitions.models import Attempt, AttemptStatus
from gonghui.competitions.policy import contest_policy
from gonghui.competitions.ranking import Entry, awards_for, preliminary_results, rank_entries

from .conftest import register
from .test_exam import build

JILIN = contest_policy("contest_jilin_2021.yaml")
D = Decimal


def _ranks(ranked):
    return [(r.entry.registration_id, r.rank) for r in ranked]


def test_equal_entries_share_a_rank_and_the_next_rank_is_skipped():
    entries = [Entry(1, D(80)), Entry(2, D(95)), Entry(3, D(95)), Entry(4, D(90)), Entry(5, None)]
    assert _ranks(rank_entries(entries, ("total_desc",))) == [(2, 1), (3, 1), (4, 3), (1, 4), (5, 5)]


def test_the_tie_rule_breaks_ties_in_its_order():
    entries = [
        Entry(1, D(95), theory=D(90), practical=D(97), theory_duration=dt.timedelta(minutes=50)),
        Entry(2, D(95), theory=D(92), practical=D(97), theory_duration=dt.timedelta(minutes=70)),
        Entry(3, D(95), theory=D(92), practical=D(97), theory_duration=dt.timedelta(minutes=60)),
        Entry(4, D(95), theory=D(80), practical=D(99), theory_duration=dt.timedelta(minutes=90)),
    ]
    assert _ranks(rank_entries(entries, JILIN.tie_rule)) == [(4, 1), (3, 2), (2, 3), (1, 4)]
    assert _ranks(rank_entries(entries, ("total_desc",))) == [(1, 1), (2, 1), (3, 1), (4, 1)]


def test_awards_come_from_the_policy_table_and_tied_entries_each_receive_them():
    totals = [99, 97, 97, 95, 94, 93, 90, 89, 88, 87, 86, 80]
    ranked = rank_entries([Entry(i + 1, D(t)) for i, t in enumerate(totals)], ("total_desc",))
    got = {
        r.entry.registration_id: (r.rank, [(a.kind, a.amount) for a in awards])
        for r, awards in awards_for(ranked, JILIN)
    }
    assert got[1] == (1, [("honour", None), ("title", None), ("cash", D(10000)), ("promotion", None)])
    assert got[2] == got[3] == (2, [("title", None), ("cash", D(8000)), ("promotion", None)])
    assert got[4] == (4, [("cash", D(3000)), ("promotion", None)])  # rank 3 is skipped: nobody gets 5,000
    assert got[5] == (5, [("cash", D(2000)), ("promotion", None)])
    assert got[10] == (10, [("promotion", None)])
    assert got[11] == (11, []) and got[12] == (12, [])
    medals = [
        r.entry.registration_id
        for r, awards in awards_for(ranked, JILIN)
        if any(a.name == "吉林省五一劳动奖章" for a in awards)
    ]
    assert medals == [1]


def _finish(registration, score, now, minutes=40):
    attempt = Attempt.objects.get(registration=registration)
    Attempt.objects.filter(pk=attempt.pk).update(
        status=AttemptStatus.SUBMITTED,
        score=D(score),
        correct=0,
        submitted_at=now + dt.timedelta(minutes=minutes),
    )


def test_finalists_by_quota_take_everyone_tied_on_the_last_place(fitter):
    regs = build(fitter) + register(fitter, 3, start=10)
    now = fitter.contest.preliminary_opens + dt.timedelta(hours=1)
    for reg in regs[:4]:
        attempt_start(registration=reg, now=now)
    for reg, score in zip(regs[:4], (10, 9, 9, 5), strict=True):
        _finish(reg, score, now)
    attempt_start(registration=regs[4], now=now)  # still writing: not ranked, does not advance
    fitter.finalist_quota = 2
    fitter.save()
    results = {r.registration_id: r for r in preliminary_results(fitter, JILIN.tie_rule)}
    assert [results[r.pk].rank for r in regs[:4]] == [1, 2, 2, 4]
    assert [results[r.pk].advances for r in regs] == [True, True, True, False, False]
    assert results[regs[4].pk].rank is None and results[regs[4].pk].score is None

    fitter.advancement, fitter.finalist_quota, fitter.finalist_cutoff = "cutoff", None, D(9)
    fitter.save()
    results = {r.registration_id: r for r in preliminary_results(fitter, JILIN.tie_rule)}
    assert [results[r.pk].advances for r in regs] == [True, True, True, False, False]


def test_cli_writes_the_results_ranked(fitter, tmp_path):
    regs = build(fitter)
    now = fitter.contest.preliminary_opens + dt.timedelta(hours=1)
    for reg, score, minutes in zip(regs, (8, 8), (30, 20), strict=True):
        attempt_start(registration=reg, now=now)
        _finish(reg, score, now, minutes)
    out = tmp_path / "results.xlsx"
    call_command("contest", "results", str(out), "--contest", "jilin-2021", stdout=io.StringIO())
    sheet = load_workbook(out)["钳工"]
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    # equal scores: the shorter time ranks first (the policy's tie rule)
    assert [(r[0], r[1], r[4], r[5]) for r in rows] == [
        (1, regs[1].ticket, 8, 20),
        (2, regs[0].ticket, 8, 30),
    ]


def test_practical_scores_drop_the_highest_and_lowest_with_five_judges_or_more():
    from gonghui.competitions.ranking import practical_score

    assert practical_score([D(90), D(80), D(70), D(60)]) == D("75.00")
    assert practical_score([D(100), D(90), D(80), D(70), D(10)]) == D("80.00")
    assert practical_score([]) is None


def test_finals_rank_on_weighted_totals_and_awards_come_from_the_policy(fitter, tmp_path):
    import pytest

    from gonghui.competitions.models import JudgeScore
    from gonghui.competitions.ranking import final_results
    from gonghui.competitions.services import ContestError, judge_score_record

    regs = build(fitter) + register(fitter, 2, start=10)  # papers worth 12 points
    now = fitter.contest.preliminary_opens + dt.timedelta(hours=1)
    for reg, score in zip(regs, (12, 9, 6, 3), strict=True):
        attempt_start(registration=reg, now=now)
        _finish(reg, score, now)
    fitter.finalist_quota = 3
    fitter.save()
    with pytest.raises(ContestError, match="未进入决赛"):
        judge_score_record(registration=regs[3], judge="评委甲", score=D(99))
    # theory 100 / 75 / 50 %; practical by five judges (trimmed) / two / none yet
    for judge, score in zip("甲乙丙丁戊", (60, 70, 80, 90, 100), strict=True):
        judge_score_record(registration=regs[0], judge=f"评委{judge}", score=D(score))
    judge_score_record(registration=regs[1], judge="评委甲", score=D(95))
    call_command(
        "contest", "judge-score", "--contest", "jilin-2021", "--ticket", regs[1].ticket, "--judge", "评委乙",
        "--score", "85", stdout=io.StringIO(),
    )  # fmt: skip
    with pytest.raises(ContestError, match="评委甲 已为"):
        judge_score_record(registration=regs[1], judge="评委甲", score=D(10))
    with pytest.raises(ContestError, match="0 到 100"):
        judge_score_record(registration=regs[2], judge="评委甲", score=D(101))
    assert JudgeScore.objects.count() == 7

    results = {r.registration_id: r for r in final_results(fitter, JILIN)}
    first, second, pending = results[regs[0].pk], results[regs[1].pk], results[regs[2].pk]
    assert (first.theory, first.practical, first.total) == (D(100), D(80), D("86.00"))  # 100x0.3 + 80x0.7
    assert (second.theory, second.practical, second.total) == (D(75), D(90), D("85.50"))  # 75x0.3 + 90x0.7
    assert (first.rank, second.rank, pending.rank) == (1, 2, None)
    assert [a.name for a in first.awards][:2] == ["吉林省五一劳动奖章", "吉林省技术能手"]
    assert [a.amount for a in second.awards if a.kind == "cash"] == [D(8000)]
    assert pending.awards == () and regs[3].pk not in results
    out = tmp_path / "results.xlsx"
    call_command("contest", "results", str(out), "--contest", "jilin-2021", stdout=io.StringIO())
    finals = [[c.value for c in row] for row in load_workbook(out)["钳工决赛"].iter_rows(min_row=2)]
    assert [(r[0], r[6]) for r in finals] == [(1, 86), (2, 85.5), (None, None)]
    assert "吉林省五一劳动奖章" in finals[0][7] and "8,000 元" in finals[1][7]
