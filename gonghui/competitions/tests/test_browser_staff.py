"""Staff on a phone: upload a bank with a bad row, fix it, set the blueprint; the public contest page's charts (Chromium).

Fails (is not skipped) when /usr/bin/chromium is missing, like the other browser tests; no request
may leave the site and the page may raise no script error.
"""

from __future__ import annotations

import os

import pytest
from django.conf import settings
from django.db import connections
from django.test import Client

from gonghui.conftest import note_outside

from .test_bank import single, tf, xlsx

PHONE_VIEWPORT = {"width": 390, "height": 844}
SHOTS = os.environ.get("GONGHUI_SCREENSHOTS", "")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_staff_manage_a_bank_and_blueprint_on_a_phone_and_the_public_page_draws_charts(
    world, browser, live_server, tmp_path
):
    from gonghui.competitions.models import Blueprint, Question
    from gonghui.competitions.services import contest_setup_from_policy

    from .conftest import register

    contest = contest_setup_from_policy(policy_file="contest_jilin_2021.yaml", organiser=world.city_fed)
    fitter = contest.trades.get(code="fitter")
    register(fitter, 3)
    session = Client()
    session.force_login(world.city_user)
    cookie = session.cookies[settings.SESSION_COOKIE_NAME].value
    connections.close_all()

    outside, errors = [], []
    context = browser.new_context(
        viewport=PHONE_VIEWPORT, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
    page = context.new_page()
    page.on("request", lambda request: note_outside(request.url, outside))
    page.on("pageerror", lambda error: errors.append(str(error)))

    bad = tmp_path / "钳工.xlsx"
    bad.write_bytes(xlsx([single("好题", "A"), single("答案越界", "E"), tf("判断", "对")]))
    page.goto(f"{live_server.url}/contests/{contest.code}/staff/{fitter.code}/bank/")
    page.set_input_files("#file", str(bad))
    page.get_by_role("button", name="上传").click()
    alert = page.get_by_role("alert")
    assert "第 5 行「答案」：答案中的 E 没有对应的选项" in alert.inner_text()
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/staff-bank-refused.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_VIEWPORT["width"]
    assert Question.objects.count() == 0

    good = tmp_path / "钳工-改.xlsx"
    good.write_bytes(xlsx([single("好题", "A"), single("第二题", "B"), tf("判断", "对")]))
    page.set_input_files("#file", str(good))
    page.get_by_role("button", name="上传").click()
    assert "新增 3 题" in page.locator(".messages").inner_text()

    page.get_by_role("link", name="组卷方案").first.click()
    page.locator("select[name=qtype_0]").select_option("single")
    page.locator("input[name=area_0]").fill("安全")
    page.locator("select[name=difficulty_0]").select_option("2")
    page.locator("input[name=count_0]").fill("3")
    page.locator("input[name=points_0]").fill("2")
    page.locator("#time_limit").fill("60")
    page.get_by_role("button", name="保存组卷方案").click()
    assert (
        "组卷方案第 1 行（单选题/安全/中）：需要 3 题，题库只有 2 题"
        in page.get_by_role("alert").inner_text()
    )
    page.locator("input[name=count_0]").fill("2")
    page.get_by_role("button", name="保存组卷方案").click()
    assert "组卷方案已保存" in page.locator(".messages").inner_text()
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/staff-blueprint.png", full_page=True)
    blueprint = Blueprint.objects.get(trade=fitter)
    assert blueprint.time_limit_minutes == 60 and blueprint.rows.get().count == 2
    connections.close_all()

    public = browser.new_page(viewport=PHONE_VIEWPORT, device_scale_factor=2, is_mobile=True, has_touch=True)
    public.on("request", lambda request: note_outside(request.url, outside))
    public.on("pageerror", lambda error: errors.append(str(error)))
    public.goto(f"{live_server.url}/contests/{contest.code}/")
    public.wait_for_selector(".chart[data-chart=trade_registrations] svg")
    if SHOTS:
        public.screenshot(path=f"{SHOTS}/contest-page.png", full_page=True)
    assert public.evaluate("document.documentElement.scrollWidth") <= PHONE_VIEWPORT["width"]
    assert outside == [] and errors == []
    context.close()
