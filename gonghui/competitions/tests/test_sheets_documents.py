"""Score sheets by criterion and the judges' pages; technical documents; the team registration page."""

import datetime as dt
import hashlib
import io
import zipfile
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from gonghui.competitions.exam import attempt_start
from gonghui.competitions.models import Attempt, AttemptStatus, JudgeScore, TechnicalDocument
from gonghui.competitions.policy import contest_policy
from gonghui.competitions.ranking import final_results
from gonghui.competitions.services import ContestError, contest_setup_from_policy
from gonghui.competitions.sheets import judge_assign, sheet_record

from .conftest import register
from .test_exam import build

D = Decimal
JILIN = contest_policy("contest_jilin_2021.yaml")
FULL = {"safety": "10", "preparation": "15", "appearance": "35", "inspection": "40"}


@pytest.fixture
def suburb_contest(world):
    """Jilin's policy, organised by 郊区总工会: the city and 郊区 staff may manage it, 前进区 may not."""
    return contest_setup_from_policy(
        policy_file="contest_jilin_2021.yaml", organiser=world.suburb_fed, actor=world.district_user
    )


@pytest.fixture
def welder(suburb_contest):
    return suburb_contest.trades.get(code="welder")


def _finalists(trade, scores=(12, 9, 6), quota=2):
    """Registrations with finished preliminaries scoring `scores` (of 12), the trade's quota set."""
    regs = build(trade) + register(trade, len(scores) - 2, start=10)
    now = trade.contest.preliminary_opens + dt.timedelta(hours=1)
    for reg, score in zip(regs, scores, strict=True):
        attempt_start(registration=reg, now=now)
        Attempt.objects.filter(registration=reg).update(
            status=AttemptStatus.SUBMITTED,
            score=D(score),
            correct=0,
            submitted_at=now + dt.timedelta(minutes=30),
        )
    trade.finalist_quota = quota
    trade.save()
    return regs


def test_a_sheet_is_the_sum_of_its_criteria_and_is_checked_line_by_line(world, welder):
    regs = _finalists(welder)
    row = sheet_record(registration=regs[0], judge="评委甲", criteria={**FULL, "appearance": "30.5"})
    assert row.score == D("95.50")
    assert row.criteria == {
        "safety": "10.00",
        "preparation": "15.00",
        "appearance": "30.50",
        "inspection": "40.00",
    }
    with pytest.raises(ContestError, match="评分项“焊缝外观”：36 应在 0 到 35 之间"):
        sheet_record(registration=regs[1], judge="评委甲", criteria={**FULL, "appearance": "36"})
    with pytest.raises(ContestError, match="评分项“无损检测”未评分"):
        sheet_record(
            registration=regs[1],
            judge="评委甲",
            criteria={k: v for k, v in FULL.items() if k != "inspection"},
        )
    with pytest.raises(ContestError, match="没有评分项 speed"):
        sheet_record(registration=regs[1], judge="评委甲", criteria={**FULL, "speed": "1"})
    with pytest.raises(ContestError, match="按评分表评分"):
        sheet_record(registration=regs[1], judge="评委甲", score=D(90))
    with pytest.raises(ContestError, match="未进入决赛"):
        sheet_record(registration=regs[2], judge="评委甲", criteria=FULL)
    with pytest.raises(ContestError, match="评委甲 已为"):
        sheet_record(registration=regs[0], judge="评委甲", criteria=FULL)
    assert JudgeScore.objects.count() == 1


def test_finals_use_the_sheets_sums_dropping_highest_and_lowest_with_five_judges(world, welder):
    regs = _finalists(welder)
    # five judges: totals 100, 90, 80, 70, 50 -> drop 100 and 50 -> mean 80
    for judge, appearance, inspection in (
        ("甲", 35, 40),
        ("乙", 35, 30),
        ("丙", 25, 30),
        ("丁", 15, 30),
        ("戊", 15, 10),
    ):
        sheet_record(
            registration=regs[0],
            judge=judge,
            criteria={**FULL, "appearance": appearance, "inspection": inspection},
        )
    results = {r.registration_id: r for r in final_results(welder, JILIN)}
    assert results[regs[0].pk].practical == D("80.00")
    assert results[regs[0].pk].total == D("86.00")  # 100 x 0.3 + 80 x 0.7


