"""The public pages under /join/: joining from a phone, the outcome, the member's page, card checks, QR codes.

Every response of a flow is kept and searched at the end: the ID number and the phone a worker
typed must appear in no URL and no page (only their masked forms).
"""

from __future__ import annotations

import re
import time
from datetime import date

import pytest
from django.core.cache import cache
from django.urls import reverse

from gonghui.audit.models import AuditEvent
from gonghui.lib.idcard import make_id_number
from gonghui.membership import services
from gonghui.membership.cards import card_check, card_token, qr_svg
from gonghui.membership.models import Membership, MembershipStatus, Transfer, TransferRequester
from gonghui.orgs.models import OccupationGroup
from gonghui.orgs.services import org_set_coverage
from gonghui.people.consent import consent_text
from gonghui.people.models import ConsentRecord, Person
from gonghui.people.tests.factories import PersonFactory

ID_NUMBER = make_id_number("230811", date(1992, 4, 18), 37)
PHONE = "13912345678"
NAME = "李小龙"
VERSION = consent_text("membership", on=date(2026, 6, 1)).version


@pytest.fixture(autouse=True)
def _fresh_throttle():
    cache.clear()
    yield
    cache.clear()


class Recorder:
    """A test client wrapper that keeps every URL asked for and every response, to search them at the end."""

    def __init__(self, client):
        self.client = client
        self.seen: list[tuple[str, str]] = []

    def _keep(self, url, response):
        body = (
            response.content.decode("utf-8", "replace")
            if response.get("Content-Type", "").startswith("text")
            else ""
        )
        self.seen.append((url, response.get("Location", "") + "\n" + body))
        return response

    def get(self, url, **kw):
        return self._keep(url, self.client.get(url, **kw))

    def post(self, url, data, **kw):
        return self._keep(url, self.client.post(url, data, **kw))

    def assert_never_shown(self, *secrets: str):
        for url, text in self.seen:
            for secret in secrets:
                assert secret not in url, f"{secret!r} in the URL {url}"
                assert secret not in text, f"{secret!r} in the response to {url}"


@pytest.fixture
def web(client):
    return Recorder(client)


@pytest.fixture
def rider():
    return OccupationGroup.objects.get_or_create(code="rider", defaults={"name": "外卖送餐员"})[0]


