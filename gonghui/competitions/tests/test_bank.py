import io

import pytest
from django.core.management import CommandError, call_command
from openpyxl import Workbook, load_workbook

from gonghui.competitions.bank import BankError, bank_export, bank_import, parse_letters, parse_true_false
from gonghui.competitions.models import Question

HEADER = [
    "题型",
    "题干",
    "选项A",
    "选项B",
    "选项C",
    "选项D",
    "选项E",
    "选项F",
    "答案",
    "解析",
    "难度",
    "知识点",
]


def xlsx(rows, *, title=True):
    book = Workbook()
    sheet = book.active
    if title:
        sheet.append(["吉林省第一届职工职业技能大赛 钳工 理论题库"])
        sheet.append([])
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def single(stem, answer, *, options=("甲", "乙", "丙", "丁"), kind="单选题"):
    return [kind, stem, *options, *[""] * (6 - len(options)), answer, "解析" + stem, "中", "安全"]


def tf(stem, answer):
    return ["判断题", stem, "", "", "", "", "", "", answer, "", "易", "识图"]


ANSWER_FORMS = [
    (single("单选 A", "A"), "A"),
    (single("单选 全角", "Ｂ"), "B"),
    (single("单选 小写", " c "), "C"),
    (single("多选 AC", "AC", kind="多选题"), "AC"),
    (single("多选 A,C", "A,C", kind="多选题"), "AC"),
    (single("多选 A、C", "A、C", kind="多选题"), "AC"),
    (single("多选 逆序空格", "d b", kind="多选"), "BD"),
    (single("多选 分号", "A；B；E", kind="多项选择题", options=("1", "2", "3", "4", "5")), "ABE"),
    (tf("判断 对", "对"), "T"),
    (tf("判断 错", "错"), "F"),
    (tf("判断 勾", "√"), "T"),
    (tf("判断 叉", "×"), "F"),
    (tf("判断 正确", "正确"), "T"),
    (tf("判断 错误", "错误"), "F"),
    (tf("判断 T", "T"), "T"),
    (tf("判断 F", "f"), "F"),
    (tf("判断 TRUE", True), "T"),
    (tf("判断 FALSE", False), "F"),
]


def test_it_accepts_every_answer_form_people_type(fitter):
    rows = [row for row, _ in ANSWER_FORMS]
    rows.append(
        [
            "填空题",
            "拧紧螺栓应按____顺序，用____扳手",
            "",
            "",
            "",
            "",
            "",
            "",
            "对角|交叉；扭力",
            "",
            "难",
            "装配",
        ]
    )
    report = bank_import(trade=fitter, source=xlsx(rows), file_name="钳工.xlsx")
    assert report.errors == [] and report.added == len(rows)
    stored = {q.stem: q for q in Question.objects.filter(trade=fitter)}
    for row, expected in ANSWER_FORMS:
        assert stored[row[1]].answer == expected, row[1]
    blank = stored["拧紧螺栓应按____顺序，用____扳手"]
    assert blank.qtype == "fill_blank" and blank.accepted == [["对角", "交叉"], ["扭力"]]
    assert blank.difficulty == 3 and blank.knowledge_area == "装配"
    assert (
        stored["单选 A"].options == ["甲", "乙", "丙", "丁"] and stored["单选 A"].explanation == "解析单选 A"
    )
    assert [q.number for q in Question.objects.filter(trade=fitter)] == list(range(1, len(rows) + 1))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("A", "A"), ("AC", "AC"), ("A,C", "AC"), ("A、C", "AC"), ("C A", "AC"), ("AA", None), ("G", None)],
)
def test_it_reads_option_letters(text, expected):
    assert parse_letters(text) == expected


def test_it_reads_true_false_words():
    assert [parse_true_false(w) for w in ("对", "√", "正确", "T", "错", "×", "错误", "F", "也许")] == [
        "T", "T", "T", "T", "F", "F", "F", "F", None,
    ]  # fmt: skip


