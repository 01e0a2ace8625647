import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from gonghui.competitions.models import Contest, Registration, Trade
from gonghui.competitions.services import ContestError, registration_apply
from gonghui.competitions.stats import contest_figures
from gonghui.people.models import ConsentRecord, Person
from gonghui.regions.models import Region, RegionLevel

from .conftest import id_number

ALL_CONSENTS = ["notice", "id_number", "phone"]


@pytest.fixture
def open_contest(contest):
    now = timezone.now()
    Contest.objects.filter(pk=contest.pk).update(
        registration_opens=now - dt.timedelta(days=1), registration_closes=now + dt.timedelta(days=1)
    )
    return contest


def form(**changes):
    data = {
        "trade": "welder",
        "name": "王师傅",
        "id_number": id_number(7),
        "phone": "13912345678",
        "enterprise": "吉林化纤集团",
        "work_region": str(Region.objects.get(code="230811000000").pk),  # 郊区, a county of the city
        "consent_version": "2026.1",
        "consent": ALL_CONSENTS,
    }
    data.update(changes)
    return data


def test_a_worker_registers_from_the_phone_page_with_consent(client, open_contest):
    url = reverse("contest_register", args=[open_contest.code])
    assert client.get(url).status_code == 200
    done = client.post(url, form())
    assert done.status_code == 200
    registration = Registration.objects.get()
    assert registration.ticket in done.content.decode() and registration.trade.code == "welder"
    assert registration.enterprise_name == "吉林化纤集团" and registration.region.name == "郊区"
    consent = ConsentRecord.objects.get(person=registration.person)
    assert consent.purpose == "contest" and sorted(consent.items) == sorted(ALL_CONSENTS)
    assert client.get(reverse("contest_candidate_home")).status_code == 200  # signed in to practise
    again = client.post(url, form())
    assert again.status_code == 400 and "已报名焊工" in again.content.decode()
    assert Registration.objects.count() == 1


def test_registration_without_consent_or_outside_the_stage_writes_nothing(client, contest):
    url = reverse("contest_register", args=[contest.code])
    late = client.post(url, form())  # the policy's 2021 dates: closed now
    assert late.status_code == 400 and "报名时间为" in late.content.decode()
    Contest.objects.filter(pk=contest.pk).update(registration_closes=timezone.now() + dt.timedelta(days=1))
    refused = client.post(url, form(consent=["notice"]))
    assert refused.status_code == 400 and "单独同意处理身份证号和手机号" in refused.content.decode()
    wrong = id_number(7)[:17] + ("1" if id_number(7)[17] != "1" else "2")  # a wrong check character
    bad = client.post(url, form(id_number=wrong))
    assert bad.status_code == 400 and "校验位" in bad.content.decode()
    assert wrong not in bad.content.decode()  # the typed ID number is never echoed
    assert (
        not Person.objects.exists()
        and not Registration.objects.exists()
        and not ConsentRecord.objects.exists()
    )


def test_the_page_asks_where_the_worker_works_among_the_organisers_counties_and_townships(
    client, world, open_contest
):
    html = client.get(reverse("contest_register", args=[open_contest.code])).content.decode()
    assert 'name="work_region"' in html and "工作地点" in html
    # The city's contest is counted by county: a county, then its townships indented, per county.
    assert '<optgroup label="郊区">' in html and "郊区</option>" in html and "\u3000长发镇" in html
    assert "\u3000永安街道" in html
    assert "黑龙江省</option>" not in html and "佳木斯市</option>" not in html  # above the counted level


def test_a_worker_who_says_where_they_work_is_counted_there_on_the_statistics_page(
    client, world, open_contest
):
    url = reverse("contest_register", args=[open_contest.code])
    done = client.post(url, form(work_region=str(world.qianjin_street.pk)))  # a street of 前进区
    assert done.status_code == 200
    assert Registration.objects.get().region == world.qianjin_street
    assert Person.objects.get().work_region is None  # the person's own record is left as it was
    regions = {f.key: f for f in contest_figures(open_contest).by_region}
    assert set(regions) == {"230804"} and regions["230804"].registrations == 1
    assert regions["230804"].label == "前进区"
    page = client.get(reverse("contest_page", args=[open_contest.code])).content.decode()
    assert "前进区" in page and "地区不详" not in page


def test_a_missing_or_out_of_scope_work_area_is_refused_naming_the_field(client, world, open_contest):
    harbin = Region.objects.create(
        code="230100000000", name="哈尔滨市", level=RegionLevel.CITY, parent=world.province
    )
    daoli = Region.objects.create(code="230102000000", name="道里区", level=RegionLevel.COUNTY, parent=harbin)
    url = reverse("contest_register", args=[open_contest.code])
    for value in ("", str(daoli.pk), str(world.province.pk), str(world.city.pk), "郊区", "999999"):
        refused = client.post(url, form(work_region=value))
        assert refused.status_code == 400, value
        assert "工作地点：" in refused.content.decode(), value
    assert not Registration.objects.exists() and not Person.objects.exists()
    # The service refuses it too, whoever calls it (the API, the team page).
    welder = Trade.objects.get(contest__code=open_contest.code, code="welder")  # the dates as opened
    for region, said in ((None, "请选择"), (daoli, "道里区")):
        with pytest.raises(ContestError, match=f"^工作地点：.*{said}"):
            registration_apply(
                trade=welder, name="王师傅", id_number=id_number(7), enterprise_name="吉林化纤集团",
                region=region, consent_version="2026.1", consent_items=ALL_CONSENTS,
            )  # fmt: skip
    assert not Registration.objects.exists()