def join_data(world, **overrides):
    data = {
        "name": NAME,
        "id_number": ID_NUMBER,
        "phone": PHONE,
        "employer": "",
        "employer_name": "某某餐饮店",
        "group": "",
        "occupation": "外卖骑手",
        "work_region": world.suburb_town.pk,
        "org": "",
        "consent_version": VERSION,
        "consent_notice": "on",
        "consent_id_number": "on",
        "consent_phone": "on",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def apply_online(web, world, union_code=None, **overrides):
    response = web.post(reverse("join:start"), join_data(world, **overrides))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"] == reverse("join:union")
    page = web.get(reverse("join:union"))
    code = union_code or re.search(r'value="([^"]+)"[^>]*checked', page.content.decode()).group(1)
    response = web.post(reverse("join:union"), {"org": code})
    assert response.status_code == 302
    assert response["Location"] == reverse("join:done")
    return page


def look_up(web, id_number=ID_NUMBER, phone=PHONE):
    return web.post(reverse("join:lookup"), {"id_number": id_number, "phone": phone})


# --- joining ---------------------------------------------------------------------------------------


def test_the_joining_page_shows_the_versioned_notice_and_one_consent_per_sensitive_item(web, world):
    response = web.get(reverse("join:start"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "个人信息保护法" in html  # the notice, in Chinese by default
    assert f'name="consent_version" value="{VERSION}"' in html
    for item in ("notice", "id_number", "phone"):
        assert f'name="consent_{item}"' in html
    assert "csrfmiddlewaretoken" in html
    assert "长发镇" in html  # the work area choice goes down to townships
    assert '<a class="brand" href="/join/">' in html  # workers have no desk to go back to


def test_a_worker_joins_with_consent_recorded_and_the_weaves_suggestion_chosen(web, world, unions):
    page = apply_online(web, world)
    html = page.content.decode()
    # The weave puts the town union first (township before village) and says why; the village union also covers them.
    assert "由长发镇总工会覆盖" in html
    assert re.search(r'value="T230811100"[^>]*checked', html)
    assert 'value="V230811100001"' in html
    assert 'value="T230804002"' not in html  # 前进区's street union does not cover 长发镇

    person = Person.objects.get()
    assert person.name == NAME
    assert person.id_number_masked == ID_NUMBER[:6] + "********" + ID_NUMBER[-4:]
    assert person.phone_masked == "139****5678"
    assert person.work_region == world.suburb_town
    consent = ConsentRecord.objects.get(person=person)
    assert (consent.purpose, consent.version, consent.channel) == ("membership", VERSION, "online")
    assert consent.items == ["notice", "id_number", "phone"]
    assert consent.given_at is not None

    membership = Membership.objects.get(person=person)
    assert (membership.org, membership.status, membership.channel) == (unions.town, "pending", "online")
    assert membership.consent_version == VERSION
    assert "某某餐饮店" in membership.events.get().reason  # the employer as typed reaches the union

    done = web.get(reverse("join:done"))
    assert "长发镇总工会" in done.content.decode()
    web.assert_never_shown(ID_NUMBER, PHONE)


def test_a_worker_may_choose_another_union_that_covers_them(web, world, unions):
    apply_online(web, world, union_code="V230811100001")
    assert Membership.objects.get().org == unions.village


def test_a_union_not_offered_cannot_be_posted(web, world, unions):
    web.post(reverse("join:start"), join_data(world))
    response = web.post(reverse("join:union"), {"org": unions.street.code})
    assert response.status_code == 200
    assert 'class="field-error"' in response.content.decode()
    assert not Membership.objects.exists()


def test_the_union_of_a_qr_code_is_chosen_first(web, world, unions):
    response = web.get(reverse("join:start") + "?org=V230811100001")
    assert "长发镇民主村工会" in response.content.decode()
    assert 'name="org" value="V230811100001"' in response.content.decode()
    page = apply_online(web, world, org="V230811100001")
    assert re.search(r'value="V230811100001"[^>]*checked', page.content.decode())
    assert Membership.objects.get().org == unions.village


def test_an_industry_union_for_the_workers_group_is_suggested(web, world, unions, rider):
    from gonghui.orgs.services import org_create

    riders = org_create(
        code="I230811R",
        name="郊区快递外卖行业工会联合会",
        kind="industry",
        parent=world.suburb_fed,
        region=world.suburb,
    )
    org_set_coverage(org=riders, regions=[world.suburb], groups=[rider], employers=[])
    page = apply_online(web, world, group=rider.pk)
    assert re.search(r'value="I230811R"[^>]*checked', page.content.decode())
    assert Membership.objects.get().org == riders


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("id_number", ID_NUMBER[:17] + ("0" if ID_NUMBER[17] != "0" else "1"), "身份证号校验位错误"),
        ("id_number", "23081119920418", "身份证号长度应为18位"),
        ("phone", "2391234567", "手机号"),
        ("name", "", "这个字段是必填项"),
        ("work_region", "", "这个字段是必填项"),
    ],
)
def test_a_wrong_field_gets_a_chinese_error_beside_it_and_nothing_is_written(
    web, world, field, value, message
):
    response = web.post(reverse("join:start"), join_data(world, **{field: value}))
    html = response.content.decode()
    assert response.status_code == 200
    error = re.search(rf'id="id_{field}_error">([^<]*)<', html)
    assert error and message in error.group(1)
    assert not Person.objects.exists()
    assert not ConsentRecord.objects.exists()
    web.assert_never_shown(ID_NUMBER, PHONE, value or "\x00")


def test_without_each_separate_consent_nobody_is_registered(web, world):
    response = web.post(reverse("join:start"), join_data(world, consent_phone=None))
    assert 'id="id_consent_phone_error"' in response.content.decode()
    assert not Person.objects.exists()


def test_a_notice_changed_since_the_page_was_opened_must_be_read_again(web, world):
    response = web.post(reverse("join:start"), join_data(world, consent_version="2020.1"))
    assert 'id="id_consent_version_error"' not in response.content.decode()  # hidden: shown at the top
    assert 'class="error"' in response.content.decode()
    assert not ConsentRecord.objects.exists()


def test_someone_with_an_application_pending_is_told_so_and_not_registered_twice(web, world, unions):
    apply_online(web, world)
    web.client.cookies.clear()
    response = web.post(reverse("join:start"), join_data(world))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="already"' in html
    assert "长发镇总工会" in html  # which union ...
    assert Membership.objects.get().submitted_at.astimezone().strftime("%Y-%m-%d") in html  # ... since when
    assert Membership.objects.count() == 1
    assert ConsentRecord.objects.count() == 1
    web.assert_never_shown(ID_NUMBER, PHONE)


def test_an_active_member_is_told_since_when_and_a_stranger_with_the_id_number_learns_no_union(
    web, world, unions
):
    apply_online(web, world)
    membership = Membership.objects.get()
    services.membership_approve(membership=membership)
    web.client.cookies.clear()
    html = web.post(reverse("join:start"), join_data(world)).content.decode()
    assert "长发镇总工会" in html and membership.joined_on.strftime("%Y-%m-%d") in html

    stranger = web.post(reverse("join:start"), join_data(world, phone="13700000000")).content.decode()
    assert 'id="already"' in stranger
    assert "长发镇" not in stranger.split('id="already"')[1]
    assert Membership.objects.count() == 1
    assert Person.objects.get().phone_masked == "139****5678"  # the stranger changed nothing


def test_an_id_number_registered_under_another_name_is_refused(web, world, unions):
    PersonFactory(name="王大锤", id_number=ID_NUMBER, phone="13800000000")
    response = web.post(reverse("join:start"), join_data(world))
    assert "姓名与该身份证号登记的姓名不一致" in response.content.decode()
    assert Person.objects.get().phone_masked == "138****0000"
    assert not ConsentRecord.objects.exists()


def test_a_person_the_census_knows_joins_with_their_record_brought_up_to_date(web, world, unions):
    known = PersonFactory(name=NAME, id_number=ID_NUMBER, phone="13800000000")
    apply_online(web, world)
    known.refresh_from_db()
    assert Person.objects.count() == 1
    assert known.phone_masked == "139****5678"
    assert known.work_region == world.suburb_town
    assert Membership.objects.get().person == known


def test_the_second_step_needs_the_first(web, world):
    assert web.get(reverse("join:union"))["Location"] == reverse("join:start")
    assert web.get(reverse("join:done"))["Location"] == reverse("join:start")


# --- the outcome and the member's own page -------------------------------------------------------------


def test_the_worker_looks_up_pending_then_approved_with_the_card(web, world, unions):
    apply_online(web, world)
    response = look_up(web)
    assert response["Location"] == reverse("join:me")
    html = web.get(reverse("join:me")).content.decode()
    assert 'data-status="pending"' in html and "长发镇总工会" in html

    membership = Membership.objects.get()
    services.membership_approve(membership=membership)
    membership.refresh_from_db()
    html = web.get(reverse("join:me")).content.decode()
    assert 'data-status="active"' in html
    assert 'id="member-card"' in html
    assert membership.member_no in html
    assert "李*龙" in html and NAME not in html  # the name masked on the card
    assert "<svg" in html  # the card's QR code
    token = card_token(membership)
    assert reverse("join:verify", args=[token]) in html
    assert html.count('class="history-at"') == 2  # applied, approved
    web.assert_never_shown(ID_NUMBER, PHONE)


def test_a_rejected_worker_sees_the_reason(web, world, unions):
    apply_online(web, world)
    services.membership_reject(membership=Membership.objects.get(), reason="所填单位不在本会覆盖范围")
    look_up(web)
    html = web.get(reverse("join:me")).content.decode()
    assert 'data-status="rejected"' in html
    assert "所填单位不在本会覆盖范围" in html


def test_a_wrong_phone_or_unknown_id_number_gets_one_answer_and_no_page(web, world, unions):
    apply_online(web, world)
    web.client.cookies.clear()
    wrong_phone = look_up(web, phone="13700000000")
    unknown = look_up(web, id_number=make_id_number("230811", date(1990, 1, 1), 11))
    assert wrong_phone.status_code == unknown.status_code == 200
    assert 'class="error"' in wrong_phone.content.decode()
    assert wrong_phone.content.decode().count("error") == unknown.content.decode().count("error")
    assert web.get(reverse("join:me"))["Location"] == reverse("join:lookup")


def test_the_member_page_is_closed_when_the_short_lived_flag_runs_out(web, world, unions):
    apply_online(web, world)
    look_up(web)
    assert web.get(reverse("join:me")).status_code == 200
    session = web.client.session
    session["join_member"]["until"] = time.time() - 1
    session.save()
    assert web.get(reverse("join:me"))["Location"] == reverse("join:lookup")


def test_leaving_the_member_page_ends_it(web, world, unions):
    apply_online(web, world)
    look_up(web)
    web.post(reverse("join:leave"), {})
    assert web.get(reverse("join:me"))["Location"] == reverse("join:lookup")


def test_lookups_and_joining_are_only_posts(web, world):
    response = web.get(reverse("join:lookup") + f"?id_number={ID_NUMBER}&phone={PHONE}")
    assert response.status_code == 200
    assert ID_NUMBER not in response.content.decode()
    assert "join_member" not in web.client.session


def test_a_member_asks_to_move_to_another_union(web, world, unions):
    apply_online(web, world)
    services.membership_approve(membership=Membership.objects.get())
    look_up(web)
    page = web.post(reverse("join:transfer"), {"work_region": world.qianjin_street.pk, "reason": "换了站点"})
    html = page.content.decode()
    assert "永安街道总工会" in html
    assert 'value="T230811100"' not in html  # not the union they are in
    web.post(
        reverse("join:transfer"),
        {"work_region": world.qianjin_street.pk, "reason": "换了站点", "org": "T230804002"},
    )
    transfer = Transfer.objects.get()
    assert (transfer.to_org, transfer.status, transfer.requested_by_kind) == (
        unions.street,
        "requested",
        TransferRequester.WORKER,
    )
    assert "永安街道" in transfer.reason and "换了站点" in transfer.reason
    html = web.get(reverse("join:me")).content.decode()
    assert "永安街道总工会" in html
    assert reverse("join:transfer") not in html  # one open request at a time
    web.assert_never_shown(ID_NUMBER, PHONE)


def test_a_pending_applicant_cannot_ask_to_move(web, world, unions):
    apply_online(web, world)
    look_up(web)
    assert web.get(reverse("join:transfer"))["Location"] == reverse("join:me")


# --- card verification ------------------------------------------------------------------------------


@pytest.fixture
def member(world, unions):
    person = PersonFactory(name="张三丰", id_number=ID_NUMBER, phone=PHONE)
    membership = services.membership_apply(person=person, org=unions.town, channel="online")
    return services.membership_approve(membership=membership)


def test_a_scanned_card_shows_valid_the_masked_name_and_the_union_only(web, member):
    token = card_token(member)
    assert ID_NUMBER not in token and member.person.name not in token
    html = web.get(reverse("join:verify", args=[token])).content.decode()
    assert 'data-valid="true"' in html
    assert "张*丰" in html and "长发镇总工会" in html
    for private in ("张三丰", member.person.id_number_masked, member.person.phone_masked, "1992"):
        assert private not in html


def test_a_tampered_or_made_up_token_is_refused(web, member):
    token = card_token(member)
    body, _, signature = token.rpartition(":")
    forged = [
        token[:-1] + ("A" if token[-1] != "A" else "B"),
        body + ":" + signature[::-1],
        "1:abc",
        str(member.pk),
        member.member_no,
    ]
    for bad in forged:
        html = web.get(reverse("join:verify", args=[bad])).content.decode()
        assert 'data-valid="false"' in html
        assert "长发镇总工会" not in html and "张*丰" not in html
    assert card_check(token).valid


def test_a_card_stops_being_valid_when_the_membership_ends(web, member):
    token = card_token(member)
    services.membership_lapse(membership=member, reason="失联")
    html = web.get(reverse("join:verify", args=[token])).content.decode()
    assert 'data-valid="false"' in html
    assert "长发镇总工会" in html  # a real card, no longer valid


# --- limits, QR codes ---------------------------------------------------------------------------------


def test_the_public_forms_are_limited_per_address(web, world, settings):
    settings.GONGHUI_JOIN_POSTS_PER_10_MIN = 2
    for _ in range(2):
        assert look_up(web, phone="13700000000").status_code == 200
    assert look_up(web).status_code == 429
    assert web.post(reverse("join:start"), join_data(world, name="")).status_code == 200  # its own counter


def test_staff_print_the_joining_qr_codes_of_their_unions_only(client, world, unions):
    assert client.get(reverse("join:qr_list"))["Location"].startswith(reverse("login"))
    client.force_login(world.district_user)
    html = client.get(reverse("join:qr_list")).content.decode().split('class="qr-grid"')[1]
    assert "长发镇总工会" in html and "长发镇民主村工会" in html
    assert "永安街道总工会" not in html and "郊区总工会" not in html  # another district; a federation
    assert "/join/?org=T230811100" in html
    # The printed code is the code of that address (segno draws the same symbol for the same text).
    assert qr_svg("http://testserver/join/?org=T230811100", scale=3, title="长发镇总工会") in html
    png = client.get(reverse("join:qr_image", args=["T230811100", "png"]))
    assert png["Content-Type"] == "image/png" and png.content.startswith(b"\x89PNG")
    svg = client.get(reverse("join:qr_image", args=["T230811100", "svg"]))
    assert svg.content.startswith(b"<svg") or b"<svg" in svg.content[:200]
    client.force_login(world.sibling_user)
    assert client.get(reverse("join:qr_image", args=["T230811100", "png"])).status_code == 404


def test_english_is_one_switch_away(web, world):
    web.client.cookies["django_language"] = "en"
    html = web.get(reverse("join:start")).content.decode()
    assert "Join the trade union" in html
    assert "The Jiamusi Federation" in html  # the notice in English too


def test_the_joining_steps_are_audited_without_the_numbers(web, world, unions):
    apply_online(web, world)
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"person.create", "consent.record", "membership.apply"} <= actions
    for detail in AuditEvent.objects.values_list("detail", flat=True):
        assert ID_NUMBER not in str(detail) and PHONE not in str(detail)


