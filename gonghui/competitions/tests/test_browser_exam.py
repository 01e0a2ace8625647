"""A worker registers on a phone, practises, takes the preliminary with autosave, reloads, hands in (Chromium).

Like the other browser tests, this fails (it is not skipped) when /usr/bin/chromium is missing, and it
watches that no request leaves the site and that the ID number never appears in a URL.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connections
from django.utils import timezone

from gonghui.conftest import note_outside

PHONE_VIEWPORT = {"width": 390, "height": 844}


def _db(fn):
    try:
        return fn()
    finally:
        connections.close_all()


@pytest.mark.browser
# serialized_rollback: the flush after this test then leaves the migrated rows for the tests after it.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_worker_registers_practises_and_takes_the_preliminary_on_a_phone(world, browser, live_server):
    from gonghui.competitions.models import Attempt, AttemptStatus, Contest
    from gonghui.competitions.services import RowSpec, blueprint_set, contest_setup_from_policy

    from .conftest import add_questions, id_number

    contest = contest_setup_from_policy(policy_file="contest_jilin_2021.yaml", organiser=world.city_fed)
    now = timezone.now()
    Contest.objects.filter(pk=contest.pk).update(
        registration_opens=now - dt.timedelta(days=1), registration_closes=now + dt.timedelta(days=1),
        training_opens=now - dt.timedelta(days=1), training_closes=now + dt.timedelta(days=1),
        preliminary_opens=now - dt.timedelta(hours=1), preliminary_closes=now + dt.timedelta(hours=3),
    )  # fmt: skip
    fitter = contest.trades.get(code="fitter")
    add_questions(fitter, "single", "安全", 1, 6)
    add_questions(fitter, "true_false", "识图", 1, 4)
    blueprint_set(
        trade=fitter,
        rows=[RowSpec("single", "安全", 1, 3, Decimal(2)), RowSpec("true_false", "识图", 1, 2, Decimal(1))],
    )
    connections.close_all()
    worker_id = id_number(42)

    outside, urls, errors = [], [], []
    page = browser.new_page(viewport=PHONE_VIEWPORT, device_scale_factor=2, is_mobile=True, has_touch=True)
    page.on("request", lambda request: (urls.append(request.url), note_outside(request.url, outside)))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: dialog.accept())

    # 1. Register from the contest list.
    page.goto(f"{live_server.url}/contests/")
    page.click(f"a[href='/contests/{contest.code}/register/']")
    page.select_option("#trade", "fitter")
    page.fill("#name", "李师傅")
    page.fill("#id_number", worker_id)
    page.fill("#phone", "13912345678")
    page.fill("#enterprise", "一汽集团")
    page.select_option("#id_work_region", label="郊区")
    for checkbox in page.locator("input[name=consent]").all():
        checkbox.check()
    page.click("form button[type=submit].primary")
    ticket = page.locator(".score strong").inner_text().strip()
    assert len(ticket) == 12

    # 2. Practise: an answer is checked at once, with the explanation.
    page.click("a[href='/contests/exam/home/']")
    page.click(".practice-form button[type=submit]")
    page.locator("form.question").first.locator("input[name=answer]").first.check()
    page.locator("form.question").first.locator("button[type=submit]").click()
    page.wait_for_selector("#check-1 p")
    assert (
        "解析-" in page.locator("#check-1").inner_text() or "Answer" in page.locator("#check-1").inner_text()
    )

    # 3. The preliminary: answer, autosaved; reload and find the answer; hand in; the score.
    page.goto(f"{live_server.url}/contests/exam/home/")
    page.click("form[action$='/start/'] button")
    page.wait_for_selector("#paper")
    first = page.locator("#q-1 input[name=q0]").first
    first.check()
    page.wait_for_selector("#save-status .save-ok")
    chosen = first.get_attribute("value")
    page.reload()
    assert page.locator(f"#q-1 input[name=q0][value='{chosen}']").is_checked()
    page.click("button[formaction$='/submit/']")
    page.wait_for_selector(".score .stat-value")
    attempt = _db(lambda: Attempt.objects.select_related("paper").get())
    assert attempt.status == AttemptStatus.SUBMITTED and attempt.answers["0"] == chosen
    assert page.locator(".score .stat-value").inner_text() == f"{attempt.score.normalize():f}"

    assert not any(worker_id in url for url in urls), "the ID number in a URL"
    assert outside == [], f"requests left the site: {outside}"
    assert errors == [], f"script errors: {errors}"
