"""People, groups and an employer on top of the shared `world`: one set in 郊区, one in 前进区.

The ID numbers and phones are known, so the page scans can look for them in plaintext.
"""

from __future__ import annotations

import re
from datetime import date
from types import SimpleNamespace

import pytest

# An unmasked ID number or mainland mobile anywhere in a page.
ID_NUMBER_RE = re.compile(r"\d{17}[\dX]")
PHONE_RE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def plaintext_found(text: str) -> list[str]:
    return ID_NUMBER_RE.findall(text) + PHONE_RE.findall(text)


@pytest.fixture
def occupation_groups(transactional_db, django_db_serialized_rollback):
    """The occupation groups of the orgs data migration, written again for a transactional test.

    A transactional test empties every table when it ends, those rows included, so a later one
    cannot rely on the migration having put them there (serialized rollback would restore them,
    but clashes with the content types that the flush recreates).
    """
    from importlib import import_module

    from django.apps import apps

    import_module("gonghui.orgs.migrations.0002_occupation_groups").create_groups(apps, None)


@pytest.fixture
def people_world(world):
    from gonghui.lib.creditcode import make_credit_code
    from gonghui.lib.idcard import make_id_number
    from gonghui.orgs.models import Employer, OccupationGroup
    from gonghui.people.models import Person
    from gonghui.people.services import protected_fields

    couriers = OccupationGroup.objects.get(code="courier")  # 快递员, from the orgs data migration
    riders = OccupationGroup.objects.get(code="rider")  # 外卖送餐员
    # Seed 0 ends in a letter: an all-digit credit code would look like an ID number to the scan.
    employer = Employer.objects.create(
        credit_code=make_credit_code(0), name="佳木斯顺达快递有限公司", region=world.city
    )
    world.suburb_fed.covers_groups.add(couriers)
    world.suburb_fed.covers_employers.add(employer)

    def person(name, region, group, seq, phone):
        id_number = make_id_number("230811", date(1990, 5, 17), seq)
        p = Person.objects.create(
            name=name,
            work_region=region,
            group=group,
            employer=employer,
            occupation="快递员",
            **protected_fields(id_number=id_number, phone=phone),
        )
        return p, id_number, phone

    suburb_person, suburb_id, suburb_phone = person("王郊区", world.suburb_town, couriers, 11, "13812345678")
    suburb_person2, suburb_id2, suburb_phone2 = person("李长发", world.suburb, riders, 12, "15900001111")
    qianjin_person, qianjin_id, qianjin_phone = person(
        "赵前进", world.qianjin_street, couriers, 13, "18645678901"
    )

    world.couriers = couriers
    world.riders = riders
    world.employer = employer
    world.suburb_person = suburb_person
    world.suburb_person2 = suburb_person2
    world.qianjin_person = qianjin_person
    world.plaintexts = SimpleNamespace(
        ids=[suburb_id, suburb_id2, qianjin_id], phones=[suburb_phone, suburb_phone2, qianjin_phone]
    )
    world.suburb_plain = SimpleNamespace(id_number=suburb_id, phone=suburb_phone)
    return world


@pytest.fixture
def login(client):
    """Sign `user` in on the test client (through the auth backends, so axes sees a request)."""

    def _login(user):
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return client

    return _login
