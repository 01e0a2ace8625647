from decimal import Decimal

import pytest

from gonghui.competitions.policy import ContestPolicyError, contest_policy

JILIN = "contest_jilin_2021.yaml"


def test_it_reads_jilins_award_table_by_rank():
    policy = contest_policy(JILIN)
    assert policy.issuer == "吉林省总工会"
    assert len(policy.trades) == 13

    def awards(rank):
        return [(a.kind, a.name, a.amount) for a in policy.awards_for_rank(rank)]

    first = awards(1)
    assert ("honour", "吉林省五一劳动奖章", None) in first
    assert ("title", "吉林省技术能手", None) in first
    assert ("cash", "现金奖励（税前）", Decimal(10000)) in first
    cash = {rank: [a[2] for a in awards(rank) if a[0] == "cash"] for rank in range(1, 12)}
    assert cash == {1: [10000], 2: [8000], 3: [5000], 4: [3000], 5: [2000]} | {r: [] for r in range(6, 12)}
    assert [a[0] for a in awards(3)] == ["title", "cash", "promotion"]
    assert [a[0] for a in awards(4)] == ["cash", "promotion"]
    assert [a[0] for a in awards(10)] == ["promotion"]
    assert awards(11) == []


def test_it_gives_every_trade_the_defaults():
    policy = contest_policy(JILIN)
    fitter = next(t for t in policy.trades if t.code == "fitter")
    assert fitter.name == "钳工"
    assert (fitter.theory_weight, fitter.practical_weight) == (Decimal("0.3"), Decimal("0.7"))
    assert fitter.advancement == "quota" and fitter.quota == 40
    assert policy.preliminary[0] < policy.preliminary[1]
    assert policy.finals[0].isoformat() == "2021-09-10"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("weights: {theory: 0.3, practical: 0.7}", "weights: {theory: 0.3, practical: 0.6}"), "权重之和"),
        (("kind: title", "kind: medal"), "awards[1].kind"),
        (("amount: 8000", "amount: lots"), "awards[3].amount"),
        (("ranks: [1, 10]", "ranks: [10, 1]"), "awards[7].ranks"),
        (("level: province", "level: galaxy"), "contest.level"),
        (("tie_rule: [total_desc", "tie_rule: [shoe_size"), "tie_rule"),
    ],
)
def test_it_refuses_a_broken_policy_naming_the_key(tmp_path, change, message):
    text = (contest_policy.__globals__["POLICY_DIR"] / JILIN).read_text(encoding="utf-8")
    assert change[0] in text
    (tmp_path / JILIN).write_text(text.replace(change[0], change[1], 1), encoding="utf-8")
    with pytest.raises(ContestPolicyError, match=message.replace("[", r"\[").replace("]", r"\]")):
        contest_policy(JILIN, directory=tmp_path)


def test_it_refuses_a_path_as_policy_name():
    with pytest.raises(ContestPolicyError):
        contest_policy("../pyproject.toml")