def test_it_refuses_bad_rows_by_row_number_and_writes_nothing(fitter):
    rows = [
        single("好题", "A"),  # row 4
        single("答案越界", "E"),  # row 5
        single("单选两个答案", "AB"),  # row 6
        ["问答题", "什么是钳工", "", "", "", "", "", "", "略", "", "中", "安全"],  # row 7
        tf("判断也许", "也许"),  # row 8
        single("", "A"),  # row 9
        single("好题", "A"),  # row 10: the same question again
        ["单选题", "缺选项", "甲", "", "丙", "", "", "", "A", "", "中", "安全"],  # row 11
        ["单选题", "难度不明", "甲", "乙", "", "", "", "", "A", "", "很难", "安全"],  # row 12
        single("多选只有一个", "A", kind="多选题"),  # row 13
    ]
    report = bank_import(trade=fitter, source=xlsx(rows), file_name="坏.xlsx")
    messages = [str(e) for e in report.errors]
    assert report.added == 0 and not Question.objects.exists()
    assert "第 5 行「答案」：答案中的 E 没有对应的选项" in messages
    assert any(m.startswith("第 6 行「答案」：单选题只能有一个答案") for m in messages)
    assert any(m.startswith("第 7 行「题型」") for m in messages)
    assert any(m.startswith("第 8 行「答案」：判断题答案「也许」") for m in messages)
    assert "第 9 行「题干」：题干不能为空" in messages
    assert "第 10 行「题干」：与第 4 行重复" in messages
    assert "第 11 行「选项B」：选项B为空，但后面还有选项" in messages
    assert any(m.startswith("第 12 行「难度」") for m in messages)
    assert "第 13 行「答案」：多选题至少有两个正确选项" in messages
    assert [e.row for e in report.errors] == sorted(e.row for e in report.errors)


def test_the_same_file_twice_adds_nothing(fitter):
    data = xlsx([single("题一", "A"), tf("题二", "对")])
    assert bank_import(trade=fitter, source=data, file_name="a.xlsx").added == 2
    again = bank_import(trade=fitter, source=data, file_name="a.xlsx")
    assert (again.added, again.already_present) == (0, 2)
    assert Question.objects.count() == 2


def test_it_refuses_a_file_without_the_needed_columns(fitter):
    book = Workbook()
    book.active.append(["题干", "选项A", "答案"])
    book.active.append(["x", "y", "A"])
    buffer = io.BytesIO()
    book.save(buffer)
    with pytest.raises(BankError, match="缺少列：题型、难度、知识点"):
        bank_import(trade=fitter, source=buffer.getvalue(), file_name="x.xlsx")


MIXED = [
    single("扳手开口 {尺寸}: 用 = 还是 ~ #号", "B"),
    single(
        "多选：哪些是量具", "ACD", kind="多选题", options=("游标卡尺", "锤子", "千分尺", "百分表", "锉刀")
    ),
    tf("划线前应清理工件表面", "√"),
    ["填空题", "M10 螺纹的公称直径是____mm", "", "", "", "", "", "", "10|十", "公称直径即大径", "易", "识图"],
    ["单选题", "第二个知识点的题", "是", "否", "", "", "", "", "B", "多行\n解析", "难", "识图"],
]


def _snapshot(trade):
    return sorted(
        (
            q.qtype,
            q.stem,
            tuple(q.options),
            q.answer,
            str(q.accepted),
            q.knowledge_area,
            q.difficulty,
            q.explanation,
        )
        for q in Question.objects.filter(trade=trade)
    )


@pytest.mark.parametrize("fmt", ["moodle-xml", "gift", "xlsx"])
def test_a_bank_survives_a_round_trip(fitter, fmt):
    welder = fitter.contest.trades.get(code="welder")
    assert bank_import(trade=fitter, source=xlsx(MIXED), file_name="m.xlsx").added == len(MIXED)
    exported = bank_export(trade=fitter, fmt=fmt)
    name = {"moodle-xml": "bank.xml", "gift": "bank.gift", "xlsx": "bank.xlsx"}[fmt]
    report = bank_import(trade=welder, source=exported, file_name=name)
    assert report.errors == [] and report.added == len(MIXED)
    assert _snapshot(welder) == _snapshot(fitter)


def test_moodle_xml_keeps_several_blanks_and_gift_refuses_them(fitter):
    rows = [["填空题", "钳工常用的____和____", "", "", "", "", "", "", "锉刀；手锯|锯弓", "", "中", "工具"]]
    bank_import(trade=fitter, source=xlsx(rows), file_name="b.xlsx")
    welder = fitter.contest.trades.get(code="welder")
    bank_import(trade=welder, source=bank_export(trade=fitter, fmt="moodle-xml"), file_name="b.xml")
    assert _snapshot(welder) == _snapshot(fitter)
    with pytest.raises(BankError, match="第 1 题有 2 个空，GIFT 格式不支持"):
        bank_export(trade=fitter, fmt="gift")


