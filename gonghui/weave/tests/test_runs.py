"""The runs pages (list, progress, the diff scoped to the viewer, a person's coverage), run now, and re-runs after changes."""

from __future__ import annotations

import pytest
from django.urls import reverse

from gonghui.orgs.models import OrgStatus
from gonghui.weave.models import RunStatus, WeaveRun
from gonghui.weave.services import weave_run

from . import weave_scenario

pytestmark = pytest.mark.django_db
weave_city = weave_scenario.weave_city  # the fixture


def login(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def two_runs(weave_city):
    """Run, then: 郊区's courier federation dissolved (switches in 郊区), 永安街道 gets a union (gains in 前进区)."""
    from gonghui.orgs.services import org_create

    w = weave_city.world
    weave_run()
    weave_city.inds.status = OrgStatus.DISSOLVED
    weave_city.inds.save()
    org_create(
        code="S230804002",
        name="永安街道总工会",
        kind="township",
        parent=w.qianjin_fed,
        region=w.qianjin_street,
    )
    return weave_run()


def test_the_runs_list_needs_a_login_and_shows_the_runs(client, two_runs, weave_city):
    response = client.get(reverse("weave_runs"))
    assert response.status_code == 302 and "login" in response["Location"]
    login(client, weave_city.world.district_user)
    response = client.get(reverse("weave_runs"))
    assert response.status_code == 200
    assert f"#{two_runs.pk}" in response.content.decode()


def test_a_district_sees_the_changes_of_its_people_only(client, two_runs, weave_city):
    p = weave_city.people
    url = reverse("weave_run", args=[two_runs.pk])
    page = login(client, weave_city.world.district_user).get(url).content.decode()
    assert p.courier.name in page and p.ent.name not in page  # ent keeps its enterprise union
    assert p.qianjin_carer.name not in page and "永安街道总工会" not in page
    client.logout()
    page = login(client, weave_city.world.sibling_user).get(url).content.decode()
    assert p.qianjin_carer.name in page and "永安街道总工会" in page
    assert p.courier.name not in page
    client.logout()
    page = login(client, weave_city.world.city_user).get(url + "?kind=gained").content.decode()
    assert p.qianjin_carer.name in page and p.both.name in page and p.courier.name not in page


def test_the_run_page_takes_a_bounded_number_of_queries(
    client, two_runs, weave_city, django_assert_max_num_queries
):
    login(client, weave_city.world.city_user)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("weave_run", args=[two_runs.pk]))
    assert response.status_code == 200


def test_a_persons_coverage_is_refused_to_a_sibling_district(client, two_runs, weave_city):
    courier = weave_city.people.courier
    url = reverse("weave_person_coverage", args=[courier.pk])
    page = login(client, weave_city.world.district_user).get(url).content.decode()
    assert (
        "佳木斯市快递行业工会联合会" in page
        and "长发村工会" in page
        and "由佳木斯市快递行业工会联合会覆盖" in page
    )
    client.logout()
    assert login(client, weave_city.world.sibling_user).get(url).status_code == 404
    assert client.get(reverse("weave_person_coverage", args=[999999])).status_code == 404


def test_the_progress_fragment_polls_while_a_run_works(client, weave_city):
    running = WeaveRun.objects.create(status=RunStatus.RUNNING, progress=40, progress_note="ranking")
    login(client, weave_city.world.district_user)
    fragment = client.get(reverse("weave_run_progress", args=[running.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in fragment and "40%" in fragment
    running.status = RunStatus.FAILED
    running.error = "运行失败，未写入任何数据：RuntimeError: disk full"
    running.save()
    fragment = client.get(reverse("weave_run_progress", args=[running.pk])).content.decode()
    assert "hx-trigger" not in fragment and "disk full" in fragment


def test_staff_can_run_the_weave_now_and_others_cannot(
    client, settings, weave_city, django_capture_on_commit_callbacks
):
    from gonghui.accounts.models import Role, RoleKind, User

    settings.WEAVE_RUN_INLINE = True
    viewer = User.objects.create_user(username="looker", password="pass-word-123")
    Role.objects.create(user=viewer, org=weave_city.world.suburb_fed, role=RoleKind.VIEWER)
    login(client, viewer)
    assert reverse("weave_run_start") not in client.get(reverse("weave_runs")).content.decode()
    assert client.post(reverse("weave_run_start")).status_code == 403
    assert not WeaveRun.objects.filter(status=RunStatus.DONE).exists()
    client.logout()
    login(client, weave_city.world.district_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("weave_run_start"))
    run = WeaveRun.objects.get(status=RunStatus.DONE)
    assert response.status_code == 302 and response["Location"] == reverse("weave_run", args=[run.pk])
    assert run.requested_by == weave_city.world.district_user and run.people == 10


def test_the_run_now_button_launches_a_detached_process(
    client, settings, tmp_path, monkeypatch, weave_city, django_capture_on_commit_callbacks
):
    from gonghui.weave import tasks

    settings.VAR_DIR = tmp_path
    seen = {}

    class FakePopen:
        def __init__(self, args, **kwargs):
            seen.update(args=args, new_session=kwargs.get("start_new_session"))

    monkeypatch.setattr(tasks.subprocess, "Popen", FakePopen)
    login(client, weave_city.world.city_user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("weave_run_start"))
    run = WeaveRun.objects.order_by("-id").first()
    assert run.status == RunStatus.QUEUED
    assert seen["args"][-3:] == ["weave", "run-queued", str(run.pk)] and seen["new_session"] is True


def test_changing_a_unions_coverage_queues_a_run(weave_city):
    from gonghui.orgs.services import org_set_coverage, org_update

    weave_run()
    assert not WeaveRun.objects.filter(status=RunStatus.QUEUED).exists()
    org_set_coverage(
        org=weave_city.j2, regions=[weave_city.world.city], groups=[weave_city.rider], employers=[]
    )
    queued = WeaveRun.objects.get(status=RunStatus.QUEUED)
    assert queued.trigger == "org coverage set: J2"
    org_update(org=weave_city.v1, status=OrgStatus.DISSOLVED)
    assert WeaveRun.objects.filter(status=RunStatus.QUEUED).count() == 1  # one queued run serves both
    run = weave_run()
    assert run.pk == queued.pk and run.status == RunStatus.DONE


def test_a_census_batch_uploaded_through_the_web_weaves_again(
    settings, tmp_path, weave_city, django_capture_on_commit_callbacks
):
    from gonghui.census.services import census_import_start
    from gonghui.people.models import Person

    settings.VAR_DIR = tmp_path
    settings.CENSUS_RUN_INLINE = True
    weave_run()
    data = "姓名,职业,所属社区\n新骑手,外卖骑手,长发镇\n".encode()
    with django_capture_on_commit_callbacks(execute=True):
        batch = census_import_start(
            source=data, file_name="骑手.csv", source_kind="platform", org=weave_city.world.suburb_fed
        )
    run = WeaveRun.objects.order_by("-id").first()
    assert run.status == RunStatus.DONE and run.trigger == f"census batch #{batch.pk}"
    newcomer = Person.objects.get(name="新骑手")
    assert newcomer.coverage.primary_org == weave_city.j1
    assert list(run.changes.values_list("person_id", "kind")) == [(newcomer.pk, "gained")]
