"""People's protected data: stored encrypted, found by keyed hash, unique, masked, unmasked only when allowed."""

from __future__ import annotations

from datetime import date

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.db import connection

from gonghui.accounts.models import User
from gonghui.audit.models import AuditEvent
from gonghui.lib.crypto import decrypt
from gonghui.lib.idcard import InvalidIdNumber, make_id_number
from gonghui.lib.phone import InvalidPhone
from gonghui.people.models import Person
from gonghui.people.services import (
    DuplicatePerson,
    PersonError,
    id_number_hash,
    person_create,
    person_find_by_id_number,
    person_unmask,
    person_update,
    phone_hash,
    protected_fields,
)

from .factories import EmployerFactory, OccupationGroupFactory, PersonFactory

ID18 = make_id_number("230811", date(1985, 3, 7), 123)  # a man born in 1985 in 郊区
ID15 = ID18[:6] + ID18[8:17]
ID_X = "11010519491231002X"  # GB 11643's own example, ending in X
PHONE = "13812345678"


def with_unmask_permission(user: User) -> User:
    user.user_permissions.add(Permission.objects.get(codename="view_unmasked"))
    return User.objects.get(pk=user.pk)  # a fresh object: permissions are cached per instance


# protected_fields: what the database receives


def test_it_gives_the_database_only_ciphertext_hash_and_masked_forms():
    fields = protected_fields(id_number=ID18, phone=PHONE)
    assert set(fields) == {
        "id_number_cipher",
        "id_number_hash",
        "id_number_masked",
        "birth_date",
        "sex",
        "birthplace_code",
        "phone_cipher",
        "phone_hash",
        "phone_masked",
    }
    for value in fields.values():
        assert ID18 not in str(value)
        assert PHONE not in str(value)
    assert fields["id_number_masked"] == ID18[:6] + "********" + ID18[-4:]
    assert fields["phone_masked"] == "138****5678"
    assert decrypt(fields["id_number_cipher"]) == ID18
    assert decrypt(fields["phone_cipher"]) == PHONE
    assert (fields["birth_date"], fields["sex"], fields["birthplace_code"]) == (
        date(1985, 3, 7),
        "M",
        "230811",
    )


def test_it_hashes_a_number_typed_differently_to_the_same_value():
    same_ids = [ID18, ID15, f"'{ID18}", " ".join([ID18[:6], ID18[6:14], ID18[14:]])]
    assert len({protected_fields(id_number=v, phone=None)["id_number_hash"] for v in same_ids}) == 1
    assert len({id_number_hash(v) for v in [ID_X, ID_X.lower(), "１１０１０５１９４９１２３１００２ｘ"]}) == 1
    assert len({phone_hash(v) for v in [PHONE, "+86 138 1234 5678", "0086-138-1234-5678"]}) == 1
    assert id_number_hash(ID18) != id_number_hash(ID_X)


def test_it_leaves_the_protected_columns_empty_without_an_id_or_phone():
    fields = protected_fields(id_number=None, phone="")
    assert fields["id_number_hash"] is None  # NULLs never collide under the unique constraint
    assert fields["id_number_cipher"] == fields["id_number_masked"] == fields["phone_hash"] == ""
    assert fields["birth_date"] is None


def test_it_refuses_bad_numbers_before_anything_is_stored():
    with pytest.raises(InvalidIdNumber):
        protected_fields(id_number=ID18[:17] + ("0" if ID18[17] != "0" else "1"), phone=None)
    with pytest.raises(InvalidPhone):
        protected_fields(id_number=None, phone="1234")


# person_create


def test_it_creates_a_person_and_audits_it_with_masked_values_only(world):
    group = OccupationGroupFactory(code="courier", name="快递员")
    employer = EmployerFactory()
    person = person_create(
        name=" 张  三 ",
        id_number=ID15,
        phone="+86 138 1234 5678",
        employer=employer,
        group=group,
        occupation="快递员",
        work_region=world.suburb_town,
        actor=world.district_user,
    )
    person.refresh_from_db()
    assert person.name == "张 三"
    assert person.id_number_masked == ID18[:6] + "********" + ID18[-4:]
    assert person.phone_masked == "138****5678"
    assert (person.birth_date, person.sex, person.birthplace_code) == (date(1985, 3, 7), "M", "230811")
    event = AuditEvent.objects.get(action="person.create")
    assert event.actor == world.district_user
    assert event.target_id == str(person.pk)
    assert event.detail["id_number_masked"] == person.id_number_masked
    assert event.detail["group"] == "courier"
    assert ID18 not in str(event.detail) and PHONE not in str(event.detail)