MOODLE_FROM_ELSEWHERE = """<?xml version="1.0" encoding="UTF-8"?>
<quiz>
  <question type="category"><category><text>$course$/top/电工基础</text></category></question>
  <question type="multichoice">
    <name><text>欧姆定律</text></name>
    <questiontext format="html"><text><![CDATA[<p>电压 10V、电阻 5&Omega; 时电流为</p>]]></text></questiontext>
    <generalfeedback format="html"><text></text></generalfeedback>
    <single>true</single>
    <answer fraction="0" format="html"><text>1A</text></answer>
    <answer fraction="100" format="html"><text>2A</text></answer>
    <answer fraction="0" format="html"><text>5A</text></answer>
  </question>
  <question type="essay"><name><text>论述</text></name><questiontext format="html"><text>论述</text></questiontext></question>
</quiz>"""


def test_it_reads_a_moodle_bank_from_elsewhere_and_refuses_what_it_cannot_score(fitter):
    report = bank_import(trade=fitter, source=MOODLE_FROM_ELSEWHERE.encode(), file_name="moodle.xml")
    assert [str(e) for e in report.errors] == ["第 2 题：不支持的题型 essay"]
    assert not Question.objects.exists()
    fixed = MOODLE_FROM_ELSEWHERE.replace(
        '<question type="essay"><name><text>论述</text></name><questiontext format="html"><text>论述</text>'
        "</questiontext></question>",
        "",
    )
    assert bank_import(trade=fitter, source=fixed.encode(), file_name="moodle.xml").added == 1
    q = Question.objects.get()
    assert (q.stem, q.answer, q.knowledge_area, q.difficulty) == (
        "电压 10V、电阻 5Ω 时电流为",
        "B",
        "电工基础",
        2,
    )


GIFT_FROM_ELSEWHERE = """// 来自别处的 GIFT 题库
$CATEGORY: $course$/钳工/测量

::Q1:: 游标卡尺的读数精度可达 {
  =0.02mm # 对
  ~0.1mm
  ~1mm
}

::Q2:: 千分尺属于精密量具 {T}

::Q3:: 以下属于形位公差的是 {~%50%平面度 ~%50%圆度 ~%-100%表面粗糙度}

::Q4:: 1 英寸等于 {=25.4 =25.4mm} 毫米
"""


def test_it_reads_a_gift_bank_from_elsewhere(fitter):
    report = bank_import(trade=fitter, source=GIFT_FROM_ELSEWHERE.encode(), file_name="bank.gift")
    assert report.errors == [] and report.added == 4
    by_stem = {q.stem: q for q in Question.objects.all()}
    assert by_stem["游标卡尺的读数精度可达"].answer == "A"
    assert by_stem["游标卡尺的读数精度可达"].options == ["0.02mm", "0.1mm", "1mm"]
    assert by_stem["千分尺属于精密量具"].answer == "T"
    assert by_stem["以下属于形位公差的是"].qtype == "multiple"
    assert by_stem["以下属于形位公差的是"].answer == "AB"
    blank = by_stem["1 英寸等于____毫米"]
    assert blank.accepted == [["25.4", "25.4mm"]] and blank.knowledge_area == "测量"


def test_cli_imports_exports_and_refuses_with_one_line(fitter, tmp_path):
    good = tmp_path / "good.xlsx"
    good.write_bytes(xlsx(MIXED))
    out = io.StringIO()
    call_command(
        "contest", "import-bank", str(good), "--contest", "jilin-2021", "--trade", "fitter", stdout=out
    )
    assert "新增 5 题" in out.getvalue()
    target = tmp_path / "out.xlsx"
    call_command(
        "contest", "export-bank", str(target), "--trade", "fitter", "--format", "xlsx", stdout=io.StringIO()
    )
    sheet = load_workbook(target).active
    assert [c.value for c in sheet[1]] == HEADER and sheet.max_row == 6
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(xlsx([single("答案越界", "G")]))
    err = io.StringIO()
    with pytest.raises(CommandError) as refused:
        call_command(
            "contest", "import-bank", str(bad), "--contest", "jilin-2021", "--trade", "fitter", stderr=err
        )
    assert refused.value.returncode == 2 and "\n" not in str(refused.value)
    assert "第 4 行「答案」" in err.getvalue()
    with pytest.raises(CommandError, match="没有代码为 nope 的工种"):
        call_command("contest", "import-bank", str(good), "--contest", "jilin-2021", "--trade", "nope")
    assert Question.objects.count() == 5
