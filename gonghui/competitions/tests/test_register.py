import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from gonghui.competitions.models import Contest, Registration
from gonghui.people.models import ConsentRecord, Person

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
    assert registration.enterprise_name == "吉林化纤集团"
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
