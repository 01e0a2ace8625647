"""A worker joins from a phone, the union's staff approve at /members/, the worker sees the card (Chromium).

Screenshots of each step (join-*.png) go to var/screenshots/, or to the folder GONGHUI_SCREENSHOTS names
(`make screenshots` refreshes the ones kept in docs/screenshots/). Like the web app's browser test,
this fails (it is not skipped) when /usr/bin/chromium is missing, and it watches that no request
leaves the site and that the ID number and phone typed never appear in a URL or a page.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest
from django.db import connections

from gonghui.conftest import note_outside
from gonghui.lib.idcard import make_id_number

ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = Path(os.environ.get("GONGHUI_SCREENSHOTS") or ROOT / "var" / "screenshots")
PHONE_VIEWPORT = {"width": 390, "height": 844}

ID_NUMBER = make_id_number("230811", date(1995, 9, 3), 51)
PHONE = "13645678901"
WRONG_CHECK = ID_NUMBER[:17] + ("0" if ID_NUMBER[17] != "0" else "1")  # one wrong check character


@pytest.fixture
def groups(transactional_db, django_db_serialized_rollback):
    """The occupation groups of the orgs data migration, written again (a transactional test empties tables)."""
    from importlib import import_module

    from django.apps import apps

    import_module("gonghui.orgs.migrations.0002_occupation_groups").create_groups(apps, None)


def _db(fn):
    """Run ORM code from the Playwright thread and close the connection it opened (or it blocks the teardown)."""
    try:
        return fn()
    finally:
        connections.close_all()


@pytest.mark.browser
def test_a_worker_joins_on_a_phone_is_approved_and_sees_the_card(
    transactional_db, groups, world, unions, browser, live_server
):
    from gonghui.membership.models import Membership

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    outside: list[str] = []
    urls: list[str] = []
    errors: list[str] = []
    page = browser.new_page(viewport=PHONE_VIEWPORT, device_scale_factor=2, is_mobile=True, has_touch=True)
    page.on("request", lambda request: (urls.append(request.url), note_outside(request.url, outside)))
    page.on("pageerror", lambda error: errors.append(str(error)))
    pages_html: list[str] = []

    # 1. The joining page, as a QR code poster or a shared link opens it: no login.
    page.goto(f"{live_server.url}/join/")
    assert page.locator("h1").inner_text()
    page.fill("#id_name", "赵春燕")
    page.fill("#id_id_number", WRONG_CHECK)
    page.fill("#id_phone", PHONE)
    page.select_option("#id_group", label="外卖送餐员")
    page.fill("#id_employer_name", "佳木斯好味道餐饮店")
    page.fill("#id_occupation", "外卖骑手")
    page.select_option("#id_work_region", label="长发镇")
    for item in ("notice", "id_number", "phone"):
        page.check(f"#id_consent_{item}")
    page.screenshot(path=str(SCREENSHOTS / "join-1-form.png"), full_page=True)
    page.click("form.join-form button[type=submit]")
    # The wrong number is refused beside the field, in Chinese, and not written back into the page.
    error = page.locator("#id_id_number_error")
    assert "校验位" in error.inner_text()
    assert page.locator("#id_id_number").input_value() == ""
    pages_html.append(page.content())
    page.locator("#id_id_number").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "join-2-error.png"))

    page.fill("#id_id_number", ID_NUMBER)
    page.fill("#id_phone", PHONE)
    for item in ("notice", "id_number", "phone"):
        page.check(f"#id_consent_{item}")
    page.click("form.join-form button[type=submit]")

    # 2. The union: the weave's suggestion is chosen, another that covers them may be.
    page.wait_for_url(f"{live_server.url}/join/union/")
    suggested = page.locator("label.offer.suggested")
    assert "长发镇总工会" in suggested.inner_text()
    assert suggested.locator("input").is_checked()
    assert page.locator("label.offer").count() == 2
    pages_html.append(page.content())
    page.screenshot(path=str(SCREENSHOTS / "join-3-union.png"), full_page=True)
    page.click("form.join-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/join/done/")
    assert "长发镇总工会" in page.locator("main").inner_text()
    pages_html.append(page.content())
    page.screenshot(path=str(SCREENSHOTS / "join-4-done.png"))

    # 3. The union's staff approve it (on a phone too, in their own session), through the queue at /members/.
    staff = browser.new_page(viewport=PHONE_VIEWPORT, device_scale_factor=2, is_mobile=True, has_touch=True)
    staff.on("request", lambda request: note_outside(request.url, outside))
    staff.on("pageerror", lambda error: errors.append(str(error)))
    staff.goto(f"{live_server.url}/members/")
    staff.fill("#id_username", "suburb")
    staff.fill("#id_password", world.password)
    staff.click("button[type=submit].primary")
    staff.wait_for_url(f"{live_server.url}/members/")
    staff.click("table >> text=赵春燕")
    staff.wait_for_selector("form[action$='/approve/'] button")
    assert ID_NUMBER not in staff.content() and PHONE not in staff.content()
    staff.screenshot(path=str(SCREENSHOTS / "join-5-staff-approve.png"), full_page=True)
    staff.click("form[action$='/approve/'] button")
    staff.wait_for_load_state()
    member_no = _db(lambda: Membership.objects.get(status="active").member_no)
    staff.close()

    # 4. The worker looks up the outcome with ID number and phone, and sees the card.
    page.click(".result a.button")
    page.wait_for_url(f"{live_server.url}/join/status/")
    page.fill("#id_id_number", ID_NUMBER)
    page.fill("#id_phone", PHONE)
    page.click("form.join-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/join/me/")
    assert page.locator("#status").get_attribute("data-status") == "active"
    card = page.locator("#member-card")
    assert member_no in card.inner_text()
    assert "赵*燕" in card.inner_text()
    assert card.locator("svg").count() == 1
    pages_html.append(page.content())
    page.screenshot(path=str(SCREENSHOTS / "join-6-card.png"), full_page=True)

    # 5. Anyone who scans the card's code sees that it is valid, the masked name and the union.
    page.click("#member-card a.member-card-qr")
    page.wait_for_selector("#verify")
    assert page.locator("#verify").get_attribute("data-valid") == "true"
    text = page.locator("#verify").inner_text()
    assert "赵*燕" in text and "长发镇总工会" in text and member_no not in text
    pages_html.append(page.content())
    page.screenshot(path=str(SCREENSHOTS / "join-7-verify.png"))

    for secret in (ID_NUMBER, PHONE):
        assert not any(secret in url for url in urls), f"{secret} in a URL"
        assert not any(secret in html for html in pages_html), f"{secret} in a page"
    assert outside == [], f"requests left the site: {outside}"
    assert errors == [], f"script errors: {errors}"