def test_cli_records_a_sheet_by_criterion_and_refuses_a_bad_line(world, welder):
    regs = _finalists(welder)
    out = io.StringIO()
    args = [
        "contest",
        "judge-score",
        "--contest",
        "jilin-2021",
        "--ticket",
        regs[0].ticket,
        "--judge",
        "评委甲",
    ]
    call_command(*args, *[f"--criterion={k}={v}" for k, v in FULL.items()], stdout=out)
    assert out.getvalue().strip().endswith("评委甲\t100.00")
    with pytest.raises(CommandError, match="焊缝外观"):
        call_command(
            *args[:-1], "评委乙", *[f"--criterion={k}={v}" for k, v in {**FULL, "appearance": "x"}.items()]
        )
    assert JudgeScore.objects.get().criteria["inspection"] == "40.00"


# --- the judges' pages ---


def test_a_judge_scores_the_finalists_of_their_trade_on_the_phone_page(client, world, welder):
    regs = _finalists(welder)
    judge_assign(trade=welder, user=world.district_user, name="评委甲", actor=world.city_user)
    client.force_login(world.district_user)
    page = client.get(f"/contests/judging/{welder.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert regs[0].ticket in html and regs[1].ticket in html
    assert regs[2].ticket not in html  # did not advance
    assert "选手" not in html  # names are not shown to judges
    sheet = client.get(f"/contests/judging/{welder.pk}/{regs[0].pk}/")
    assert sheet.status_code == 200 and "焊缝外观" in sheet.content.decode()
    bad = client.post(
        f"/contests/judging/{welder.pk}/{regs[0].pk}/",
        {f"c_{k}": v for k, v in {**FULL, "safety": "11"}.items()},
    )
    assert bad.status_code == 400 and "安全文明生产" in bad.content.decode()
    done = client.post(f"/contests/judging/{welder.pk}/{regs[0].pk}/", {f"c_{k}": v for k, v in FULL.items()})
    assert done.status_code == 302
    row = JudgeScore.objects.get()
    assert (row.judge, row.judge_user, row.score) == ("评委甲", world.district_user, D(100))
    # saving again replaces the sheet; the audit log keeps the previous points
    client.post(
        f"/contests/judging/{welder.pk}/{regs[0].pk}/",
        {f"c_{k}": v for k, v in {**FULL, "safety": "5"}.items()},
    )
    assert JudgeScore.objects.get().score == D(95)
    from gonghui.audit.models import AuditEvent

    last = AuditEvent.objects.filter(action="contest.judge_score").order_by("-id").first()
    assert last.detail["previous"]["score"] == "100.00"


def test_judging_pages_refuse_everyone_but_the_trades_judges(client, world, welder, suburb_contest):
    regs = _finalists(welder)
    fitter = suburb_contest.trades.get(code="fitter")
    judge_assign(trade=fitter, user=world.district_user, name="评委甲")
    judge_assign(trade=welder, user=world.city_user, name="评委乙")
    client.force_login(world.district_user)  # judges fitter, not welder
    assert client.get(f"/contests/judging/{welder.pk}/").status_code == 404
    assert client.get(f"/contests/judging/{welder.pk}/{regs[0].pk}/").status_code == 404
    assert client.post(f"/contests/judging/{welder.pk}/{regs[0].pk}/", FULL).status_code == 404
    client.force_login(world.sibling_user)  # judges nothing
    assert client.get(f"/contests/judging/{welder.pk}/").status_code == 404
    assert "焊工" not in client.get("/contests/judging/").content.decode()
    client.force_login(world.city_user)
    assert client.get(f"/contests/judging/{welder.pk}/{regs[2].pk}/").status_code == 404  # not a finalist
    client.logout()
    assert client.get(f"/contests/judging/{welder.pk}/").status_code == 302  # to the login page
    assert not JudgeScore.objects.exists()


def test_judges_are_assigned_only_by_staff_of_the_contest(world, welder):
    with pytest.raises(ContestError, match="无权"):
        judge_assign(trade=welder, user=world.sibling_user, actor=world.sibling_user)
    judge_assign(trade=welder, user=world.sibling_user, name="评委丙", actor=world.district_user)
    with pytest.raises(ContestError, match="已是"):
        judge_assign(trade=welder, user=world.sibling_user, actor=world.city_user)


# --- technical documents ---


def _docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


PDF = b"%PDF-1.4\n% technical document\n%%EOF\n"


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def test_staff_upload_publish_and_anyone_downloads_a_published_document(client, world, welder, media):
    url = "/contests/jilin-2021/trades/welder/documents/manage/"
    client.force_login(world.district_user)
    response = client.post(
        url, {"title": "焊工技术文件", "file": SimpleUploadedFile("../../技术文件.pdf", PDF)}
    )
    assert response.status_code == 302
    document = TechnicalDocument.objects.get()
    assert document.sha256 == hashlib.sha256(PDF).hexdigest() and document.original_name == "技术文件.pdf"
    stored = media / "contest-documents" / document.stored_name
    assert stored.read_bytes() == PDF and ".." not in document.stored_name
    client.logout()
    download = f"/contests/jilin-2021/trades/welder/documents/{document.pk}/"
    assert client.get(download).status_code == 404  # not published yet
    assert "焊工技术文件" not in client.get("/contests/jilin-2021/trades/welder/").content.decode()
    client.force_login(world.city_user)
    client.post(f"{url}{document.pk}/publish/", {"published": "1"})
    client.logout()
    page = client.get("/contests/jilin-2021/trades/welder/")
    assert page.status_code == 200 and "焊工技术文件" in page.content.decode()
    got = client.get(download)
    assert got.status_code == 200 and b"".join(got.streaming_content) == PDF
    assert got["X-Content-SHA256"] == document.sha256 and got["Content-Type"] == "application/pdf"
    # withdrawn: gone again for the public
    client.force_login(world.district_user)
    client.post(f"{url}{document.pk}/publish/", {"published": "0"})
    client.logout()
    assert client.get(download).status_code == 404


def test_documents_are_refused_when_not_what_they_claim_or_too_big(client, world, welder, media, monkeypatch):
    from gonghui.competitions import documents

    client.force_login(world.district_user)
    url = "/contests/jilin-2021/trades/welder/documents/manage/"
    cases = [
        (SimpleUploadedFile("a.exe", b"MZ"), "只接受 PDF"),
        (SimpleUploadedFile("a.pdf", b"MZ not a pdf"), "内容不是 PDF"),
        (SimpleUploadedFile("a.xlsx", _docx()), "内容不是 .xlsx"),
    ]
    for upload, message in cases:
        response = client.post(url, {"file": upload})
        assert response.status_code == 400 and message in response.content.decode()
    monkeypatch.setattr(documents, "MAX_DOCUMENT_BYTES", 10)
    with pytest.raises(ContestError, match="超过"):
        documents.document_upload(trade=welder, title="", name="big.docx", data=_docx())
    monkeypatch.undo()
    assert client.post(url, {"file": SimpleUploadedFile("a.docx", _docx())}).status_code == 302
    assert (
        client.post(url, {"file": SimpleUploadedFile("b.docx", _docx())}).status_code == 400
    )  # same content
    assert TechnicalDocument.objects.count() == 1


def test_documents_management_refuses_staff_outside_the_contest(client, world, welder, media):
    url = "/contests/jilin-2021/trades/welder/documents/manage/"
    client.force_login(world.sibling_user)
    assert client.get(url).status_code == 404
    assert client.post(url, {"file": SimpleUploadedFile("a.pdf", PDF)}).status_code == 404
    client.force_login(world.city_user)
    assert client.get(url).status_code == 200
    assert not TechnicalDocument.objects.exists()


def test_a_contest_that_is_not_public_has_no_public_trade_page_or_documents(client, world, welder, media):
    from gonghui.competitions.documents import document_publish, document_upload

    document = document_publish(
        document=document_upload(trade=welder, title="t", name="a.pdf", data=PDF), published=True
    )
    welder.contest.bank_public = False
    welder.contest.save()
    assert client.get("/contests/jilin-2021/trades/welder/").status_code == 404
    assert client.get(f"/contests/jilin-2021/trades/welder/documents/{document.pk}/").status_code == 404


# --- the team registration page ---


def test_a_leader_registers_a_team_from_the_phone_and_a_non_member_is_told_why(client, world):
    from gonghui.competitions.models import Team
    from gonghui.people.consent import consent_text

    from .conftest import id_number
    from .test_teams import make_member

    contest = contest_setup_from_policy(
        policy_file="contest_shandong_nev_2023.yaml", organiser=world.city_fed
    )
    now = timezone.now()
    contest.registration_opens, contest.registration_closes = (
        now - dt.timedelta(days=1),
        now + dt.timedelta(days=1),
    )
    contest.save()
    for n in (1, 2):
        make_member(world, n)
    url = "/contests/shandong-nev-2023/register/team/"
    assert client.get(url).status_code == 200
    form = {
        "trade": "nev-repair",
        "team": "比亚迪一队",
        "enterprise": "比亚迪济南基地",
        "work_region": str(world.suburb_town.pk),
        "member_name": ["会员1", "会员2", "路人"],
        "member_id": [id_number(1), id_number(2), id_number(3)],
        "member_phone": ["", "", ""],
        "consent_version": consent_text("contest").version,
        "consent": ["notice", "id_number"],
    }
    refused = client.post(url, form)
    assert refused.status_code == 400
    assert (
        "第 3 名队员（队员）" in refused.content.decode() and "仅限工会会员报名" in refused.content.decode()
    )
    form["member_name"], form["member_id"] = ["会员1", "会员2", ""], [id_number(1), id_number(2), ""]
    for nowhere in ("", str(world.province.pk)):  # where the unit is: required, among the city's places
        refused = client.post(url, {**form, "work_region": nowhere})
        assert refused.status_code == 400 and "工作地点：" in refused.content.decode()
    assert not Team.objects.exists()
    done = client.post(url, form)
    assert done.status_code == 200
    team = Team.objects.get()
    assert {r.region for r in team.members.all()} == {world.suburb_town}
    tickets = list(team.members.values_list("ticket", flat=True))
    assert len(tickets) == 2 and all(t in done.content.decode() for t in tickets)
    from gonghui.people.models import ConsentRecord

    assert (
        ConsentRecord.objects.filter(reference=f"contest:shandong-nev-2023:nev-repair:team:{team.pk}").count()
        == 2
    )
    # an individual contest has no team page
    contest_setup_from_policy(policy_file="contest_jilin_2021.yaml", organiser=world.city_fed)
    assert client.get("/contests/jilin-2021/register/team/").status_code == 404


def test_the_progress_page_links_each_trades_documents(client, world, welder):
    client.force_login(world.district_user)
    html = client.get("/contests/jilin-2021/progress/").content.decode()
    assert "/contests/jilin-2021/trades/welder/documents/manage/" in html


def test_cli_assigns_a_judge_and_refuses_an_unknown_account(world, welder):
    from gonghui.competitions.models import TradeJudge

    out = io.StringIO()
    call_command(
        "contest", "judge-assign", "--contest", "jilin-2021", "--trade", "welder", "--username", "suburb",
        "--name", "评委甲", stdout=out,
    )  # fmt: skip
    assert TradeJudge.objects.get().name == "评委甲" and "评委甲" in out.getvalue()
    with pytest.raises(CommandError, match="没有用户 nobody"):
        call_command(
            "contest", "judge-assign", "--contest", "jilin-2021", "--trade", "welder", "--username", "nobody"
        )
    with pytest.raises(CommandError, match="已是"):
        call_command(
            "contest", "judge-assign", "--contest", "jilin-2021", "--trade", "welder", "--username", "suburb"
        )
