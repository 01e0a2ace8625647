"""One real browser: Debian's Chromium, driven by Playwright, signs in and sees the desk.

It also watches every request the page makes: none may leave the site (no CDN, no web fonts).
Chromium is Debian's (`apt-get install chromium`, which `make test` does), never `playwright
install`; when it is missing this test fails and says so, it is not skipped.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.db import connections

from gonghui.audit.models import AuditEvent
from gonghui.conftest import note_outside


@pytest.fixture
def city_may_unmask(transactional_db, django_db_serialized_rollback, occupation_groups, people_world):
    """The world, with the city user allowed to unmask: written before the browser starts."""
    people_world.city_user.user_permissions.add(
        Permission.objects.get(content_type__app_label="people", codename="view_unmasked")
    )
    return people_world


@pytest.mark.browser
def test_it_logs_in_and_sees_the_desk_without_loading_anything_from_outside(
    city_may_unmask, browser, live_server
):
    people_world = city_may_unmask
    outside: list[str] = []
    failed: list[str] = []
    # A phone-sized window whose browser asks for English: the site still answers in Chinese first.
    page = browser.new_page(viewport={"width": 375, "height": 800}, locale="en-US")
    page.on("request", lambda request: note_outside(request.url, outside))
    page.on("requestfailed", lambda request: failed.append(request.url))
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url
    assert page.locator("h1").inner_text() == "登录"
    page.fill("#id_username", "city")
    page.fill("#id_password", people_world.password)
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{live_server.url}/")
    assert page.locator("h1").inner_text() == "工作台"
    # The charts were drawn from the json_script data by the vendored ECharts.
    page.wait_for_selector(".chart[data-chart=by_group] svg")
    assert "快递员" in page.locator("main").inner_text()

    # Open the people list, then a person, and unmask through htmx (CSRF header, audited).
    page.click("nav >> text=人员")
    page.wait_for_url(f"{live_server.url}/people/")
    assert "王郊区" in page.locator("table").inner_text()
    page.click("text=王郊区")
    assert people_world.suburb_plain.id_number not in page.content()
    page.click("button.unmask")
    page.wait_for_selector(".facts.unmasked")
    assert people_world.suburb_plain.id_number in page.locator("#protected-values").inner_text()
    assert _unmask_audits(people_world.city_user) == 1

    page.goto(f"{live_server.url}/people/")
    page.click("form.lang button")
    page.wait_for_url(f"{live_server.url}/people/")
    assert page.locator("h1").inner_text() == "People"

    assert outside == [], f"requests left the site: {outside}"
    assert failed == [], f"requests failed: {failed}"
    assert errors == [], f"script errors: {errors}"


def _unmask_audits(user) -> int:
    # Under Playwright's sync API this code runs in another context, where Django opens a second
    # connection: close it at once, or it outlives the test and blocks dropping the test database.
    try:
        return AuditEvent.objects.filter(action="person.unmask", actor=user).count()
    finally:
        connections.close_all()
