"""Reading census files in every format departments send, with the header synonyms in policies/."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from xml.sax.saxutils import escape

import openpyxl
import pytest

from gonghui.census.policies import header_policy
from gonghui.lib.tabular import UnreadableFile, read_table

TITLE = "佳木斯市新就业形态劳动者摸底登记表"
HEADER = ["序号", "经营者姓名", "公民身份号码", "联系电话", "行业类别", "经营场所"]
ROWS = [
    [1, "张三", "230803199001011237", "13812345678", "快递员", "向阳区西林街道光明社区"],
    [2, "阿依古丽·买买提", "'230803900101123", "+86 139-1234-5678", "外卖骑手", "郊区长发镇"],
]


def synonyms():
    return header_policy().synonyms


def expect_table(table, *, header_row=4):
    assert table.header_row == header_row
    assert table.mapping == {
        "经营者姓名": "name",
        "公民身份号码": "id_number",
        "联系电话": "phone",
        "行业类别": "occupation",
        "经营场所": "address",
    }
    records = list(table.records())
    assert [number for number, _ in records] == [header_row + 1, header_row + 2]
    assert records[0][1]["name"] == "张三"
    assert records[1][1]["id_number"] == "'230803900101123"
    assert records[1][1]["phone"] == "+86 139-1234-5678"


def titled_grid():
    return [[TITLE], ["填报日期：2021年10月"], [], HEADER, *ROWS]


def test_it_reads_an_xlsx_with_a_merged_title_block():
    book = openpyxl.Workbook()
    sheet = book.active
    for number, values in enumerate(titled_grid(), start=1):
        for column, value in enumerate(values, start=1):
            sheet.cell(row=number, column=column, value=value)
    sheet.merge_cells("A1:F1")
    out = io.BytesIO()
    book.save(out)
    expect_table(read_table(out.getvalue(), file_name="市场监管.xlsx", synonyms=synonyms()))


def test_it_reads_an_xls():
    xlwt = pytest.importorskip("xlwt")
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("个体户")
    sheet.write_merge(0, 0, 0, 5, TITLE)
    for number, values in enumerate(titled_grid()[1:], start=1):
        for column, value in enumerate(values):
            sheet.write(number, column, value)
    out = io.BytesIO()
    book.save(out)
    table = read_table(out.getvalue(), file_name="市场监管.xls", synonyms=synonyms())
    expect_table(table)
    assert table.sheet_name == "个体户"
    assert table.raw_record(table.rows[0])["序号"] == "1"


def ods(sheets: dict[str, list[list]]) -> bytes:
    """A minimal OpenDocument spreadsheet (what LibreOffice writes, reduced to what readers need)."""

    def cell(value):
        if value is None or value == "":
            return "<table:table-cell/>"
        if isinstance(value, int):
            return f'<table:table-cell office:value-type="float" office:value="{value}"><text:p>{value}</text:p></table:table-cell>'
        return f'<table:table-cell office:value-type="string"><text:p>{escape(str(value))}</text:p></table:table-cell>'

    tables = "".join(
        f'<table:table table:name="{escape(name)}">'
        + "".join(
            "<table:table-row>" + "".join(cell(v) for v in (row or [None])) + "</table:table-row>"
            for row in rows
        )
        + "</table:table>"
        for name, rows in sheets.items()
    )
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f"<office:body><office:spreadsheet>{tables}</office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED)
        archive.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
        archive.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def test_it_reads_an_ods_and_chooses_its_sheet():
    data = ods({"说明": [["填表说明"]], "名单": titled_grid()})
    table = read_table(data, file_name="市场监管.ods", synonyms=synonyms())
    expect_table(table)
    assert table.sheet_name == "名单" and table.sheet_names == ["说明", "名单"]
    assert read_table(data, file_name="市场监管.ods", sheet=2, synonyms=synonyms()).sheet_name == "名单"


def as_csv(grid, delimiter=","):
    return "\n".join(delimiter.join(str(v) for v in row) for row in grid) + "\n"


def test_it_reads_a_gbk_csv_with_a_title_line():
    data = as_csv(titled_grid()).encode("gbk")
    table = read_table(data, file_name="税务.csv", synonyms=synonyms())
    expect_table(table)
    assert table.rows[1][1][1] == "阿依古丽·买买提"


def test_it_reads_a_utf8_bom_csv_separated_by_tabs():
    data = ("\ufeff" + as_csv([HEADER, *ROWS], "\t")).encode()
    expect_table(read_table(data, file_name="民政.csv", synonyms=synonyms()), header_row=1)


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("姓名", "name"),
        ("纳税人名称", "name"),
        ("人员姓名", "name"),
        ("骑手姓名", "name"),
        ("身份证号码", "id_number"),
        ("证件号", "id_number"),
        ("身份证后四位", "id_last4"),
        ("手机号码", "phone"),
        ("联系方式", "phone"),
        ("参保单位", "employer"),
        ("扣缴义务人", "employer"),
        ("站点", "employer"),
        ("统一社会信用代码", "employer_credit_code"),
        ("工种", "occupation"),
        ("从事职业", "occupation"),
        ("出生日期", "birth_date"),
        ("性别", "sex"),
        ("现住址", "address"),
        ("所属社区", "region"),
        ("参保地", "region"),
        ("区县", "region"),
        ("身份证号码（必填）", "id_number"),
        ("* 手机号", "phone"),
    ],
)
def test_it_knows_the_headers_of_the_issue(header, field):
    data = f"姓名,{header}\n张三,x\n".encode() if field != "name" else f"{header},手机号\n张三,x\n".encode()
    table = read_table(data, file_name="a.csv", synonyms=synonyms())
    assert table.mapping[header] == field


def test_it_refuses_a_roster_without_a_name_column_and_a_corrupt_xlsx():
    with pytest.raises(UnreadableFile, match="^未找到姓名列（表头可用 --map 指定）$"):
        read_table("序号,手机号,站点\n1,13812345678,美团\n".encode(), file_name="a.csv", synonyms=synonyms())
    book = openpyxl.Workbook()
    book.active.append(["姓名", "手机号"])
    out = io.BytesIO()
    book.save(out)
    truncated = out.getvalue()[: len(out.getvalue()) // 2]
    with pytest.raises(UnreadableFile, match="^无法读取文件：不是 Excel 或 CSV 文件，或文件已损坏$"):
        read_table(truncated, file_name="a.xlsx", synonyms=synonyms())


def test_it_keeps_dates_from_a_spreadsheet_as_iso():
    book = openpyxl.Workbook()
    book.active.append(["姓名", "出生日期"])
    book.active.append(["张三", dt.datetime(1990, 3, 4)])
    out = io.BytesIO()
    book.save(out)
    table = read_table(out.getvalue(), file_name="a.xlsx", synonyms=synonyms())
    assert next(table.records())[1]["birth_date"] == "1990-03-04"
