import datetime as dt
import io
import re
from decimal import Decimal

import pytest
import segno
from django.urls import reverse
from openpyxl import load_workbook
from pypdf import PdfReader
from pypdf.generic import ContentStream

from gonghui.honours.certificates import certificate_check, certificate_token
from gonghui.honours.models import Honour
from gonghui.honours.services import honour_revoke, honours_grant_bulk

from .conftest import CASH, grant


@pytest.fixture
def honours(world, people):
    """Three 郊区 honours (2026: two titles and a cash award) and one of 前进区 (2025)."""
    honours_grant_bulk(
        grants=[
            grant(people[0], world.suburb_fed),
            grant(people[1], world.suburb_fed),
            grant(people[0], world.suburb_fed, **CASH),
            grant(
                people[2],
                world.qianjin_fed,
                conferred_on=dt.date(2025, 4, 30),
                title="前进区劳动模范",
                kind="other",
            ),
        ]
    )
    return {h.certificate_no: h for h in Honour.objects.all()}


def _login(client, world, user):
    client.force_login(user)


def _numbers(response) -> set[str]:
    return set(re.findall(r"C2308\d\d-RY\d{4}-\d{6}", response.content.decode()))


def test_the_register_is_scoped_and_filters_by_kind_year_and_union(client, world, honours):
    url = reverse("honours:register")
    assert client.get(url).status_code == 302  # signed-in staff only
    client.force_login(world.city_user)
    assert _numbers(client.get(url)) == set(honours)
    assert _numbers(client.get(url, {"kind": "cash"})) == {"C230811-RY2026-000003"}
    assert _numbers(client.get(url, {"year": "2025"})) == {"C230804-RY2025-000001"}
    assert _numbers(client.get(url, {"union": "C230811"})) == {
        "C230811-RY2026-000001", "C230811-RY2026-000002", "C230811-RY2026-000003",
    }  # fmt: skip
    client.force_login(world.district_user)
    page = client.get(url)
    assert _numbers(page) == {n for n in honours if n.startswith("C230811")}
    assert "前进区劳动模范" not in page.content.decode()
    client.force_login(world.sibling_user)
    assert _numbers(client.get(url)) == {"C230804-RY2025-000001"}
    assert _numbers(client.get(url, {"union": "C230811"})) == {"C230804-RY2025-000001"}  # not theirs: ignored


def test_the_register_page_reads_a_fixed_number_of_queries(
    client, world, honours, django_assert_max_num_queries
):
    client.force_login(world.city_user)
    with django_assert_max_num_queries(12):
        assert client.get(reverse("honours:register")).status_code == 200


def test_the_export_is_the_filtered_scoped_register(client, world, honours):
    client.force_login(world.district_user)
    response = client.get(reverse("honours:register"), {"kind": "title", "format": "xlsx"})
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert rows[0][:4] == ("证书编号", "获得者", "类别", "荣誉名称")
    assert sorted((r[0], r[3], r[12]) for r in rows[1:]) == [
        ("C230811-RY2026-000001", "郊区技术能手", "有效"),
        ("C230811-RY2026-000002", "郊区技术能手", "有效"),
    ]


