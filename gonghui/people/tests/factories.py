"""Factories for people: every person is made through `person_create`, so data is stored protected."""

from __future__ import annotations

from datetime import date, timedelta

import factory

from gonghui.lib.idcard import make_id_number
from gonghui.orgs.models import Employer, OccupationGroup
from gonghui.people.models import Person
from gonghui.people.services import person_create


def id_number_for(n: int, *, place: str = "230811") -> str:
    """A distinct valid ID number for each n below 14 million (born 1970-2008, a day per n)."""
    return make_id_number(place, date(1970, 1, 1) + timedelta(days=n % 14000), (n // 14000) % 1000)


class OccupationGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OccupationGroup
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"group-{n}")
    name = factory.Sequence(lambda n: f"职业群体{n}")
    is_eight_groups = True


class EmployerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Employer
        django_get_or_create = ("credit_code",)

    credit_code = factory.Sequence(lambda n: f"91230800MA{n:07d}X")
    name = factory.Sequence(lambda n: f"佳木斯示例企业{n}有限公司")


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person

    name = factory.Faker("name", locale="zh_CN")
    id_number = factory.Sequence(id_number_for)
    phone = factory.Sequence(lambda n: f"139{n:08d}")
    occupation = "快递员"

    @classmethod
    def _create(cls, model_class, **kwargs):
        return person_create(**kwargs)