def test_it_refuses_the_same_person_twice_even_typed_differently(world):
    first = person_create(name="李四", id_number=ID18, work_region=world.suburb)
    for typed in [ID15, ID18.lower(), f"'{ID18}", "".join(chr(ord(c) + 0xFEE0) for c in ID18)]:
        with pytest.raises(DuplicatePerson) as caught:
            person_create(name="李四", id_number=typed, work_region=world.qianjin)
        assert first.id_number_masked in str(caught.value)
        assert ID18 not in str(caught.value)
        assert caught.value.existing_id == first.pk
    assert Person.objects.count() == 1
    assert AuditEvent.objects.filter(action="person.create").count() == 1


def test_it_lets_the_unique_hash_decide_when_the_early_check_is_missed(world, monkeypatch):
    person_create(name="李四", id_number=ID18, work_region=world.suburb)
    # Simulate a race: the other request inserted between our check and our insert.
    monkeypatch.setattr(
        "gonghui.people.services.Person.objects.filter",
        _exists_false_once(Person.objects.filter),
    )
    with pytest.raises(DuplicatePerson):
        person_create(name="李四", id_number=ID15, work_region=world.suburb)
    assert Person.objects.count() == 1


def _exists_false_once(real_filter):
    state = {"fooled": False}

    class _NotYet:
        def exists(self):
            return False

    def fake_filter(*args, **kwargs):
        if not state["fooled"] and "id_number_hash" in kwargs:
            state["fooled"] = True
            return _NotYet()
        return real_filter(*args, **kwargs)

    return fake_filter


def test_it_allows_many_people_without_an_id_number_and_a_shared_phone(world):
    person_create(name="王五", phone=PHONE, work_region=world.suburb)
    person_create(name="王五之妻", phone=PHONE, work_region=world.suburb)
    assert Person.objects.filter(id_number_hash__isnull=True, phone_hash=phone_hash(PHONE)).count() == 2


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"name": "  ", "id_number": ID18}, PersonError),
        ({"name": "赵六", "id_number": ID18[:17] + "Y"}, InvalidIdNumber),
        ({"name": "赵六", "id_number": ID18, "phone": "12345"}, InvalidPhone),
    ],
)
def test_it_writes_nothing_for_bad_input(world, kwargs, error):
    with pytest.raises(error):
        person_create(work_region=world.suburb, **kwargs)
    assert not Person.objects.exists()
    assert not AuditEvent.objects.exists()


def test_it_finds_a_person_by_id_number_in_any_typing(world):
    person = person_create(name="孙七", id_number=ID_X, work_region=world.suburb)
    assert person_find_by_id_number(id_number=ID_X.lower()) == person
    assert person_find_by_id_number(id_number=ID18) is None
    with pytest.raises(InvalidIdNumber):
        person_find_by_id_number(id_number="123")


# person_update


def test_it_updates_a_phone_protected_and_audits_from_and_to_masked(world):
    person = PersonFactory(name="周八", phone=PHONE, work_region=world.suburb)
    old_hash = person.phone_hash
    person_update(person=person, phone="139 8765 4321", work_region=world.suburb_town, actor=world.city_user)
    person.refresh_from_db()
    assert person.phone_masked == "139****4321"
    assert person.phone_hash == phone_hash("13987654321") != old_hash
    assert decrypt(person.phone_cipher) == "13987654321"
    assert person.work_region == world.suburb_town
    event = AuditEvent.objects.get(action="person.update")
    assert event.actor == world.city_user
    assert event.detail["changes"]["phone"] == {"from": "138****5678", "to": "139****4321"}
    assert event.detail["changes"]["work_region"] == {"from": world.suburb.code, "to": world.suburb_town.code}
    assert "13987654321" not in str(event.detail) and PHONE not in str(event.detail)


def test_it_masks_names_in_the_update_audit_and_clears_a_phone(world):
    person = PersonFactory(name="吴九九", phone=PHONE, work_region=world.suburb)
    person_update(person=person, name="吴久久", phone=None)
    person.refresh_from_db()
    assert (person.name, person.phone_cipher, person.phone_hash, person.phone_masked) == (
        "吴久久",
        "",
        "",
        "",
    )
    changes = AuditEvent.objects.get(action="person.update").detail["changes"]
    assert changes["name"] == {"from": "吴*九", "to": "吴*久"}
    assert changes["phone"] == {"from": "138****5678", "to": ""}


def test_it_writes_nothing_when_nothing_changes(world):
    person = PersonFactory(phone=PHONE, work_region=world.suburb)
    person_update(person=person, phone="+86 13812345678", work_region=world.suburb, name=person.name)
    assert not AuditEvent.objects.filter(action="person.update").exists()


