import datetime as dt

import pytest
from django.db import connection

from gonghui.lib.sql import db_value, quoted_table
from gonghui.membership.models import Membership
from gonghui.people.tests.factories import PersonFactory


def test_it_quotes_the_table_of_a_model():
    assert quoted_table(Membership) == connection.ops.quote_name("membership_membership")


@pytest.mark.django_db
def test_a_raw_update_with_db_values_reads_back_through_the_orm(world):
    membership = Membership.objects.create(person=PersonFactory(), org=world.suburb_town_union)
    decided = dt.datetime(2026, 11, 29, 8, 30, 15, tzinfo=dt.UTC)
    joined = dt.date(2026, 11, 29)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quoted_table(Membership)} SET decided_at = %s, joined_on = %s WHERE id = %s",
            [
                db_value(Membership, "decided_at", decided),
                db_value(Membership, "joined_on", joined),
                membership.pk,
            ],
        )
    membership.refresh_from_db()
    assert (membership.decided_at, membership.joined_on) == (decided, joined)
    # Compared in SQL as well: the stored value equals the converted parameter (on SQLite, text).
    stored = Membership.objects.filter(pk=membership.pk, decided_at=decided).count()
    assert stored == 1
