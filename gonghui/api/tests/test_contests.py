"""The contest API: public information for any token, candidates by ticket and ID number, staff statistics."""

import datetime as dt

import pytest
from django.utils import timezone

from gonghui.audit.models import AuditEvent
from gonghui.competitions.models import Contest, Question, Registration
from gonghui.competitions.services import contest_setup_from_policy
from gonghui.competitions.tests.conftest import add_questions, id_number
from gonghui.competitions.tests.test_exam import build, right_answers

JSON = "application/json"
ALL_CONSENTS = ["notice", "id_number", "phone"]


@pytest.fixture
def contest(world):
    return contest_setup_from_policy(
        policy_file="contest_jilin_2021.yaml", organiser=world.city_fed, actor=world.city_user
    )


@pytest.fixture
def city(world, bearer):
    return {"HTTP_AUTHORIZATION": bearer(world.city_user)}


def open_registration(contest):
    now = timezone.now()
    Contest.objects.filter(pk=contest.pk).update(
        registration_opens=now - dt.timedelta(days=1), registration_closes=now + dt.timedelta(days=1)
    )


def registration_body(**changes):
    body = {
        "trade_code": "welder",
        "name": "王师傅",
        "id_number": id_number(7),
        "phone": "13912345678",
        "enterprise_name": "吉林化纤集团",
        "work_region_code": "230811",
        "consent_version": "2026.1",
        "consent_items": ALL_CONSENTS,
    }
    body.update(changes)
    return body


def test_it_lists_contests_and_trades_to_a_token_only(client, contest, city):
    assert client.get("/api/v1/contests").status_code == 401
    listed = client.get("/api/v1/contests", **city).json()
    assert [c["code"] for c in listed] == ["jilin-2021"]
    assert len(listed[0]["trades"]) == 13 and listed[0]["organiser"] == "佳木斯市总工会"
    one = client.get("/api/v1/contests/jilin-2021", **city).json()
    assert {"code": "fitter", "name": "钳工"}.items() <= one["trades"][1].items()
    assert client.get("/api/v1/contests/nope", **city).status_code == 404


def test_a_public_bank_is_served_as_the_public_page_shows_it_and_a_private_one_is_not(client, contest, city):
    fitter = contest.trades.get(code="fitter")
    add_questions(fitter, "single", "安全", 1, 3)
    add_questions(fitter, "fill_blank", "装配", 2, 1)
    url = "/api/v1/contests/jilin-2021/trades/fitter/bank"
    page = client.get(url, {"page_size": 2, "page": 2}, **city).json()
    assert page["count"] == 4 and [q["number"] for q in page["items"]] == [3, 4]
    assert page["items"][0]["answer"] == "A" and page["items"][1]["accepted"] == [["扭矩", "转矩"]]
    assert client.get(url, {"area": "装配"}, **city).json()["count"] == 1
    Contest.objects.filter(pk=contest.pk).update(bank_public=False)
    assert client.get(url, **city).status_code == 404


def test_a_caller_registers_a_worker_with_consent_audited_as_the_caller(client, world, contest, city):
    open_registration(contest)
    url = "/api/v1/contests/jilin-2021/registrations"
    refused = client.post(url, registration_body(consent_items=["notice"]), content_type=JSON, **city)
    assert refused.status_code == 400 and "单独同意处理身份证号" in refused.json()["detail"]
    for code, said in (("", "请选择"), ("239999", "不存在"), ("23", "不在")):  # none, unknown, the province
        nowhere = client.post(url, registration_body(work_region_code=code), content_type=JSON, **city)
        assert nowhere.status_code == 400 and nowhere.json()["detail"].startswith("工作地点：")
        assert said in nowhere.json()["detail"]
    made = client.post(url, registration_body(), content_type=JSON, **city)
    assert made.status_code == 201
    out = made.json()
    assert out["trade_code"] == "welder" and out["preliminary"] == "not_started"
    assert id_number(7) not in made.content.decode() and out["id_number_masked"].count("*") >= 8
    registration = Registration.objects.get(ticket=out["ticket"])
    assert AuditEvent.objects.get(action="contest.register").actor == world.city_user
    again = client.post(url, registration_body(), content_type=JSON, **city)
    assert again.status_code == 400 and "不能重复报名" in again.json()["detail"]
    assert Registration.objects.count() == 1 and registration.person.name == "王师傅"
    assert registration.region == world.suburb
    Contest.objects.filter(pk=contest.pk).update(registration_closes=timezone.now() - dt.timedelta(hours=1))
    late = client.post(url, registration_body(id_number=id_number(8)), content_type=JSON, **city)
    assert late.status_code == 400 and "报名时间为" in late.json()["detail"]


