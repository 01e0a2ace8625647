"""Shared fixtures and the three personas every app's tests use.

The world is a slice of Jiamusi: the city federation (230800) over two sibling districts,
郊区 (230811) and 前进区 (230804). Personas:
- `city_user`: staff of the city federation, sees everything in the city;
- `district_user`: staff of 郊区总工会, sees only 郊区;
- `sibling_user`: staff of 前进区总工会, must be refused (404) everything of 郊区.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest

TEST_DATA_KEY = "dGVzdC1vbmx5LWtleS1ub3QtZm9yLXByb2R1Y3Rpb24="  # 32 bytes, tests only


@pytest.fixture(autouse=True)
def _fixed_data_key(settings):
    settings.GONGHUI_DATA_KEY = TEST_DATA_KEY


@pytest.fixture(autouse=True)
def _questions_shown_forgotten():
    """competitions.exam keeps questions as shown per process, by id; a rolled-back test database reuses ids."""
    from gonghui.competitions.exam import forget_shown

    forget_shown()
    yield
    forget_shown()


@pytest.fixture
def world(db):
    from gonghui.accounts.models import Role, RoleKind, User
    from gonghui.orgs.services import org_create
    from gonghui.regions.models import Region, RegionLevel

    def region(code, name, level, parent=None):
        return Region.objects.create(code=code.ljust(12, "0"), name=name, level=level, parent=parent)

    province = region("23", "黑龙江省", RegionLevel.PROVINCE)
    city = region("2308", "佳木斯市", RegionLevel.CITY, province)
    suburb = region("230811", "郊区", RegionLevel.COUNTY, city)
    qianjin = region("230804", "前进区", RegionLevel.COUNTY, city)
    suburb_town = region("230811100", "长发镇", RegionLevel.TOWNSHIP, suburb)
    qianjin_street = region("230804002", "永安街道", RegionLevel.TOWNSHIP, qianjin)

    city_fed = org_create(code="C230800", name="佳木斯市总工会", kind="federation", region=city)
    suburb_fed = org_create(
        code="C230811", name="郊区总工会", kind="federation", parent=city_fed, region=suburb
    )
    qianjin_fed = org_create(
        code="C230804", name="前进区总工会", kind="federation", parent=city_fed, region=qianjin
    )
    suburb_town_union = org_create(
        code="T230811100", name="长发镇总工会", kind="township", parent=suburb_fed, region=suburb_town
    )

    def user(username, org, role=RoleKind.STAFF):
        u = User.objects.create_user(username=username, password="pass-word-123")
        Role.objects.create(user=u, org=org, role=role)
        return u

    return SimpleNamespace(
        province=province,
        city=city,
        suburb=suburb,
        qianjin=qianjin,
        suburb_town=suburb_town,
        qianjin_street=qianjin_street,
        city_fed=city_fed,
        suburb_fed=suburb_fed,
        qianjin_fed=qianjin_fed,
        suburb_town_union=suburb_town_union,
        city_user=user("city", city_fed),
        district_user=user("suburb", suburb_fed),
        sibling_user=user("qianjin", qianjin_fed),
        password="pass-word-123",
    )


# --- browser tests: Debian's Chromium through Playwright (never `playwright install`) --------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}


def note_outside(url: str, outside: list[str]) -> None:
    """Add `url` to `outside` when it leaves the site (no page may load anything from elsewhere)."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return
    if parts.hostname not in LOCAL_HOSTS:
        outside.append(url)


@pytest.fixture
def browser(live_server):
    """A headless Chromium for one test. Fails (is not skipped) when /usr/bin/chromium is missing."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) to run this test"
        )
    # Playwright's sync API runs an event loop in this thread; Django would refuse ORM calls from it.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
