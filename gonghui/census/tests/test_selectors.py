"""Census reads are scoped: batches by the importing union's subtree, rows and reviews through
their batch, people by where they work; the sibling district is refused everything."""

from __future__ import annotations

import pytest
from django.http import Http404

from gonghui.census.models import BatchStatus, ImportBatch, ReviewItem
from gonghui.census.selectors import (
    access_batch,
    access_review_item,
    batch_list,
    batch_progress,
    batch_rows,
    people_single_source,
    person_sightings,
    review_queue,
)
from gonghui.people.models import Person
from gonghui.people.services import id_number_hash

from .test_services import LI, WANG, ZHANG, census_csv, do_import


def _suburb_people(world):
    Person.objects.update(work_region=world.suburb_town)


@pytest.fixture
def batches(world):
    """A 郊区 batch of three people, a 前进区 batch naming one of them again."""
    suburb = do_import(census_csv([ZHANG, LI, WANG]), file_name="郊区骑手.csv", org=world.suburb_fed).batch
    _suburb_people(world)
    qianjin = do_import(
        census_csv([ZHANG]), file_name="前进区税务.csv", source_kind="tax", org=world.qianjin_fed
    ).batch
    return suburb, qianjin


@pytest.mark.django_db
def test_it_lists_batches_in_the_viewers_subtree(world, batches):
    suburb, qianjin = batches
    assert set(batch_list(viewer=world.city_user)) == {suburb, qianjin}
    assert list(batch_list(viewer=world.district_user)) == [suburb]
    assert list(batch_list(viewer=world.sibling_user)) == [qianjin]
    assert list(batch_list(viewer=world.district_user, source_kind="tax")) == []


@pytest.mark.django_db
def test_it_refuses_a_batch_outside_the_subtree(world, batches):
    suburb, _qianjin = batches
    assert access_batch(world.district_user, suburb.pk) == suburb
    assert access_batch(world.city_user, suburb.pk) == suburb
    with pytest.raises(Http404):
        access_batch(world.sibling_user, suburb.pk)
    with pytest.raises(Http404):
        batch_rows(viewer=world.sibling_user, batch=suburb)
    with pytest.raises(Http404):
        access_batch(world.district_user, 999999)
    assert [r.row_number for r in batch_rows(viewer=world.district_user, batch=suburb)] == [2, 3, 4]
    assert batch_rows(viewer=world.district_user, batch=suburb, status="linked").count() == 0


@pytest.mark.django_db
def test_it_scopes_the_review_queue(world, batches):
    suburb, _qianjin = batches
    row = suburb.rows.get(row_number=2)
    other = Person.objects.get(id_number_hash=id_number_hash(LI[1]))
    item = ReviewItem.objects.create(row=row, candidate=other, match_probability=0.8)
    assert list(review_queue(viewer=world.district_user)) == [item]
    assert list(review_queue(viewer=world.city_user)) == [item]
    assert list(review_queue(viewer=world.sibling_user)) == []
    assert access_review_item(world.district_user, item.pk) == item
    with pytest.raises(Http404):
        access_review_item(world.sibling_user, item.pk)


@pytest.mark.django_db
def test_it_lists_every_sighting_of_a_person(world, batches, django_assert_max_num_queries):
    suburb, qianjin = batches
    zhang = Person.objects.get(id_number_hash=id_number_hash(ZHANG[1]))
    with django_assert_max_num_queries(3):
        seen = person_sightings(viewer=world.city_user, person=zhang)
    assert [(s.batch_id, s.source_kind, s.file_name, s.row_number) for s in seen] == [
        (qianjin.pk, "tax", "前进区税务.csv", 2),
        (suburb.pk, "platform", "郊区骑手.csv", 2),
    ]
    assert all(s.current for s in seen)
    # The district sees the person (they work in 郊区) but not the other district's batch.
    assert [s.batch_id for s in person_sightings(viewer=world.district_user, person=zhang)] == [suburb.pk]
    # The sibling district sees only its own batch's row (the person page itself is refused to it).
    assert [s.batch_id for s in person_sightings(viewer=world.sibling_user, person=zhang)] == [qianjin.pk]


@pytest.mark.django_db
def test_it_finds_people_seen_in_one_source_only(world, batches, django_assert_num_queries):
    zhang = Person.objects.get(id_number_hash=id_number_hash(ZHANG[1]))
    with django_assert_num_queries(2):  # the viewer's roles, then one aggregate query
        single = set(people_single_source(viewer=world.district_user))
    assert zhang not in single
    assert {p.name for p in single} == {LI[0], WANG[0]}
    assert {p.name for p in people_single_source(viewer=world.city_user, source_kind="platform")} == {
        LI[0],
        WANG[0],
    }
    assert list(people_single_source(viewer=world.city_user, source_kind="tax")) == []
    assert list(people_single_source(viewer=world.sibling_user)) == []


@pytest.mark.django_db
def test_it_reports_progress_of_a_batch(world):
    batch = ImportBatch.objects.create(
        source_kind="platform", name="x", file_name="x.csv", sha256="0" * 64, org=world.suburb_fed
    )
    assert batch_progress(batch).percent == 0
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=BatchStatus.RUNNING, progress_done=30, progress_total=60
    )
    progress = batch_progress(batch)
    assert (progress.percent, progress.finished) == (50, False)
    ImportBatch.objects.filter(pk=batch.pk).update(status=BatchStatus.DONE, progress_done=60)
    assert batch_progress(batch).percent == 100 and batch_progress(batch).finished
