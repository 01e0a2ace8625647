"""Staff pages for banks and blueprints: the organiser's staff and those above; everyone else 404."""

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from gonghui.audit.models import AuditEvent
from gonghui.competitions.bank import read_bank
from gonghui.competitions.models import Blueprint, Question
from gonghui.competitions.papers import paper_generate
from gonghui.competitions.questions import question_retire, question_update
from gonghui.competitions.services import ContestError, RowSpec, blueprint_set

from .conftest import add_questions, register
from .test_bank import single, tf, xlsx


@pytest.fixture
def suburb_contest(world):
    """A contest organised by the 郊区 federation: the district persona's, not the sibling's."""
    from gonghui.competitions.services import contest_setup_from_policy

    contest = contest_setup_from_policy(
        policy_file="contest_jilin_2021.yaml", organiser=world.suburb_fed, actor=world.city_user
    )
    return contest.trades.get(code="fitter")


def bank_url(trade, name="contest_staff_bank", *extra):
    return reverse(name, args=[trade.contest.code, trade.code, *extra])


def test_outsiders_get_404_on_every_staff_page(client, world, suburb_contest):
    trade = suburb_contest
    add_questions(trade, "single", "安全", 1, 1)
    urls = [
        bank_url(trade),
        bank_url(trade, "contest_staff_question", 1),
        bank_url(trade, "contest_staff_bank_download", "xlsx"),
        bank_url(trade, "contest_staff_blueprint"),
        reverse("contest_statistics", args=[trade.contest.code]),
        reverse("contest_statistics_xlsx", args=[trade.contest.code]),
    ]
    client.force_login(world.sibling_user)  # 前进区 is refused 郊区's contest
    for url in urls:
        assert client.get(url).status_code == 404, url
    assert client.post(bank_url(trade, "contest_staff_question_retire", 1)).status_code == 404
    assert client.post(bank_url(trade), {"file": SimpleUploadedFile("a.xlsx", b"x")}).status_code == 404
    assert Question.objects.count() == 1
    for user in (world.district_user, world.city_user):  # the organiser's staff and the city above it
        client.force_login(user)
        for url in urls:
            assert client.get(url).status_code == 200, (user, url)
    client.logout()
    assert client.get(urls[0]).status_code == 302  # to the login page


def test_a_refused_file_shows_each_row_and_writes_nothing(client, world, fitter):
    client.force_login(world.city_user)
    data = xlsx([single("好题", "A"), single("答案越界", "E"), tf("判断也许", "也许")])
    response = client.post(bank_url(fitter), {"file": SimpleUploadedFile("坏.xlsx", data)})
    text = response.content.decode()
    assert response.status_code == 400
    assert "第 5 行「答案」：答案中的 E 没有对应的选项" in text
    assert "第 6 行「答案」：判断题答案「也许」" in text
    assert not Question.objects.exists()


@pytest.mark.parametrize("fmt", ["xlsx", "moodle-xml", "gift"])
def test_a_good_file_is_imported_and_the_bank_downloads_in_each_format(client, world, fitter, fmt):
    client.force_login(world.city_user)
    data = xlsx([single("好题", "A"), tf("判断", "对")])
    response = client.post(bank_url(fitter), {"file": SimpleUploadedFile("钳工.xlsx", data)})
    assert response.status_code == 302
    assert Question.objects.filter(trade=fitter).count() == 2
    download = client.get(bank_url(fitter, "contest_staff_bank_download", fmt))
    assert download.status_code == 200  # (an xlsx carries its save time: compared by content below)
    questions, errors = read_bank(download.content, file_name="x", fmt=fmt)
    assert not errors and sorted(p.stem for _, p in questions) == ["判断", "好题"]
    assert AuditEvent.objects.filter(action="contest.bank_export", actor=world.city_user).exists()
    assert client.get(bank_url(fitter, "contest_staff_bank_download", "csv")).status_code == 404


def test_the_bank_is_searched_by_type_area_difficulty_and_words(
    client, world, fitter, django_assert_max_num_queries
):
    add_questions(fitter, "single", "安全", 1, 30)
    add_questions(fitter, "true_false", "识图", 2, 2)
    client.force_login(world.city_user)
    # session, user, scope, contest + trade, count, page, cells, papers, and the page frame: not per question
    with django_assert_max_num_queries(13):
        text = client.get(bank_url(fitter), {"qtype": "true_false", "difficulty": "2"}).content.decode()
    assert "识图-true_false-2-31" in text and "安全-single" not in text
    text = client.get(bank_url(fitter), {"area": "安全", "q": "single-1-2"}).content.decode()
    assert (
        "安全-single-1-2" in text
        and "安全-single-1-3" not in text
        and "识图" not in text.split("</select>")[-1]
    )