def test_it_refuses_a_bad_phone_on_update_and_keeps_the_old_one(world):
    person = PersonFactory(phone=PHONE, work_region=world.suburb)
    with pytest.raises(InvalidPhone):
        person_update(person=person, phone="0454-8234567")
    person.refresh_from_db()
    assert decrypt(person.phone_cipher) == PHONE


# person_unmask


@pytest.fixture
def suburb_person(world):
    return PersonFactory(name="郑十", id_number=ID18, phone=PHONE, work_region=world.suburb_town)


def test_it_unmasks_for_a_permitted_viewer_in_scope_and_audits_the_fields_not_the_values(
    world, suburb_person
):
    viewer = with_unmask_permission(world.district_user)
    values = person_unmask(viewer=viewer, person=suburb_person, ip="10.0.0.7")
    assert values == {"id_number": ID18, "phone": PHONE}
    event = AuditEvent.objects.get(action="person.unmask")
    assert (event.actor, event.target_id, event.ip) == (viewer, str(suburb_person.pk), "10.0.0.7")
    assert event.detail == {"fields": ["id_number", "phone"]}
    assert ID18 not in str(event.detail) and PHONE not in str(event.detail)


def test_it_unmasks_only_the_fields_asked_for(world, suburb_person):
    viewer = with_unmask_permission(world.city_user)
    assert person_unmask(viewer=viewer, person=suburb_person, fields=["phone"]) == {"phone": PHONE}
    assert AuditEvent.objects.get(action="person.unmask").detail == {"fields": ["phone"]}
    with pytest.raises(PersonError):
        person_unmask(viewer=viewer, person=suburb_person, fields=["name"])


def test_it_refuses_a_viewer_without_the_permission_and_audits_the_attempt(world, suburb_person):
    with pytest.raises(PermissionDenied):
        person_unmask(viewer=world.district_user, person=suburb_person)
    event = AuditEvent.objects.get(action="person.unmask_refused")
    assert event.actor == world.district_user
    assert event.detail == {"fields": ["id_number", "phone"], "reason": "permission"}
    assert not AuditEvent.objects.filter(action="person.unmask").exists()


def test_it_refuses_the_sibling_district_even_with_the_permission(world, suburb_person):
    sibling = with_unmask_permission(world.sibling_user)
    with pytest.raises(PermissionDenied):
        person_unmask(viewer=sibling, person=suburb_person)
    event = AuditEvent.objects.get(action="person.unmask_refused")
    assert (event.actor, event.detail["reason"]) == (sibling, "scope")
    assert not AuditEvent.objects.filter(action="person.unmask").exists()


def test_it_refuses_an_inactive_permitted_viewer(world, suburb_person):
    viewer = with_unmask_permission(world.district_user)
    viewer.is_active = False
    viewer.save()
    with pytest.raises(PermissionDenied):
        person_unmask(viewer=User.objects.get(pk=viewer.pk), person=suburb_person)


# The raw database


def _every_cell():
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, memoryview):
                        value = value.tobytes()
                    if isinstance(value, bytes):
                        value = value.decode("utf-8", "replace")
                    yield table, str(value).upper()


def test_it_keeps_no_plaintext_id_number_or_phone_anywhere_in_the_database(world):
    group = OccupationGroupFactory(code="courier", name="快递员")
    plaintexts = {ID18, ID15, ID_X, PHONE, "13987654321", "13700001111"}
    viewer = with_unmask_permission(world.district_user)

    person = person_create(
        name="郑十",
        id_number=ID15,
        phone="+86 138-1234-5678",
        group=group,
        work_region=world.suburb,
        actor=viewer,
    )
    person_create(name="钱十一", id_number=ID_X.lower(), phone="13700001111", work_region=world.qianjin)
    person_update(person=person, phone="13987654321", actor=viewer)
    assert person_unmask(viewer=viewer, person=person)["phone"] == "13987654321"
    with pytest.raises(PermissionDenied):
        person_unmask(viewer=world.sibling_user, person=person)
    with pytest.raises(DuplicatePerson):
        person_create(name="郑十", id_number=ID18, work_region=world.suburb)

    cells = list(_every_cell())
    tables = {table for table, _ in cells}
    assert {Person._meta.db_table, AuditEvent._meta.db_table} <= tables  # the scan really read them
    assert any(value == "139****4321" for _, value in cells)  # and would see what is there
    leaks = [(table, value) for table, value in cells for secret in plaintexts if secret in value]
    assert leaks == []
