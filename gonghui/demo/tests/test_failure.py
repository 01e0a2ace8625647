"""A seed that fails part-way leaves nothing behind, and its helper thread does not outlive it."""

from __future__ import annotations

import threading

import pytest

from gonghui.demo import services
from gonghui.demo.services import _ahead, demo_seed
from gonghui.orgs.models import Employer, Org
from gonghui.people.models import Person
from gonghui.regions.models import Region


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_it_writes_nothing_when_the_people_insert_fails_part_way(db, monkeypatch):
    monkeypatch.setattr(services, "PEOPLE_BATCH", 20)
    original = services.RowWriter.insert
    calls = []

    def failing_insert(self, rows):
        calls.append(len(rows))
        if len(calls) == 3:
            raise RuntimeError("disk full")
        original(self, rows)

    monkeypatch.setattr(services.RowWriter, "insert", failing_insert)
    with pytest.raises(RuntimeError, match="disk full"):
        demo_seed(people=100)
    assert calls == [20, 20, 20]
    assert (
        Person.objects.count(),
        Org.objects.count(),
        Employer.objects.count(),
        Region.objects.count(),
    ) == (
        0,
        0,
        0,
        0,
    )
    assert not [t for t in threading.enumerate() if t.name == "demo-people"]


def test_it_hands_a_failure_in_the_helper_thread_to_the_consumer():
    def items():
        yield 1
        raise ValueError("bad row")

    seen = []
    with pytest.raises(ValueError, match="bad row"):
        for item in _ahead(items()):
            seen.append(item)
    assert seen == [1]


def test_it_stops_the_helper_thread_when_the_consumer_stops_early():
    produced = []

    def items():
        for n in range(1000):
            produced.append(n)
            yield n

    ready = _ahead(items(), depth=2)
    assert next(ready) == 0
    ready.close()
    assert not [t for t in threading.enumerate() if t.name == "demo-people"]
    assert len(produced) < 10