def test_a_question_is_edited_until_a_paper_is_drawn_then_only_its_explanation(client, world, fitter):
    add_questions(fitter, "single", "安全", 1, 3)
    question = Question.objects.get(trade=fitter, number=1)
    client.force_login(world.city_user)
    url = bank_url(fitter, "contest_staff_question", 1)
    form = {
        "stem": "改过的题干",
        "option_A": "甲",
        "option_B": "乙",
        "option_C": "丙",
        "answer": "b",
        "knowledge_area": "安全",
        "difficulty": "1",
        "explanation": "新解析",
    }
    assert client.post(url, form).status_code == 302
    question.refresh_from_db()
    assert (question.stem, question.options, question.answer) == ("改过的题干", ["甲", "乙", "丙"], "B")
    bad = client.post(url, {**form, "answer": "E"})
    assert bad.status_code == 400 and "答案中的 E 没有对应的选项" in bad.content.decode()

    blueprint_set(trade=fitter, rows=[RowSpec("single", "安全", 1, 2, Decimal(1))], time_limit_minutes=30)
    paper_generate(registration=register(fitter, 1)[0])
    refused = client.post(url, {**form, "answer": "C"})
    assert refused.status_code == 400 and "已用于 1 份试卷，只能修改解析" in refused.content.decode()
    question.refresh_from_db()
    assert question.answer == "B"
    assert client.post(url, {**form, "explanation": "更正的解析"}).status_code == 302
    question.refresh_from_db()
    assert question.explanation == "更正的解析" and question.answer == "B"
    # retiring is refused too: regenerating the paper from its seed needs the bank as it stood
    client.post(bank_url(fitter, "contest_staff_question_retire", 1))
    assert Question.objects.filter(pk=question.pk).exists()


def test_a_question_added_after_the_papers_may_still_change(fitter):
    add_questions(fitter, "single", "安全", 1, 2)
    blueprint_set(trade=fitter, rows=[RowSpec("single", "安全", 1, 2, Decimal(1))], time_limit_minutes=30)
    paper_generate(registration=register(fitter, 1)[0])
    add_questions(fitter, "single", "安全", 1, 1)
    later = Question.objects.get(trade=fitter, number=3)
    question_update(
        question=later, stem="后加的题", options=["甲", "乙"], answer="A", knowledge_area="安全",
        difficulty=1, explanation="",
    )  # fmt: skip
    question_retire(question=later)
    assert not Question.objects.filter(pk=later.pk).exists()
    assert (
        AuditEvent.objects.filter(action="contest.question_retire").get().detail["question"]["stem"]
        == "后加的题"
    )


def test_retiring_is_refused_when_the_blueprint_would_run_short(fitter):
    add_questions(fitter, "single", "安全", 1, 2)
    blueprint_set(trade=fitter, rows=[RowSpec("single", "安全", 1, 2, Decimal(1))], time_limit_minutes=30)
    with pytest.raises(ContestError, match="组卷方案第 1 行.*需要 2 题，只剩 1 题"):
        question_retire(question=Question.objects.get(trade=fitter, number=1))
    assert Question.objects.filter(trade=fitter).count() == 2


def test_an_edit_into_a_duplicate_is_refused(fitter):
    add_questions(fitter, "true_false", "安全", 1, 2)
    first, second = Question.objects.filter(trade=fitter).order_by("number")
    question_update(
        question=first,
        stem="同一题",
        options=[],
        answer="对",
        knowledge_area="安全",
        difficulty=1,
        explanation="",
    )
    with pytest.raises(ContestError, match="与题库中的另一题相同"):
        question_update(
            question=second, stem=" 同一题", options=[], answer="对", knowledge_area="安全",
            difficulty=1, explanation="",
        )  # fmt: skip


def blueprint_form(rows, *, time_limit="45", blank=2):
    data = {"time_limit": time_limit, "row_count": str(len(rows) + blank)}
    for i, (qtype, area, difficulty, count, points) in enumerate(rows):
        data.update(
            {f"qtype_{i}": qtype, f"area_{i}": area, f"difficulty_{i}": difficulty, f"count_{i}": count,
             f"points_{i}": points}
        )  # fmt: skip
    return data


def test_the_blueprint_is_set_by_the_form_and_checked_against_the_bank(client, world, fitter):
    add_questions(fitter, "single", "安全", 1, 3)
    add_questions(fitter, "true_false", "识图", 2, 2)
    client.force_login(world.city_user)
    url = bank_url(fitter, "contest_staff_blueprint")
    short = client.post(
        url, blueprint_form([("single", "安全", "1", "2", "2"), ("true_false", "识图", "2", "5", "1")])
    )
    assert short.status_code == 400
    assert "组卷方案第 2 行（判断题/识图/中）：需要 5 题，题库只有 2 题" in short.content.decode()
    assert not Blueprint.objects.get(trade=fitter).rows.exists()
    half = client.post(url, blueprint_form([("single", "安全", "1", "", "2")]))
    assert half.status_code == 400 and "组卷方案第 1 行：请填写" in half.content.decode()
    ok = client.post(
        url, blueprint_form([("single", "安全", "易", "2", "2.5"), ("true_false", "识图", "2", "2", "1")])
    )
    assert ok.status_code == 302
    blueprint = Blueprint.objects.get(trade=fitter)
    assert blueprint.time_limit_minutes == 45
    assert [(r.qtype, r.knowledge_area, r.difficulty, r.count, r.points) for r in blueprint.rows.all()] == [
        ("single", "安全", 1, 2, Decimal("2.5")),
        ("true_false", "识图", 2, 2, Decimal("1")),
    ]
    page = client.get(url).content.decode()
    assert 'value="安全"' in page and 'value="2.50"' in page

    paper_generate(registration=register(fitter, 1)[0])
    refused = client.post(url, blueprint_form([("single", "安全", "1", "3", "2")]))
    assert refused.status_code == 400 and "已按组卷方案生成 1 份试卷" in refused.content.decode()
    assert blueprint.rows.count() == 2
