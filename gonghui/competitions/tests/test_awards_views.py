import pytest
from django.urls import reverse

from gonghui.accounts.models import Role, RoleKind, User
from gonghui.honours.models import Honour

from .test_awards import finals  # noqa: F401  (fixture)


@pytest.fixture
def grant_url(fitter):
    return reverse("honours:contest_grant", args=[fitter.contest.code])


def test_staff_of_the_organiser_grant_from_the_progress_page(client, world, fitter, finals, grant_url):  # noqa: F811
    client.force_login(world.city_user)
    page = client.get(reverse("contest_progress", args=[fitter.contest.code])).content.decode()
    assert f'action="{grant_url}"' in page
    response = client.post(grant_url, follow=True)
    assert response.redirect_chain[-1][0] == reverse("contest_progress", args=[fitter.contest.code])
    assert Honour.objects.count() == 7
    assert "7" in response.content.decode()  # the message counts what was registered
    client.post(grant_url)
    assert Honour.objects.count() == 7


def test_outsiders_and_viewers_cannot_grant(client, world, fitter, finals, grant_url):  # noqa: F811
    client.force_login(world.district_user)  # 郊区 does not see a city contest
    assert client.post(grant_url).status_code == 404
    client.force_login(world.sibling_user)
    assert client.post(grant_url).status_code == 404
    viewer = User.objects.create_user(username="viewer", password="x-pass-word-1")
    Role.objects.create(user=viewer, org=world.city_fed, role=RoleKind.VIEWER)
    client.force_login(viewer)
    assert client.post(grant_url).status_code == 403
    client.logout()
    assert client.post(grant_url).status_code == 302
    assert client.get(grant_url).status_code == 405 or client.get(grant_url).status_code == 302
    assert Honour.objects.count() == 0


def test_a_refused_grant_is_shown_not_raised(client, world, fitter, grant_url):
    client.force_login(world.city_user)
    response = client.post(grant_url, follow=True)
    assert response.status_code == 200 and "还没有排定名次" in response.content.decode()
    assert Honour.objects.count() == 0