def _pdf(client, world, honour):
    client.force_login(world.district_user)
    response = client.get(reverse("honours:certificate", args=[honour.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    return PdfReader(io.BytesIO(response.content))


def _fonts(reader):
    fonts = reader.pages[0]["/Resources"]["/Font"]
    return [fonts[name].get_object() for name in fonts]


def _descriptor(font):
    if "/DescendantFonts" in font:
        font = font["/DescendantFonts"][0].get_object()
    return font.get("/FontDescriptor")


def _qr_matrix(reader, module_count: int) -> list[list[int]]:
    """The QR code as drawn: the filled rectangles one module high, put back on a module grid."""
    content = ContentStream(reader.pages[0].get_contents(), reader)
    rects = [[float(v) for v in ops] for ops, op in content.operations if op == b"re"]
    qr_rects = [r for r in rects if r[3] < 10]  # modules are under 3 pt high; the frames are the page's size
    left, bottom = min(r[0] for r in qr_rects), min(r[1] for r in qr_rects)
    module = qr_rects[0][3]
    grid = [[0] * module_count for _ in range(module_count)]
    for x, y, w, _h in qr_rects:
        row = module_count - 1 - round((y - bottom) / module)
        for col in range(round((x - left) / module), round((x - left + w) / module)):
            grid[row][col] = 1
    return grid


def test_the_certificate_is_chinese_with_an_embedded_font_and_a_qr_code_of_the_verify_url(
    client, world, honours, people
):
    honour = honours["C230811-RY2026-000003"]
    reader = _pdf(client, world, honour)
    text = reader.pages[0].extract_text()
    for expected in ("荣誉证书", "张三丰", "现金奖励（税前）", "郊区总工会", "2026年5月1日", "C230811-RY2026-000003",
                     "郊区职工技能比武 第1名", "10,000", "县（区）"):  # fmt: skip
        assert expected in text, expected
    descriptors = [_descriptor(f) for f in _fonts(reader)]
    assert descriptors and all(d is not None and "/FontFile2" in d for d in descriptors)  # TrueType, embedded
    url = re.search(r"http://testserver/honours/verify/\S+/", text).group(0)
    assert url == "http://testserver" + reverse("honours:verify", args=[certificate_token(honour)])
    # the QR code drawn is the code of that URL (rebuilt module by module from the PDF)
    expected = segno.make(url, error="m", micro=False).matrix
    assert _qr_matrix(reader, len(expected)) == [list(row) for row in expected]
    # the URL opens the public check
    page = client.get(url.removeprefix("http://testserver")).content.decode()
    assert "张*丰" in page and "现金奖励（税前）" in page and "张三丰" not in page


def test_outsiders_get_no_certificate(client, world, honours):
    honour = honours["C230811-RY2026-000001"]
    url = reverse("honours:certificate", args=[honour.pk])
    assert client.get(url).status_code == 302
    client.force_login(world.sibling_user)
    assert client.get(url).status_code == 404
    client.force_login(world.city_user)
    assert client.get(url).status_code == 200


def test_the_public_check_shows_the_masked_name_and_whether_it_stands(client, world, honours):
    honour = honours["C230811-RY2026-000002"]
    url = reverse("honours:verify", args=[certificate_token(honour)])
    page = client.get(url)
    body = page.content.decode()
    assert page.status_code == 200 and 'data-valid="true"' in body
    assert "李*" in body and "李四" not in body and "郊区总工会" in body and "2026-05-01" in body
    assert honour.certificate_no not in body and "郊区职工技能比武" not in body  # nothing more than it should
    honour_revoke(honour=honour, reason="名次更正", actor=world.district_user)
    body = client.get(url).content.decode()
    assert 'data-valid="false"' in body and "李*" in body and "名次更正" not in body
    assert certificate_check(certificate_token(honour)).revoked
    forged = certificate_token(honour)[:-2] + "xx"
    body = client.get(reverse("honours:verify", args=[forged])).content.decode()
    assert 'data-valid="false"' in body and "李*" not in body
    other = Honour.objects.exclude(pk=honour.pk).first()
    other.certificate_no = "C230811-RY2026-999999"  # a token for an older number of the row does not verify
    assert not certificate_check(certificate_token(other)).found


def test_a_revoked_certificate_says_so_on_the_pdf(client, world, honours):
    honour = honour_revoke(
        honour=honours["C230811-RY2026-000001"], reason="重复登记", actor=world.district_user
    )
    assert "撤销" in _pdf(client, world, honour).pages[0].extract_text()


def test_cash_amount_is_kept_as_decimal(honours):
    assert honours["C230811-RY2026-000003"].amount == Decimal("10000.00")


def _as_member(client, person):
    import time

    session = client.session
    session["join_member"] = {"person": person.pk, "until": time.time() + 600}
    session.save()


def test_the_holder_downloads_their_own_certificates_from_their_page_and_nobody_elses(
    client, world, people, honours
):
    own = honours["C230811-RY2026-000001"]
    other = next(h for h in honours.values() if h.person_id != own.person_id)
    url = reverse("join:certificate", args=[own.pk])
    assert client.get(url)["Location"] == reverse("join:lookup")
    _as_member(client, own.person)
    page = client.get(reverse("join:me")).content.decode()
    assert url in page and "郊区技术能手" in page and reverse("join:certificate", args=[other.pk]) not in page
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert own.certificate_no in PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    assert client.get(reverse("join:certificate", args=[other.pk])).status_code == 404


def test_without_a_truetype_cjk_font_the_certificate_falls_back_to_the_built_in_cid_font(
    client, world, honours, monkeypatch, settings
):
    from gonghui.honours import certificates

    settings.GONGHUI_CERTIFICATE_FONT = ""
    monkeypatch.setattr(certificates, "FONT_CANDIDATES", (("/nonexistent/font.ttc", 0),))
    certificates.certificate_font.cache_clear()
    try:
        assert certificates.certificate_font() == ("STSong-Light", False)
        reader = _pdf(client, world, honours["C230811-RY2026-000001"])
        assert [f["/BaseFont"] for f in _fonts(reader)] == ["/STSong-Light"]
    finally:
        certificates.certificate_font.cache_clear()


def test_staff_of_the_conferring_union_revoke_with_a_reason_and_outsiders_cannot(client, world, honours):
    from gonghui.accounts.models import Role, RoleKind, User

    honour = honours["C230811-RY2026-000002"]
    url = reverse("honours:revoke", args=[honour.pk])
    client.force_login(world.sibling_user)
    assert client.post(url, {"reason": "x"}).status_code == 404
    viewer = User.objects.create_user(username="viewer", password="x-pass-word-1")
    Role.objects.create(user=viewer, org=world.suburb_fed, role=RoleKind.VIEWER)
    client.force_login(viewer)
    assert client.post(url, {"reason": "x"}).status_code == 403
    client.force_login(world.district_user)
    page = client.post(url, {"reason": " ", "back": "kind=title"}, follow=True)
    assert page.redirect_chain[-1][0] == reverse("honours:register") + "?kind=title"
    assert "撤销需要填写原因" in page.content.decode()
    client.post(url, {"reason": "名次更正"})
    honour.refresh_from_db()
    assert (honour.revoked, honour.revoked_reason, honour.revoked_by) == (
        True,
        "名次更正",
        world.district_user,
    )
    again = client.post(url, {"reason": "again"}, follow=True).content.decode()
    assert f"证书 {honour.certificate_no} 已撤销" in again
