import datetime as dt
from decimal import Decimal

from django.urls import reverse

from gonghui.competitions.exam import attempt_start, attempt_submit
from gonghui.competitions.models import Contest
from gonghui.competitions.selectors import contest_list, contest_progress

from .test_exam import build


def test_staff_see_progress_of_contests_organised_in_their_subtree_only(
    client, world, fitter, django_assert_max_num_queries
):
    Contest.objects.filter(pk=fitter.contest_id).update(organiser=world.suburb_fed)
    contest = Contest.objects.get(pk=fitter.contest_id)
    reg, _other = build(fitter)
    now = contest.preliminary_opens + dt.timedelta(hours=1)
    attempt = attempt_start(registration=reg, now=now)
    attempt_submit(attempt=attempt, now=now + dt.timedelta(minutes=5))  # nothing answered: 0 points

    assert list(contest_list(viewer=world.city_user)) == [contest]
    assert list(contest_list(viewer=world.district_user)) == [contest]
    assert list(contest_list(viewer=world.sibling_user)) == []
    rows = {r.code: r for r in contest_progress(viewer=world.district_user, contest=contest)}
    fitter_row = rows["fitter"]
    assert (fitter_row.registered, fitter_row.enterprises, fitter_row.papers) == (2, 1, 1)
    assert (fitter_row.started, fitter_row.in_progress, fitter_row.finished) == (1, 0, 1)
    assert fitter_row.average == Decimal("0.00") and rows["welder"].registered == 0

    url = reverse("contest_progress", args=[contest.code])
    assert client.get(url).status_code == 302  # sign in first
    client.force_login(world.district_user, backend="django.contrib.auth.backends.ModelBackend")
    with django_assert_max_num_queries(10):
        page = client.get(url)
    assert page.status_code == 200 and "钳工" in page.content.decode()
    partial = client.get(url, headers={"HX-Request": "true"})
    assert partial.status_code == 200 and "<html" not in partial.content.decode()
    client.logout()
    client.force_login(world.sibling_user, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get(url).status_code == 404
    assert client.get(reverse("contest_progress", args=["no-such-contest"])).status_code == 404


def test_public_statistics_count_what_the_newspaper_reported(client, fitter):
    from gonghui.competitions.models import Attempt, AttemptStatus, PracticeSession
    from gonghui.competitions.selectors import contest_statistics

    contest = fitter.contest
    empty = contest_statistics(contest)
    assert (empty.registrations, empty.finalists, empty.average_preliminary) == (0, 0, None)
    reg, other = build(fitter)
    PracticeSession.objects.create(trade=fitter, registration=reg, shown=[1])
    PracticeSession.objects.create(trade=fitter, registration=other, shown=[2])
    now = contest.preliminary_opens + dt.timedelta(hours=1)
    for registration, score in ((reg, 10), (other, 6)):
        attempt = attempt_start(registration=registration, now=now)
        Attempt.objects.filter(pk=attempt.pk).update(
            status=AttemptStatus.SUBMITTED,
            score=Decimal(score),
            correct=0,
            submitted_at=now + dt.timedelta(minutes=9),
        )
    fitter.finalist_quota = 1
    fitter.save()
    stats = contest_statistics(contest)
    assert (stats.registrations, stats.enterprises, stats.practice_sessions) == (2, 1, 2)
    assert (stats.preliminary_candidates, stats.finalists, stats.average_preliminary) == (
        2,
        1,
        Decimal("8.00"),
    )
    page = client.get(reverse("contests_index")).content.decode()
    assert '<div class="stat-value">8.00</div>' in page
