"""The same seed gives the same demo city; another seed gives another."""

from __future__ import annotations

import pytest
from django.db import transaction

from gonghui.demo.services import demo_seed
from gonghui.orgs.models import Employer, Org
from gonghui.people.models import Person

FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # the demo logins' hashing is not under test


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


def seed_and_read(random_seed: int) -> dict[str, list]:
    """Seed a small city, read what identifies it, and roll it back."""
    with transaction.atomic():
        demo_seed(people=150, random_seed=random_seed)
        people = Person.objects.order_by("pk")
        snapshot = {
            "people": list(
                people.values_list(
                    "name",
                    "id_number_hash",
                    "phone_hash",
                    "employer__credit_code",
                    "group__code",
                    "work_region__code",
                )
            ),
            "orgs": list(Org.objects.order_by("code").values_list("code", "name", "parent__code")),
            "employers": list(Employer.objects.order_by("credit_code").values_list("credit_code", "name")),
        }
        transaction.set_rollback(True)
    return snapshot


def test_it_seeds_the_same_city_for_the_same_seed(db):
    first = seed_and_read(7)
    assert len(first["people"]) == 150 and not Person.objects.exists()
    second = seed_and_read(7)
    assert second == first


def test_it_seeds_other_people_but_the_same_union_tree_for_another_seed(db):
    first = seed_and_read(7)
    other = seed_and_read(8)
    assert other["orgs"] == first["orgs"] and other["employers"] == first["employers"]
    assert [p[:2] for p in other["people"]] != [p[:2] for p in first["people"]]
