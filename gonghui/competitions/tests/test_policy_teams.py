"""The policy's eligibility, team size and score sheets: read, and refused with the key named when wrong."""

from decimal import Decimal

import pytest

from gonghui.competitions.policy import ContestPolicyError, contest_policy

SHANDONG = "contest_shandong_nev_2023.yaml"


def test_it_reads_a_team_contest_with_its_sheet():
    policy = contest_policy(SHANDONG)
    assert (policy.entry, policy.members_only) == ("team", True)
    assert (policy.team.min_size, policy.team.max_size) == (2, 3)
    sheet = policy.trade("nev-repair").criteria
    assert [c.code for c in sheet] == ["safety", "isolation", "diagnosis", "repair", "conduct"]
    assert sum(c.max_points for c in sheet) == Decimal(100)


def test_jilin_is_open_to_everyone_and_only_the_welder_has_a_sheet():
    policy = contest_policy("contest_jilin_2021.yaml")
    assert not policy.members_only and policy.team is None
    assert [t.code for t in policy.trades if t.criteria] == ["welder"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("eligibility: members_only", "eligibility: everybody"), "contest.eligibility"),
        (("team: {min_size: 2, max_size: 3}", "team: {min_size: 3, max_size: 2}"), "contest.team.max_size"),
        (("team: {min_size: 2, max_size: 3}", "team: {max_size: 3}"), "contest.team.min_size"),
        (("entry: team", "entry: individual"), "只有团体赛"),
        (
            ("name: 故障诊断, max_points: 40", "name: 故障诊断, max_points: 45"),
            "满分之和应为 100（现为 105）",
        ),
        (("{code: repair,", "{code: diagnosis,"), "评分项代码重复"),
        (("max_points: 10}", "max_points: -10}"), "criteria[0].max_points"),
    ],
)
def test_it_refuses_a_broken_team_policy_naming_the_key(tmp_path, change, message):
    text = (contest_policy.__globals__["POLICY_DIR"] / SHANDONG).read_text(encoding="utf-8")
    assert change[0] in text
    (tmp_path / SHANDONG).write_text(text.replace(change[0], change[1], 1), encoding="utf-8")
    with pytest.raises(ContestPolicyError, match=message.replace("[", r"\[").replace("]", r"\]")):
        contest_policy(SHANDONG, directory=tmp_path)
