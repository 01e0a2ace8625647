"""Census pages: upload -> preview (writes nothing) -> import, batch report with progress and the
rejected-rows download, the review queue, where a person was seen, people of one source only.

Personas: the district user (郊区) imports and reviews; the sibling (前进区) must get 404 for all
of it; the city sees every district's batches; anonymous users are sent to log in.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import load_workbook

from gonghui.audit.models import AuditEvent
from gonghui.census import services
from gonghui.census.models import BatchRow, BatchStatus, ImportBatch, ReviewItem, ReviewStatus, RowStatus
from gonghui.lib.idcard import make_id_number
from gonghui.people.models import Person

pytestmark = pytest.mark.django_db

ID_NUMBER_RE = re.compile(r"\d{17}[\dX]")
PHONE_RE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def plaintext_found(text: str) -> list[str]:
    return ID_NUMBER_RE.findall(text) + PHONE_RE.findall(text)


HEADERS = ("姓名", "身份证号", "手机号", "职业", "工作单位")
ZHANG = ("张建国", make_id_number("230811", date(1990, 1, 1), 1), "13800000001", "快递员", "顺达快递")
LI = ("李秀英", make_id_number("230811", date(1985, 5, 6), 2), "13800000002", "外卖骑手", "")
NO_NAME = ("", make_id_number("230811", date(1979, 2, 3), 5), "13800000005", "保安", "")
PLAINTEXTS = [value for row in (ZHANG, LI, NO_NAME) for value in row[1:3]]


def census_csv(rows, headers=HEADERS, title=("郊区新就业形态劳动者摸底登记表",)) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    for line in title:
        writer.writerow([line])
    writer.writerow(headers)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def counts() -> tuple[int, ...]:
    return (
        Person.objects.count(),
        ImportBatch.objects.count(),
        BatchRow.objects.count(),
        ReviewItem.objects.count(),
        AuditEvent.objects.count(),
    )


@pytest.fixture
def census_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.CENSUS_RUN_INLINE = True
    return tmp_path / "census" / "uploads"


@pytest.fixture
def occupation_groups(transactional_db, django_db_serialized_rollback):
    """The occupation groups of the orgs data migration, again: an earlier transactional test emptied them."""
    from importlib import import_module

    from django.apps import apps

    import_module("gonghui.orgs.migrations.0002_occupation_groups").create_groups(apps, None)


@pytest.fixture
def login(client):
    def _login(user):
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return client

    return _login


def upload(
    client, data: bytes, *, org, file_name="骑手名册.csv", kind="platform", name="美团骑手名册", sheet=""
):
    return client.post(
        reverse("census_upload"),
        {
            "file": SimpleUploadedFile(file_name, data),
            "source_kind": kind,
            "name": name,
            "org": org.pk,
            "sheet": sheet,
        },
    )


def confirm_data(preview_response, **changes) -> dict:
    """The step-2 form as the preview page filled it in, with `changes` applied."""
    form = preview_response.context["form"]
    data = {name: form[name].value() for name in form.fields}
    data = {key: ("" if value is None else value) for key, value in data.items()}
    data.update(changes)
    return data


def column_of(preview_response, header: str) -> str:
    form = preview_response.context["form"]
    return f"col_{form.headers.index(header)}"


def import_via_web(client, capture, data: bytes, *, org, **kw) -> ImportBatch:
    preview = upload(client, data, org=org, **kw)
    assert preview.status_code == 200, preview.content.decode()[:500]
    with capture(execute=True):
        response = client.post(reverse("census_upload_confirm"), confirm_data(preview, **{"import": "1"}))
    assert response.status_code == 302
    batch = ImportBatch.objects.get(pk=int(response.url.rstrip("/").rsplit("/", 1)[1]))
    assert response.url == reverse("census_batch", args=[batch.pk])
    batch.refresh_from_db()
    return batch


# --- upload and preview ------------------------------------------------------------------------


def test_it_previews_an_upload_without_writing_anything(login, world, census_dir):
    client = login(world.district_user)
    form_page = client.get(reverse("census_upload"))
    assert form_page.status_code == 200
    # The importing union is chosen among the viewer's own orgs.
    assert list(form_page.context["form"].fields["org"].queryset) == [world.suburb_fed]

    before = counts()
    response = upload(client, census_csv([ZHANG, LI]), org=world.suburb_fed)
    assert response.status_code == 200
    assert counts() == before
    text = response.content.decode()
    preview = response.context["preview"]
    assert preview.header_row == 2 and preview.row_count == 2
    form = response.context["form"]
    assert form[column_of(response, "姓名")].value() == "name"
    assert form[column_of(response, "身份证号")].value() == "id_number"
    assert form[column_of(response, "手机号")].value() == "phone"
    assert "张建国" in text and "138****0001" in text
    assert plaintext_found(text) == [] and not any(value in text for value in PLAINTEXTS)
    # The bytes wait on disk under their sha256 for step 2; the token in the form names them.
    stashed = list(census_dir.iterdir())
    assert [p.read_bytes() for p in stashed] == [census_csv([ZHANG, LI])]
    assert 'name="token"' in text and stashed[0].name not in text


def test_it_honours_a_corrected_mapping(login, world, census_dir, django_capture_on_commit_callbacks):
    client = login(world.district_user)
    headers = ("姓名", "身份证号", "手机号", "备注")
    data = census_csv([(ZHANG[0], ZHANG[1], ZHANG[2], "快递员")], headers=headers)
    preview = upload(client, data, org=world.suburb_fed)
    assert preview.context["form"][column_of(preview, "备注")].value() in ("", None)
    remark, phone = column_of(preview, "备注"), column_of(preview, "手机号")

    # Preview again with 备注 read as the occupation and the phone column ignored: still nothing written.
    before = counts()
    again = client.post(
        reverse("census_upload_confirm"), confirm_data(preview, **{remark: "occupation", phone: ""})
    )
    assert again.status_code == 200 and counts() == before
    assert again.context["preview"].mapping["备注"] == "occupation"
    assert "手机号" not in again.context["preview"].mapping.values()
    assert again.context["form"][remark].value() == "occupation"
    assert "快递员" in again.content.decode() and "138****0001" not in again.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(reverse("census_upload_confirm"), confirm_data(again, **{"import": "1"}))
    assert done.status_code == 302
    batch = ImportBatch.objects.get()
    assert batch.mapping["备注"] == "occupation" and not batch.mapping.get("手机号")
    row = BatchRow.objects.get(batch=batch)
    assert row.occupation == "快递员" and row.phone_masked == "" and row.phone_hash == ""
    person = Person.objects.get()
    assert person.phone_hash == "" and person.occupation == "快递员"


def test_it_reads_the_sheet_chosen_on_the_preview(
    login, world, census_dir, django_capture_on_commit_callbacks
):
    from openpyxl import Workbook

    workbook = Workbook()
    first = workbook.active
    first.title = "骑手"
    for line in (HEADERS, ZHANG):
        first.append(list(line))
    second = workbook.create_sheet("配送员")
    for line in (HEADERS, LI):
        second.append(list(line))
    buffer = io.BytesIO()
    workbook.save(buffer)
    client = login(world.district_user)
    preview = upload(client, buffer.getvalue(), org=world.suburb_fed, file_name="名册.xlsx")
    assert preview.context["preview"].sheet_names == ["骑手", "配送员"]
    assert "张建国" in preview.content.decode() and "李秀英" not in preview.content.decode()

    other = client.post(reverse("census_upload_confirm"), confirm_data(preview, sheet="配送员"))
    assert other.status_code == 200 and ImportBatch.objects.count() == 0
    assert "李秀英" in other.content.decode() and "张建国" not in other.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("census_upload_confirm"), confirm_data(other, **{"import": "1"}))
    batch = ImportBatch.objects.get()
    assert batch.sheet == "配送员"
    assert list(BatchRow.objects.filter(batch=batch).values_list("name", flat=True)) == ["李秀英"]


def test_it_refuses_a_file_without_a_name_column_and_writes_nothing(login, world, census_dir):
    client = login(world.district_user)
    before = counts()
    data = census_csv([("13800000001", "快递员")], headers=("电话", "职业"))
    response = upload(client, data, org=world.suburb_fed, file_name="名单.csv")
    assert response.status_code == 200
    text = response.content.decode()
    refused = response.context["refused"]
    assert refused.startswith("名单.csv：") and "姓名列" in refused
    assert refused in text
    assert counts() == before
    assert not census_dir.exists() or list(census_dir.iterdir()) == []


def test_it_refuses_an_unreadable_file(login, world, census_dir):
    client = login(world.district_user)
    before = counts()
    response = upload(client, b"\x00\xff" * 64, org=world.suburb_fed, file_name="坏.xlsx")
    assert response.status_code == 200 and response.context["refused"]
    assert counts() == before


def test_it_only_accepts_the_importing_unions_of_the_viewer(login, world, census_dir):
    response = upload(login(world.district_user), census_csv([ZHANG]), org=world.qianjin_fed)
    assert response.status_code == 200
    assert "org" in response.context["form"].errors
    assert ImportBatch.objects.count() == 0


def test_it_binds_the_upload_token_to_the_user_who_uploaded(login, world, census_dir):
    preview = upload(login(world.district_user), census_csv([ZHANG]), org=world.suburb_fed)
    data = confirm_data(preview, **{"import": "1"})
    other = login(world.sibling_user).post(reverse("census_upload_confirm"), data)
    assert other.status_code == 404
    assert ImportBatch.objects.count() == 0


# --- batch report, progress, rejected rows ----------------------------------------------------


def test_it_imports_and_reports_the_batch(login, world, census_dir, django_capture_on_commit_callbacks):
    client = login(world.district_user)
    batch = import_via_web(
        client, django_capture_on_commit_callbacks, census_csv([ZHANG, LI, NO_NAME]), org=world.suburb_fed
    )
    assert batch.status == BatchStatus.DONE and batch.org == world.suburb_fed
    assert batch.imported_by == world.district_user and batch.name == "美团骑手名册"
    assert (batch.rows_total, batch.rows_rejected, batch.people_new) == (3, 1, 2)

    page = client.get(reverse("census_batch", args=[batch.pk]))
    text = page.content.decode()
    assert page.status_code == 200
    assert batch.sha256 in text and "骑手名册.csv" in text
    assert 'hx-trigger="every 1s"' not in text  # finished: nothing polls
    assert [r.row_number for r in page.context["page"]] == [3, 4, 5]
    assert reverse("census_batch_rejected", args=[batch.pk]) in text
    assert plaintext_found(text) == []

    rejected = client.get(reverse("census_batch", args=[batch.pk]), {"status": "rejected"})
    rows = list(rejected.context["page"])
    assert [r.row_number for r in rows] == [5] and rows[0].issues
    # Each row's issues: the column and the reason.
    issue = rows[0].issues[0]
    assert issue["column"] in rejected.content.decode() and issue["reason"] in rejected.content.decode()

    listed = client.get(reverse("census_batches"))
    assert [b.pk for b in listed.context["page"]] == [batch.pk]


def test_it_polls_progress_while_queued_and_stops_when_done(
    login, world, census_dir, django_capture_on_commit_callbacks
):
    client = login(world.district_user)
    # Queued but not yet run (the on-commit launch is held back).
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        batch = services.census_import_start(
            source=census_csv([ZHANG]), file_name="骑手.csv", source_kind="platform", org=world.suburb_fed
        )
    url = reverse("census_batch_progress", args=[batch.pk])
    page = client.get(reverse("census_batch", args=[batch.pk])).content.decode()
    assert f'hx-get="{url}"' in page and 'hx-trigger="every 1s"' in page
    fragment = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert fragment.lstrip().startswith("<section") and 'hx-trigger="every 1s"' in fragment
    assert "<html" not in fragment

    for callback in callbacks:
        callback()
    final = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in final and "hx-get" not in final
    assert 'value="100"' in final and reverse("census_batch", args=[batch.pk]) in final


def test_it_downloads_the_rejected_rows_masked_with_a_reason(
    login, world, census_dir, django_capture_on_commit_callbacks
):
    client = login(world.district_user)
    bad_id = ("王海峰", ZHANG[1][:-1] + ("0" if ZHANG[1][-1] != "0" else "1"), "13800000009", "保安", "")
    batch = import_via_web(
        client, django_capture_on_commit_callbacks, census_csv([ZHANG, NO_NAME, bad_id]), org=world.suburb_fed
    )
    response = client.get(reverse("census_batch_rejected", args=[batch.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in response["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.content)).active
    table = [
        [("" if cell is None else str(cell)) for cell in row] for row in sheet.iter_rows(values_only=True)
    ]
    assert table[0][-1] == "原因"
    rejected = BatchRow.objects.filter(batch=batch, status=RowStatus.REJECTED).order_by("row_number")
    assert [int(line[0]) for line in table[1:]] == [r.row_number for r in rejected]
    assert all(line[-1] for line in table[1:])  # every rejected row says why
    cells = " ".join(" ".join(line) for line in table)
    assert NO_NAME[1] not in cells and NO_NAME[2] not in cells and bad_id[2] not in cells
    assert plaintext_found(cells) == []
    assert rejected[0].id_number_masked and rejected[0].id_number_masked in cells


# --- review -------------------------------------------------------------------------------------


@pytest.fixture
def review_item(world, monkeypatch, census_dir):
    """A known person and a later row the linkage was unsure about (sent to review)."""
    from gonghui.census.types import Resolution

    services.census_import(
        source=census_csv([ZHANG]),
        file_name="市监.csv",
        source_kind="market_regulation",
        org=world.suburb_fed,
    )
    zhang = Person.objects.get()
    real = services._resolve

    def unsure(prepared, known):
        return {
            key: Resolution(
                key=key, status="review", person_id=zhang.pk, probability=0.7, candidates=((zhang.pk, 0.7),)
            )
            for key, _item in enumerate(prepared)
        }

    monkeypatch.setattr(services, "_resolve", unsure)
    services.census_import(
        source=census_csv([("张建国", "", "13911112222", "快递员", "")]),
        file_name="协会.csv",
        source_kind="association",
        org=world.suburb_fed,
    )
    monkeypatch.setattr(services, "_resolve", real)
    return ReviewItem.objects.get(status=ReviewStatus.OPEN)


def test_it_shows_the_review_queue_side_by_side(login, world, review_item):
    response = login(world.district_user).get(reverse("census_review"))
    text = response.content.decode()
    assert [i.pk for i in response.context["page"]] == [review_item.pk]
    assert "协会.csv" in text and "0.70" in text
    assert "139****2222" in text and Person.objects.get().id_number_masked in text
    assert reverse("census_review_decide", args=[review_item.pk]) in text
    assert plaintext_found(text) == []


def test_it_confirms_a_review_item_through_htmx(login, world, review_item):
    client = login(world.district_user)
    url = reverse("census_review_decide", args=[review_item.pk])
    response = client.post(url, {"same_person": "1"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    text = response.content.decode()
    assert f'id="review-{review_item.pk}"' in text and "<html" not in text and "hx-post" not in text
    review_item.refresh_from_db()
    assert review_item.status == ReviewStatus.CONFIRMED and review_item.decided_by == world.district_user
    assert (
        review_item.row.status == RowStatus.LINKED and review_item.row.person_id == review_item.candidate_id
    )
    # Decided once: a second click says so instead of deciding again.
    again = client.post(url, {"same_person": "0"}, HTTP_HX_REQUEST="true")
    assert again.status_code == 200 and "已处理" in again.content.decode()
    review_item.refresh_from_db()
    assert review_item.status == ReviewStatus.CONFIRMED
    assert list(client.get(reverse("census_review")).context["page"]) == []


def test_it_rejects_a_review_item_without_htmx(login, world, review_item):
    client = login(world.district_user)
    response = client.post(reverse("census_review_decide", args=[review_item.pk]), {"same_person": "0"})
    assert response.status_code == 302 and response.url == reverse("census_review")
    review_item.refresh_from_db()
    assert review_item.status == ReviewStatus.REJECTED
    assert review_item.row.person_id != review_item.candidate_id
    assert Person.objects.count() == 2


def test_it_refuses_a_decision_by_get(login, world, review_item):
    response = login(world.district_user).get(reverse("census_review_decide", args=[review_item.pk]))
    assert response.status_code == 405


# --- personas -----------------------------------------------------------------------------------


def test_it_refuses_the_sibling_everything_of_the_suburbs_census(login, world, review_item):
    batch = review_item.row.batch
    client = login(world.sibling_user)
    for url in (
        reverse("census_batch", args=[batch.pk]),
        reverse("census_batch_progress", args=[batch.pk]),
        reverse("census_batch_rejected", args=[batch.pk]),
    ):
        assert client.get(url).status_code == 404, url
    decide = client.post(reverse("census_review_decide", args=[review_item.pk]), {"same_person": "1"})
    assert decide.status_code == 404
    review_item.refresh_from_db()
    assert review_item.status == ReviewStatus.OPEN
    assert list(client.get(reverse("census_batches")).context["page"]) == []
    assert list(client.get(reverse("census_review")).context["page"]) == []


def test_it_shows_a_district_only_its_own_batches_and_the_city_all(login, world, census_dir):
    suburb = services.census_import(
        source=census_csv([ZHANG]), file_name="郊区.csv", source_kind="tax", org=world.suburb_fed
    ).batch
    qianjin = services.census_import(
        source=census_csv([LI]), file_name="前进.csv", source_kind="tax", org=world.qianjin_fed
    ).batch
    city = services.census_import(
        source=census_csv([NO_NAME]), file_name="市.csv", source_kind="hrss", org=world.city_fed
    ).batch
    district = login(world.district_user)
    assert [b.pk for b in district.get(reverse("census_batches")).context["page"]] == [suburb.pk]
    for other in (qianjin, city):
        assert district.get(reverse("census_batch", args=[other.pk])).status_code == 404
    city_seen = login(world.city_user).get(reverse("census_batches")).context["page"]
    assert {b.pk for b in city_seen} == {suburb.pk, qianjin.pk, city.pk}


def test_it_sends_anonymous_users_to_log_in(client, world, review_item):
    batch = review_item.row.batch
    for url in (
        reverse("census_batches"),
        reverse("census_upload"),
        reverse("census_batch", args=[batch.pk]),
        reverse("census_batch_progress", args=[batch.pk]),
        reverse("census_batch_rejected", args=[batch.pk]),
        reverse("census_review"),
        reverse("census_single_source"),
    ):
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith(reverse("login")), url
    response = client.post(reverse("census_review_decide", args=[review_item.pk]), {"same_person": "1"})
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    review_item.refresh_from_db()
    assert review_item.status == ReviewStatus.OPEN


# --- where people were seen ---------------------------------------------------------------------


def test_it_lists_where_a_person_was_seen_and_who_one_source_found(login, world, census_dir):
    zhang_region = (*ZHANG[:4], "")
    services.census_import(
        source=census_csv([zhang_region, LI]),
        file_name="骑手.csv",
        source_kind="platform",
        org=world.suburb_fed,
    )
    services.census_import(
        source=census_csv([zhang_region]), file_name="税务.csv", source_kind="tax", org=world.suburb_fed
    )
    zhang = Person.objects.get(name="张建国")
    li = Person.objects.get(name="李秀英")
    # People are seen by where they work: place them in 郊区 for the district user.
    Person.objects.update(work_region=world.suburb)
    client = login(world.district_user)
    text = client.get(reverse("people_detail", args=[zhang.pk])).content.decode()
    seen = text[text.index('id="seen-in"') :]
    assert "骑手.csv" in seen and "税务.csv" in seen
    assert "平台企业" in seen or "platform company" in seen

    single = client.get(reverse("census_single_source"))
    assert [p.pk for p in single.context["page"]] == [li.pk]
    only_tax = client.get(reverse("census_single_source"), {"kind": "tax"})
    assert list(only_tax.context["page"]) == []
    only_platform = client.get(reverse("census_single_source"), {"kind": "platform"})
    assert [p.pk for p in only_platform.context["page"]] == [li.pk]
    # The sibling neither opens the person nor sees them in the list.
    sibling = login(world.sibling_user)
    assert sibling.get(reverse("people_detail", args=[zhang.pk])).status_code == 404
    assert list(sibling.get(reverse("census_single_source")).context["page"]) == []


# --- page scan ----------------------------------------------------------------------------------


def test_it_shows_no_unmasked_id_number_or_phone_on_any_census_page(
    login, world, review_item, django_capture_on_commit_callbacks
):
    from django.contrib import admin
    from django.contrib.auth.models import Permission

    from gonghui.web.adminscope import scoped_queryset

    city = world.city_user
    city.is_staff = True
    city.save(update_fields=["is_staff"])
    city.user_permissions.set(Permission.objects.filter(content_type__app_label__in=("census", "people")))
    client = login(city)
    batch = import_via_web(
        client, django_capture_on_commit_callbacks, census_csv([LI, NO_NAME]), org=world.city_fed
    )
    Person.objects.update(work_region=world.suburb)
    batches = list(ImportBatch.objects.all())
    urls = [
        reverse("census_batches"),
        reverse("census_upload"),
        reverse("census_review"),
        reverse("census_single_source"),
    ]
    for b in batches:
        urls += [
            reverse("census_batch", args=[b.pk]),
            reverse("census_batch_progress", args=[b.pk]),
            reverse("census_batch", args=[b.pk]) + "?status=rejected",
        ]
    urls += [reverse("people_detail", args=[p.pk]) for p in Person.objects.all()]
    urls.append(reverse("admin:index"))
    for model in admin.site._registry:
        if model._meta.app_label != "census":
            continue
        prefix = f"admin:census_{model._meta.model_name}"
        urls.append(reverse(f"{prefix}_changelist"))
        urls += [reverse(f"{prefix}_change", args=[obj.pk]) for obj in scoped_queryset(model, city)[:5]]
    secrets = PLAINTEXTS + ["13911112222"]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        text = response.content.decode()
        assert plaintext_found(text) == [], url
        assert not any(value in text for value in secrets), url
    assert len(urls) > 20
    assert batch.rows_rejected == 1


# --- admin --------------------------------------------------------------------------------------


def _staff(user, *codenames):
    from django.contrib.auth.models import Permission

    user.is_staff = True
    user.save(update_fields=["is_staff"])
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="census", codename__in=codenames)
    )
    return user


def test_it_scopes_the_census_admin_and_decides_through_the_service(login, world, review_item):
    views = ("view_importbatch", "view_batchrow", "view_reviewitem", "view_linkdecision")
    batch = review_item.row.batch
    sibling = login(_staff(world.sibling_user, *views))
    assert sibling.get(reverse("admin:census_importbatch_change", args=[batch.pk])).status_code == 404
    assert sibling.get(reverse("admin:census_reviewitem_change", args=[review_item.pk])).status_code == 404
    assert sibling.get(reverse("admin:census_batchrow_changelist")).context["cl"].result_count == 0

    client = login(_staff(world.district_user, *views))
    row_page = client.get(reverse("admin:census_batchrow_change", args=[review_item.row_id])).content.decode()
    assert review_item.row.raw_cipher[:24] not in row_page and review_item.row.phone_hash not in row_page
    assert "139****2222" in row_page
    # The batch is read-only in the admin.
    assert (
        client.post(reverse("admin:census_importbatch_delete", args=[batch.pk]), {"post": "yes"}).status_code
        == 403
    )
    response = client.post(
        reverse("admin:census_reviewitem_changelist"),
        {"action": "confirm_same_person", "_selected_action": [review_item.pk]},
    )
    assert response.status_code == 302
    review_item.refresh_from_db()
    assert review_item.status == ReviewStatus.CONFIRMED and review_item.decided_by == world.district_user
    assert AuditEvent.objects.filter(action="census.review_decide").count() == 1


# --- a real phone-sized browser -----------------------------------------------------------------


@pytest.mark.browser
def test_it_walks_upload_preview_import_and_review_in_a_phone_sized_browser(
    transactional_db, occupation_groups, world, settings, tmp_path, live_server, monkeypatch
):
    import os

    from gonghui.census.types import Resolution
    from gonghui.conftest import CHROMIUM, CHROMIUM_ARGS

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.VAR_DIR = tmp_path
    settings.CENSUS_RUN_INLINE = True
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # A row the linkage was unsure about, waiting in the queue (written before the browser starts).
    services.census_import(
        source=census_csv([LI]), file_name="市监.csv", source_kind="market_regulation", org=world.suburb_fed
    )
    li = Person.objects.get()
    real = services._resolve
    monkeypatch.setattr(
        services,
        "_resolve",
        lambda prepared, known: {
            key: Resolution(
                key=key, status="review", person_id=li.pk, probability=0.81, candidates=((li.pk, 0.81),)
            )
            for key, _item in enumerate(prepared)
        },
    )
    services.census_import(
        source=census_csv([("李秀英", "", "13911112222", "外卖员", "美团")]),
        file_name="协会.csv",
        source_kind="association",
        org=world.suburb_fed,
    )
    monkeypatch.setattr(services, "_resolve", real)
    item = ReviewItem.objects.get()

    data_file = tmp_path / "骑手名册.csv"
    data_file.write_bytes(census_csv([ZHANG, LI, NO_NAME]))
    shots = os.environ.get("GONGHUI_SHOTS_DIR")
    errors: list[str] = []

    def fits(page, name: str) -> None:
        """Nothing wider than the phone: tables scroll inside their own box, the page does not."""
        if shots:
            page.screenshot(path=f"{shots}/{name}.png", full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, name

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 375, "height": 800})
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{live_server.url}{reverse('census_upload')}")
            page.fill("#id_username", "suburb")
            page.fill("#id_password", world.password)
            page.click("button[type=submit].primary")
            page.wait_for_selector("#id_file")
            fits(page, "upload")
            page.set_input_files("#id_file", str(data_file))
            page.select_option("#id_source_kind", "platform")
            page.click("button[type=submit].primary")
            page.wait_for_selector("table.mapping")
            assert "138****0001" in page.locator("table.preview-rows").inner_text()
            fits(page, "preview")
            page.click("button[name=import]")
            page.wait_for_selector("#batch-progress")
            assert "/census/batches/" in page.url
            fits(page, "batch")
            assert "张建国" in page.locator("table.rows").inner_text()

            page.goto(f"{live_server.url}{reverse('census_review')}")
            page.wait_for_selector(f"#review-{item.pk} form.decide")
            fits(page, "review")
            # Decide through htmx (CSRF header from the body): the item is swapped in place.
            page.click(f"#review-{item.pk} button[name=same_person][value='1']")
            page.wait_for_selector(f"#review-{item.pk} .decided")
            assert page.url.endswith(reverse("census_review"))
            fits(page, "review-decided")

            Person.objects.update(work_region=world.suburb)
            page.goto(f"{live_server.url}{reverse('people_detail', args=[li.pk])}")
            assert "协会.csv" in page.locator("table.sightings").inner_text()
            fits(page, "person")
        finally:
            browser.close()
            _close_connections()
    assert errors == []
    item.refresh_from_db()
    assert item.status == ReviewStatus.CONFIRMED


def _close_connections() -> None:
    # Under Playwright's sync API Django opens another connection: close it, or the test database
    # cannot be dropped at the end (PostgreSQL).
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        connection.close()