def test_status_and_result_by_ticket_and_id_number_published_after_the_preliminary(
    client, world, contest, city
):
    from gonghui.competitions.exam import attempt_save, attempt_start, attempt_submit

    fitter = contest.trades.get(code="fitter")
    a, b = build(fitter)
    body = {"ticket": a.ticket, "id_number": id_number(0)}
    status = client.post("/api/v1/contests/registrations/status", body, content_type=JSON, **city)
    assert status.status_code == 200 and status.json()["preliminary"] == "not_started"
    wrong = {"ticket": a.ticket, "id_number": id_number(1)}
    assert (
        client.post("/api/v1/contests/registrations/status", wrong, content_type=JSON, **city).status_code
        == 404
    )
    assert AuditEvent.objects.filter(action="contest.api_status", actor=world.city_user).count() == 2

    now = timezone.now()
    Contest.objects.filter(pk=contest.pk).update(
        preliminary_opens=now - dt.timedelta(hours=2), preliminary_closes=now + dt.timedelta(hours=1)
    )
    for registration, right in ((a, True), (b, False)):
        registration = Registration.objects.get(pk=registration.pk)  # the contest's new dates
        attempt = attempt_start(registration=registration)
        if right:
            attempt_save(attempt=attempt, answers=right_answers(attempt))
        attempt_submit(attempt=attempt)
    url = "/api/v1/contests/registrations/result"
    early = client.post(url, body, content_type=JSON, **city)
    assert early.status_code == 409 and "初赛结束后公布成绩" in early.json()["detail"]
    Contest.objects.filter(pk=contest.pk).update(preliminary_closes=now - dt.timedelta(minutes=1))
    result = client.post(url, body, content_type=JSON, **city).json()
    assert result == {"ticket": a.ticket, "trade_code": "fitter", "score": "12.00", "rank": 1, "ranked": 2,
                      "finalist": True}  # fmt: skip
    assert not any(q.answer in str(result) for q in Question.objects.filter(qtype="multiple"))


def test_statistics_are_for_the_organisers_staff_only(client, world, contest, bearer):
    build(contest.trades.get(code="fitter"))
    url = "/api/v1/contests/jilin-2021/statistics"
    ok = client.get(url, HTTP_AUTHORIZATION=bearer(world.city_user))
    assert ok.status_code == 200
    assert ok.json()["totals"]["registrations"] == 2 and len(ok.json()["by_trade"]) == 13
    for outsider in (world.district_user, world.sibling_user):
        assert client.get(url, HTTP_AUTHORIZATION=bearer(outsider)).status_code == 404


def test_the_contest_endpoints_are_in_the_openapi_schema(client, db):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert {
        "/api/v1/contests",
        "/api/v1/contests/{code}/trades/{trade_code}/bank",
        "/api/v1/contests/{code}/registrations",
        "/api/v1/contests/registrations/status",
        "/api/v1/contests/registrations/result",
        "/api/v1/contests/{code}/statistics",
    } <= set(paths)
    assert "security" in paths["/api/v1/contests/{code}/statistics"]["get"]
