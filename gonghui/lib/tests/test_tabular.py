"""Reading tables in the shapes people send: header found under a title block, synonyms, encodings."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest

from gonghui.lib.tabular import UnreadableFile, cell_text, header_key, read_table

SYNONYMS = {
    "name": ["姓名", "人员姓名"],
    "id_number": ["身份证号", "身份证号码"],
    "phone": ["手机号", "联系电话"],
    "employer": ["工作单位"],
    "birth_date": ["出生日期"],
    "region": ["乡镇（街道）"],
}


def xlsx(*sheets: tuple[str, list[list]]) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets:
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_it_finds_the_header_under_a_merged_title_and_a_date_line():
    book = openpyxl.Workbook()
    sheet = book.active
    sheet["A1"] = "佳木斯市新就业形态劳动者摸底登记表"
    sheet.merge_cells("A1:D1")
    sheet["A2"] = "填报日期：2021年10月"
    rows = {
        5: ["序号", "姓名", "身份证号", "手机号"],  # row 4 stays blank
        6: [1, "张三", "230803199001011237", 13812345678],
        7: ["", None, " ", None],  # an empty row is skipped
        8: [2, "李四", "", "13912345678"],
    }
    for number, values in rows.items():
        for column, value in enumerate(values, start=1):
            sheet.cell(row=number, column=column, value=value)
    out = io.BytesIO()
    book.save(out)

    table = read_table(out.getvalue(), file_name="名单.xlsx", synonyms=SYNONYMS)

    assert table.header_row == 5
    assert table.headers == ["序号", "姓名", "身份证号", "手机号"]
    assert table.mapping == {"姓名": "name", "身份证号": "id_number", "手机号": "phone"}
    assert [n for n, _ in table.rows] == [6, 8]
    assert list(table.records()) == [
        (6, {"name": "张三", "id_number": "230803199001011237", "phone": "13812345678"}),
        (8, {"name": "李四", "id_number": "", "phone": "13912345678"}),
    ]
    assert table.raw_record(table.rows[0]) == {
        "序号": "1",
        "姓名": "张三",
        "身份证号": "230803199001011237",
        "手机号": "13812345678",
    }


def test_it_writes_cells_as_a_person_reads_them():
    assert cell_text(13812345678.0) == "13812345678"
    assert cell_text(230803900101123.0) == "230803900101123"  # 15 digits: exact in a float
    assert cell_text(2.3080319900101123e17) == "2.30803199001011E+17"  # digits beyond a float's reach
    assert cell_text(1.5) == "1.5"
    assert cell_text(dt.datetime(1990, 1, 2)) == "1990-01-02"
    assert cell_text(dt.date(1990, 1, 2)) == "1990-01-02"
    assert cell_text(None) == ""
    assert cell_text("  张三\u3000") == "张三"


def test_it_reads_dates_and_long_numbers_from_xlsx():
    data = xlsx(
        ("名单", [["姓名", "出生日期", "身份证号"], ["张三", dt.date(1990, 1, 2), 230803199001011237]])
    )
    table = read_table(data, file_name="a.xlsx", synonyms=SYNONYMS)
    record = next(table.records())[1]
    assert record["birth_date"] == "1990-01-02"
    # An 18-digit number stored as a number has lost digits: kept as a spreadsheet shows it.
    assert record["id_number"].endswith("E+17")


def test_it_matches_headers_after_normalising_them():
    assert header_key("身份证号码（必填）") == "身份证号码"
    assert header_key("* 姓 名") == "姓名"
    assert header_key("手机号：") == "手机号"
    assert header_key("乡镇（街道）") == "乡镇"
    data = "＊姓 名,联系电话(手机),乡镇（街道）\n张三,138 1234 5678,长安街道\n".encode()
    table = read_table(data, file_name="a.csv", synonyms=SYNONYMS)
    assert set(table.mapping.values()) == {"name", "phone", "region"}


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ("姓名,手机号\n张三,13812345678\n".encode("gbk"), "gbk"),
        ("姓名,手机号\n張三,13812345678\n".encode("gb18030"), "gb18030"),
        ("\ufeff姓名,手机号\n张三,13812345678\n".encode(), "utf-8 with BOM"),
        ("姓名,手机号\n张三,13812345678\n".encode(), "utf-8"),
        ("姓名\t手机号\n张三\t13812345678\n".encode("utf-16"), "utf-16 (Excel's Unicode text)"),
    ],
)
def test_it_detects_the_encoding_of_a_csv(data, why):
    table = read_table(data, file_name="a.csv", synonyms=SYNONYMS)
    assert table.headers == ["姓名", "手机号"], why
    assert table.rows[0][1][0] in {"张三", "張三"}


@pytest.mark.parametrize("delimiter", [",", "\t", ";"])
def test_it_sniffs_the_delimiter(delimiter):
    text = f"花名册\n\n姓名{delimiter}手机号{delimiter}工作单位\n张三{delimiter}13812345678{delimiter}某公司, 分部\n"
    if delimiter == ",":
        text = text.replace("某公司, 分部", '"某公司, 分部"')
    table = read_table(text.encode(), file_name="a.txt", synonyms=SYNONYMS)
    assert table.header_row == 3
    assert table.rows == [(4, ["张三", "13812345678", "某公司, 分部"])]


def test_it_chooses_a_sheet_by_name_or_index_and_defaults_to_the_first_with_a_header():
    data = xlsx(
        ("说明", [["本表由街道填报"], ["请勿改动表头"]]),
        ("一月", [["姓名", "手机号"], ["张三", "13812345678"]]),
        ("二月", [["人员姓名", "联系电话"], ["李四", "13912345678"]]),
    )
    assert read_table(data, file_name="a.xlsx", synonyms=SYNONYMS).sheet_name == "一月"
    by_name = read_table(data, file_name="a.xlsx", sheet="二月", synonyms=SYNONYMS)
    assert by_name.sheet_name == "二月" and by_name.sheet_names == ["说明", "一月", "二月"]
    assert by_name.rows == [(2, ["李四", "13912345678"])]
    assert read_table(data, file_name="a.xlsx", sheet=3, synonyms=SYNONYMS).sheet_name == "二月"
    assert read_table(data, file_name="a.xlsx", sheet="2", synonyms=SYNONYMS).sheet_name == "一月"
    with pytest.raises(UnreadableFile, match="未找到工作表「三月」"):
        read_table(data, file_name="a.xlsx", sheet="三月", synonyms=SYNONYMS)
    with pytest.raises(UnreadableFile, match="没有第 4 个工作表"):
        read_table(data, file_name="a.xlsx", sheet=4, synonyms=SYNONYMS)
    with pytest.raises(UnreadableFile, match="未找到姓名列"):
        read_table(data, file_name="a.xlsx", sheet=1, synonyms=SYNONYMS)


def test_it_lets_a_manual_map_override_the_synonyms():
    data = "户主,姓名,电话号\n张三,张小三,13812345678\n".encode()
    table = read_table(
        data, file_name="a.csv", synonyms=SYNONYMS, manual_map={"户主": "name", "电话号": "phone"}
    )
    assert table.mapping == {"户主": "name", "电话号": "phone"}  # 姓名 no longer maps to name
    assert next(table.records()) == (2, {"name": "张三", "phone": "13812345678"})
    unmapped = read_table(
        "姓名,手机号\n张三,138\n".encode(), file_name="a.csv", synonyms=SYNONYMS, manual_map={"手机号": ""}
    )
    assert unmapped.mapping == {"姓名": "name"}


def test_it_finds_the_header_by_a_manual_map_alone():
    data = "户主,电话号\n张三,13812345678\n".encode()
    table = read_table(
        data, file_name="a.csv", synonyms=SYNONYMS, manual_map={"户主": "name", "电话号": "phone"}
    )
    assert table.header_row == 1


def test_it_refuses_a_manual_map_naming_an_unknown_header_or_field():
    data = "姓名,手机号\n张三,13812345678\n".encode()
    with pytest.raises(UnreadableFile, match="表头「住址」不在文件的表头中"):
        read_table(data, file_name="a.csv", synonyms=SYNONYMS, manual_map={"住址": "employer"})
    with pytest.raises(UnreadableFile, match="字段「salary」不存在"):
        read_table(data, file_name="a.csv", synonyms=SYNONYMS, manual_map={"手机号": "salary"})


def test_it_takes_the_first_non_empty_of_two_columns_for_one_field():
    data = "姓名,手机号,联系电话\n张三,,13812345678\n李四,13912345678,13812345678\n".encode()
    table = read_table(data, file_name="a.csv", synonyms=SYNONYMS)
    assert [r["phone"] for _, r in table.records()] == ["13812345678", "13912345678"]
    assert table.headers_by_field == {"name": "姓名", "phone": "手机号"}


def test_it_names_empty_and_repeated_headers():
    data = "姓名,,手机号,手机号\n张三,备注,13812345678,13912345678\n".encode()
    table = read_table(data, file_name="a.csv", synonyms=SYNONYMS)
    assert table.headers == ["姓名", "B列", "手机号", "手机号(2)"]
    assert table.raw_record(table.rows[0])["B列"] == "备注"


@pytest.mark.parametrize(
    ("data", "file_name", "message"),
    [
        (b"", "a.csv", "无法读取文件：文件是空的"),
        (
            b"PK\x03\x04garbage that is not a zip",
            "a.xlsx",
            "无法读取文件：不是 Excel 或 CSV 文件，或文件已损坏",
        ),
        (bytes(range(256)) * 4, "a.csv", "无法读取文件：不是 Excel 或 CSV 文件"),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600,
            "a.xls",
            "不是 Excel 或 CSV 文件，或文件已损坏",
        ),
        ("序号,手机号,地址\n1,13812345678,某地\n".encode(), "a.csv", "未找到姓名列（表头可用 --map 指定）"),
    ],
)
def test_it_refuses_an_unreadable_file_with_one_line_in_chinese(data, file_name, message):
    with pytest.raises(UnreadableFile) as caught:
        read_table(data, file_name=file_name, synonyms=SYNONYMS)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_it_reads_a_path(tmp_path):
    path = tmp_path / "名单.csv"
    path.write_bytes("姓名,手机号\n张三,13812345678\n".encode("gbk"))
    table = read_table(path, file_name=path.name, synonyms=SYNONYMS)
    assert table.file_name == "名单.csv" and table.rows == [(2, ["张三", "13812345678"])]
    with pytest.raises(UnreadableFile, match="无法读取文件"):
        read_table(tmp_path / "missing.csv", file_name="missing.csv", synonyms=SYNONYMS)