def test_membership_states_are_the_ones_the_pages_know():
    assert {"pending", "active", "rejected"} <= set(MembershipStatus.values)


def test_a_link_naming_a_federation_or_an_unknown_code_chooses_nothing(web, world, unions):
    html = web.get(reverse("join:start") + "?org=C230811").content.decode()
    assert 'class="join-via"' not in html
    page = apply_online(web, world, org="C230811")
    assert 'value="C230811"' not in page.content.decode()
    assert Membership.objects.get().org == unions.town


def test_a_worker_no_union_covers_is_told_whom_to_call(web, world):
    web.post(reverse("join:start"), join_data(world, work_region=world.qianjin_street.pk))
    html = web.get(reverse("join:union")).content.decode()
    assert "12351" in html
    assert 'name="org"' not in html


def test_the_qr_page_reads_a_fixed_number_of_queries(client, world, unions, django_assert_max_num_queries):
    from gonghui.orgs.services import org_create

    for n in range(10):
        org_create(
            code=f"E23081110{n}",
            name=f"郊区企业{n}工会",
            kind="enterprise",
            parent=world.suburb_fed,
            region=world.suburb,
        )
    client.force_login(world.district_user)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("join:qr_list"))
    assert response.content.decode().count('class="qr-card"') == 12


def test_qr_codes_carry_the_public_address_when_the_site_is_behind_a_proxy(client, world, unions, settings):
    settings.GONGHUI_PUBLIC_URL = "https://ruhui.example.org/"
    client.force_login(world.district_user)
    html = client.get(reverse("join:qr_list")).content.decode()
    assert "https://ruhui.example.org/join/?org=T230811100" in html
    assert "testserver" not in html.split('class="qr-grid"')[1]
