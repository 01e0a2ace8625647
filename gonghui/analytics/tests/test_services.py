import datetime as dt
import threading

import pytest
from django.db import connection, connections
from django.test import RequestFactory

from gonghui.analytics.models import DailyCounter
from gonghui.analytics.services import counter_add, is_bot, view_count, views_by_day, views_total

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"


def test_it_adds_up_views_of_a_key_per_day_in_one_row():
    day = dt.date(2021, 7, 1)
    counter_add(key="contest:a:page", day=day)
    counter_add(key="contest:a:page", day=day, by=4)
    counter_add(key="contest:a:page", day=day + dt.timedelta(days=1))
    assert DailyCounter.objects.get(key="contest:a:page", day=day).count == 5
    assert DailyCounter.objects.count() == 2
    assert views_by_day(prefix="contest:a:") == [(day, 5), (day + dt.timedelta(days=1), 1)]


def test_it_sums_by_prefix_without_mixing_other_keys():
    counter_add(key="contest:a:page", by=2)
    counter_add(key="contest:a:bank", by=3)
    counter_add(key="contest:ab:page", by=7)
    assert views_total(prefix="contest:a:") == 5
    assert views_total(prefix="contest:zz:") == 0


@pytest.mark.parametrize(
    "agent",
    ["", "Googlebot/2.1 (+http://www.google.com/bot.html)", "Baiduspider", "curl/8.4.0",
     "python-requests/2.31", "Mozilla/5.0 HeadlessChrome/120.0"],
)  # fmt: skip
def test_it_does_not_count_bots(agent):
    request = RequestFactory().get("/", HTTP_USER_AGENT=agent)
    assert is_bot(agent)
    assert view_count(request, "contest:a:page") is False
    assert DailyCounter.objects.count() == 0


def test_it_counts_a_phone_browser_and_keeps_nothing_about_it():
    request = RequestFactory().get("/", HTTP_USER_AGENT=BROWSER, REMOTE_ADDR="10.1.2.3")
    assert view_count(request, "contest:a:page") is True
    row = DailyCounter.objects.get()
    assert (row.key, row.count) == ("contest:a:page", 1)
    assert {f.name for f in DailyCounter._meta.fields} == {"id", "key", "day", "count"}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent upserts are tested on PostgreSQL")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_views_of_a_new_key_all_count():
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def view():
        try:
            barrier.wait()
            for _ in range(5):
                counter_add(key="contest:race:page", day=dt.date(2021, 7, 1))
        except BaseException as exc:  # re-raised below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=view) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert DailyCounter.objects.get(key="contest:race:page").count == 40
