"""Question banks in and out: the Excel template unions use, Moodle XML and GIFT.

Import is all or nothing: every row is checked first, and a file with any refused row (each named
by its row number, or question number in XML/GIFT, and the reason) writes nothing. A question
already in the trade's bank (same type, stem and options) is skipped, so the same file twice adds
nothing. Answers are accepted in the forms people type: `A`, `AC`, `A,C`, `A、C`, `a c`, full-width
letters; for true/false `对/错`, `√/×`, `正确/错误`, `T/F`, `TRUE/FALSE`, `是/否`, `Y/N`.

A fill-in-the-blank answer lists the blanks separated by `;` (or `；`), and for each blank the
accepted answers separated by `|`: `扭矩|转矩;顺时针`.

Moodle XML and GIFT carry the knowledge area and difficulty as Moodle tags (`知识点:…`, `难度:…`)
and the category path; a bank from elsewhere without them gets its category's last part as the
area and medium difficulty.
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Max

from gonghui.audit.services import audit_record
from gonghui.lib.tabular import UnreadableFile, read_table

from .models import DIFFICULTY_ZH, OPTION_LETTERS, QTYPE_ZH, Difficulty, Question, QuestionType, Trade

FORMATS = ("xlsx", "moodle-xml", "gift")

COLUMNS = ["题型", "题干", *[f"选项{letter}" for letter in OPTION_LETTERS], "答案", "解析", "难度", "知识点"]
_SYNONYMS = {
    "qtype": ["题型", "题目类型", "试题类型", "类型"],
    "stem": ["题干", "题目", "试题", "题目内容", "试题内容"],
    **{f"option_{letter}": [f"选项{letter}", f"选项 {letter}", letter] for letter in OPTION_LETTERS},
    "answer": ["答案", "正确答案", "参考答案", "标准答案"],
    "explanation": ["解析", "答案解析", "试题解析", "解释"],
    "difficulty": ["难度", "难易程度", "难度等级"],
    "knowledge_area": ["知识点", "知识领域", "考核点", "鉴定点", "知识范围"],
}

_QTYPES = {
    QuestionType.SINGLE: ["单选", "单选题", "单项选择", "单项选择题", "single", "singlechoice"],
    QuestionType.MULTIPLE: ["多选", "多选题", "多项选择", "多项选择题", "multiple", "multiplechoice"],
    QuestionType.TRUE_FALSE: ["判断", "判断题", "是非题", "truefalse", "true_false"],
    QuestionType.FILL_BLANK: ["填空", "填空题", "fillblank", "fill_blank"],
}
QTYPE_OF = {word: qtype for qtype, words in _QTYPES.items() for word in words}
QTYPE_LABEL = QTYPE_ZH

_DIFFICULTY = {
    **dict.fromkeys(["1", "易", "容易", "简单", "较易", "低", "easy"], Difficulty.EASY),
    **dict.fromkeys(["2", "中", "中等", "一般", "适中", "medium"], Difficulty.MEDIUM),
    **dict.fromkeys(["3", "难", "较难", "困难", "高", "hard"], Difficulty.HARD),
}
DIFFICULTY_LABEL = DIFFICULTY_ZH

_TRUE = {"对", "√", "✓", "✔", "正确", "T", "TRUE", "是", "Y", "YES", "V"}
_FALSE = {"错", "×", "✗", "✘", "X", "错误", "F", "FALSE", "否", "N", "NO"}
# What separates letters in a typed multiple-choice answer.
_LETTER_NOISE = re.compile(r"[\s,，、;；/.。|]+")
BLANK_SEPARATOR = "\x1f"  # joins a candidate's answers to several blanks
MAX_FILE_BYTES = 20 * 1024 * 1024


class BankError(ValueError):
    """A bank file that cannot be imported or a bank that cannot be exported; one line of Chinese."""


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    reason: str
    unit: str = "行"  # "行" for spreadsheet rows, "题" for the questions of an XML or GIFT file

    def __str__(self) -> str:
        column = f"「{self.column}」" if self.column else ""
        return f"第 {self.row} {self.unit}{column}：{self.reason}"


@dataclass
class Parsed:
    qtype: str
    stem: str
    options: list[str]
    answer: str
    accepted: list[list[str]]
    knowledge_area: str
    difficulty: int
    explanation: str = ""

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.qtype, self.stem, self.options)


@dataclass
class BankReport:
    file_name: str
    added: int = 0
    already_present: int = 0
    errors: list[RowError] = field(default_factory=list)

    def __str__(self) -> str:
        if self.errors:
            return f"{self.file_name}：{len(self.errors)} 处错误，未写入任何题目"
        return f"{self.file_name}：新增 {self.added} 题，已在题库中 {self.already_present} 题"


def fold(text: str) -> str:
    """How texts are compared (stems, blanks): NFKC, whitespace collapsed, case-folded."""
    return " ".join(unicodedata.normalize("NFKC", text or "").split()).casefold()


def fingerprint(qtype: str, stem: str, options: list[str]) -> str:
    key = "\x1e".join([qtype, fold(stem), *(fold(o) for o in options)])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


# --- the forms people type -----------------------------------------------------------------------


def parse_qtype(text: str) -> str | None:
    return QTYPE_OF.get(re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or "")).lower())


def parse_difficulty(text: str) -> int | None:
    return _DIFFICULTY.get(re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or "")).lower())


def parse_true_false(text: str) -> str | None:
    key = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or "")).upper()
    if key in _TRUE:
        return "T"
    if key in _FALSE:
        return "F"
    return None


def parse_letters(text: str) -> str | None:
    """ "A", "AC", "A,C", "A、C", "c a", "ＡＣ" -> "A" / "AC"; None when anything else is there or a letter repeats."""
    key = _LETTER_NOISE.sub("", unicodedata.normalize("NFKC", text or "")).upper()
    if not key or any(ch not in OPTION_LETTERS for ch in key) or len(set(key)) != len(key):
        return None
    return "".join(sorted(key))


def parse_blanks(text: str) -> list[list[str]] | None:
    """`扭矩|转矩;顺时针` -> [["扭矩", "转矩"], ["顺时针"]]; None when a blank has no accepted answer."""
    blanks = []
    for part in re.split(r"[;；]", unicodedata.normalize("NFC", text or "")):
        accepted = [a.strip() for a in part.split("|") if a.strip()]
        if not accepted:
            return None
        blanks.append(accepted)
    return blanks or None


def blanks_text(accepted: list[list[str]]) -> str:
    return ";".join("|".join(alternatives) for alternatives in accepted)


def check_question(
    *, qtype: str, stem: str, options: list[str], answer_text: str, area: str, difficulty: int | None
) -> tuple[Parsed | None, list[tuple[str, str]]]:
    """A question from its typed parts, or the (column, reason) pairs that refuse it."""
    problems: list[tuple[str, str]] = []
    stem = (stem or "").strip()
    if not stem:
        problems.append(("题干", "题干不能为空"))
    if not (area or "").strip():
        problems.append(("知识点", "知识点不能为空"))
    if difficulty is None:
        problems.append(("难度", "难度应为 易/中/难 或 1/2/3"))
    answer, accepted = "", []
    if qtype in (QuestionType.SINGLE, QuestionType.MULTIPLE):
        while options and not options[-1].strip():
            options = options[:-1]
        gaps = [OPTION_LETTERS[i] for i, text in enumerate(options) if not text.strip()]
        if gaps:
            problems.append((f"选项{gaps[0]}", f"选项{gaps[0]}为空，但后面还有选项"))
        if len(options) < 2:
            problems.append(("选项A", "选择题至少需要两个选项"))
        letters = parse_letters(answer_text)
        if letters is None:
            problems.append(("答案", f"答案「{answer_text}」不是选项字母（如 A、AC、A,C、A、C）"))
        else:
            beyond = [ch for ch in letters if OPTION_LETTERS.index(ch) >= len(options)]
            if beyond:
                problems.append(("答案", f"答案中的 {beyond[0]} 没有对应的选项"))
            elif qtype == QuestionType.SINGLE and len(letters) != 1:
                problems.append(("答案", f"单选题只能有一个答案，却有 {letters}"))
            elif qtype == QuestionType.MULTIPLE and len(letters) < 2:
                problems.append(("答案", "多选题至少有两个正确选项"))
            answer = letters
        options = [o.strip() for o in options]
    elif qtype == QuestionType.TRUE_FALSE:
        value = parse_true_false(answer_text)
        if value is None:
            problems.append(("答案", f"判断题答案「{answer_text}」应为 对/错、√/×、正确/错误 或 T/F"))
        answer, options = value or "", []
    elif qtype == QuestionType.FILL_BLANK:
        blanks = parse_blanks(answer_text)
        if blanks is None:
            problems.append(
                ("答案", "填空题每个空至少要有一个答案（空与空用 ; 分隔，同一空的多个答案用 | 分隔）")
            )
        accepted, options = blanks or [], []
    if problems:
        return None, problems
    return (
        Parsed(
            qtype=qtype,
            stem=stem,
            options=options,
            answer=answer,
            accepted=accepted,
            knowledge_area=area.strip(),
            difficulty=int(difficulty),
        ),
        [],
    )


# --- reading -------------------------------------------------------------------------------------


def read_excel(source: bytes, *, file_name: str) -> tuple[list[tuple[int, Parsed]], list[RowError]]:
    try:
        table = read_table(
            source, file_name=file_name, synonyms=_SYNONYMS, key_field="stem", key_label="题干"
        )
    except UnreadableFile as exc:
        raise BankError(str(exc)) from None
    found = set(table.mapping.values())
    missing = [label for key, label in (("qtype", "题型"), ("answer", "答案"), ("difficulty", "难度"),
                                        ("knowledge_area", "知识点")) if key not in found]  # fmt: skip
    if missing:
        raise BankError(f"缺少列：{'、'.join(missing)}（第 {table.header_row} 行是表头）")
    questions, errors = [], []
    for row, record in table.records():
        if not any(v.strip() for v in record.values()):
            continue
        qtype = parse_qtype(record.get("qtype", ""))
        if qtype is None:
            errors.append(RowError(row, "题型", f"题型「{record.get('qtype', '')}」应为 单选/多选/判断/填空"))
            continue
        options = [record.get(f"option_{letter}", "") or "" for letter in OPTION_LETTERS]
        parsed, problems = check_question(
            qtype=qtype,
            stem=record.get("stem", ""),
            options=options,
            answer_text=record.get("answer", ""),
            area=record.get("knowledge_area", ""),
            difficulty=parse_difficulty(record.get("difficulty", "")),
        )
        if parsed is None:
            errors.extend(RowError(row, column, reason) for column, reason in problems)
            continue
        parsed.explanation = (record.get("explanation") or "").strip()
        questions.append((row, parsed))
    return questions, errors


def _text(element: ET.Element | None) -> str:
    if element is None:
        return ""
    inner = element.find("text")
    return (inner.text if inner is not None else element.text) or ""


_TAG = re.compile(r"<[^>]+>")


def _plain(html: str, fmt: str | None) -> str:
    """Moodle keeps question texts as HTML; the bank keeps plain text."""
    if fmt in (None, "html", "moodle_auto_format"):
        import html as html_lib

        html = html_lib.unescape(_TAG.sub("", html.replace("<br>", "\n").replace("<br />", "\n")))
    return html.strip()


def _meta_from_tags(tags: list[str], category: str) -> tuple[str, int | None]:
    area, difficulty = "", None
    for tag in tags:
        key, _, value = unicodedata.normalize("NFKC", tag).partition(":")
        if key.strip() in ("知识点", "area"):
            area = value.strip()
        elif key.strip() in ("难度", "difficulty"):
            difficulty = parse_difficulty(value)
    if not area and category:
        area = [part for part in category.split("/") if part][-1].strip()
        if area.startswith("$"):  # only "$course$" or the like: no area in the path
            area = ""
    return area or "综合", difficulty or Difficulty.MEDIUM


_CLOZE = re.compile(r"\{\d*:(?:SHORTANSWER|SA|MW):([^}]*)\}")


def read_moodle_xml(source: bytes) -> tuple[list[tuple[int, Parsed]], list[RowError]]:
    try:
        root = ET.fromstring(source)
    except ET.ParseError as exc:
        raise BankError(f"无法读取 Moodle XML：{exc}") from None
    if root.tag != "quiz":
        raise BankError("不是 Moodle XML 题库（根元素应为 quiz）")
    questions, errors, category, number = [], [], "", 0
    for element in root.findall("question"):
        kind = element.get("type", "")
        if kind == "category":
            category = _text(element.find("category"))
            continue
        number += 1
        text_element = element.find("questiontext")
        stem = _plain(_text(text_element), text_element.get("format") if text_element is not None else None)
        tags = [_text(tag) for tag in element.findall("tags/tag")]
        area, difficulty = _meta_from_tags(tags, category)
        answers = [
            (_plain(_text(a), a.get("format")), float(a.get("fraction", "0") or 0))
            for a in element.findall("answer")
        ]
        if kind == "multichoice":
            single = (element.findtext("single") or "true").strip().lower() in ("true", "1")
            qtype = QuestionType.SINGLE if single else QuestionType.MULTIPLE
            options = [text for text, _ in answers]
            letters = "".join(OPTION_LETTERS[i] for i, (_, f) in enumerate(answers) if f > 0 and i < 6)
            if len(options) > len(OPTION_LETTERS):
                errors.append(RowError(number, "", f"有 {len(options)} 个选项，最多 6 个", "题"))
                continue
            answer_text = letters
        elif kind == "truefalse":
            qtype, options = QuestionType.TRUE_FALSE, []
            answer_text = next((text for text, f in answers if f >= 100), "")
        elif kind == "shortanswer":
            qtype, options = QuestionType.FILL_BLANK, []
            answer_text = "|".join(text.replace("|", "/") for text, f in answers if f >= 100)
        elif kind == "cloze":
            qtype, options = QuestionType.FILL_BLANK, []
            blanks = [
                [a[1:].split("#")[0] for a in part.split("~") if a.startswith("=")]
                for part in _CLOZE.findall(stem)
            ]
            answer_text = ";".join("|".join(b) for b in blanks)
            stem = _CLOZE.sub("____", stem)
        else:
            errors.append(RowError(number, "", f"不支持的题型 {kind}", "题"))
            continue
        parsed, problems = check_question(
            qtype=qtype, stem=stem, options=options, answer_text=answer_text, area=area, difficulty=difficulty
        )
        if parsed is None:
            errors.extend(RowError(number, column, reason, "题") for column, reason in problems)
            continue
        parsed.explanation = _plain(_text(element.find("generalfeedback")), None)
        questions.append((number, parsed))
    return questions, errors


# GIFT: https://docs.moodle.org/en/GIFT_format
_GIFT_SPECIAL = "~=#{}:"


def gift_escape(text: str) -> str:
    text = text.replace("\\", "\\\\")
    for ch in _GIFT_SPECIAL:
        text = text.replace(ch, "\\" + ch)
    return text.replace("\n", "\\n")


def gift_unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            out.append("\n" if text[i + 1] == "n" else text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _split_unescaped(text: str, marks: str) -> list[tuple[str, str]]:
    """Split `text` at unescaped characters of `marks`: [(mark before, part), ...] (first mark "")."""
    parts, mark, current, i = [], "", [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            current.append(text[i : i + 2])
            i += 2
            continue
        if ch in marks:
            parts.append((mark, "".join(current)))
            mark, current = ch, []
        else:
            current.append(ch)
        i += 1
    parts.append((mark, "".join(current)))
    return parts


def _find_unescaped(text: str, target: str, start: int = 0) -> int:
    i = start
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text.startswith(target, i):
            return i
        i += 1
    return -1


_GIFT_META = re.compile(r"^//\s*\[(.+)\]\s*$")


def read_gift(source: bytes) -> tuple[list[tuple[int, Parsed]], list[RowError]]:
    try:
        text = source.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BankError("GIFT 文件应为 UTF-8 编码") from None
    questions, errors, category, number = [], [], "", 0
    tags: list[str] = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        lines = []
        for line in block.split("\n"):
            stripped = line.strip()
            meta = _GIFT_META.match(stripped)
            if meta:
                tags = [t.strip() for t in re.split(r"[;；]", meta.group(1)) if t.strip()]
            elif stripped.startswith("$CATEGORY:"):
                category = stripped.removeprefix("$CATEGORY:").strip()
            elif stripped and not stripped.startswith("//"):
                lines.append(line)
        body = "\n".join(lines).strip()
        if not body:
            continue
        number += 1
        area, difficulty = _meta_from_tags(tags, category)
        tags = []
        if body.startswith("::"):
            end = _find_unescaped(body, "::", 2)
            body = body[end + 2 :].strip() if end >= 0 else body
        fmt = None
        if body.startswith("["):
            fmt, _, body = body[1:].partition("]")
        open_at = _find_unescaped(body, "{")
        close_at = _find_unescaped(body, "}", open_at + 1) if open_at >= 0 else -1
        if open_at < 0 or close_at < 0:
            errors.append(RowError(number, "", "没有答案块 {…}（说明题不导入）", "题"))
            continue
        before, inside, after = body[:open_at], body[open_at + 1 : close_at], body[close_at + 1 :]
        stem_raw = before.strip() + ("____" + after.strip() if after.strip() else "")
        stem = _plain(gift_unescape(stem_raw), fmt or "moodle")
        explanation = ""
        general = _find_unescaped(inside, "####")
        if general >= 0:
            explanation = gift_unescape(inside[general + 4 :]).strip()
            inside = inside[:general]
        parsed_answer = _gift_answers(inside.strip())
        if parsed_answer is None:
            errors.append(RowError(number, "答案", "无法识别的答案块", "题"))
            continue
        qtype, options, answer_text = parsed_answer
        parsed, problems = check_question(
            qtype=qtype, stem=stem, options=options, answer_text=answer_text, area=area, difficulty=difficulty
        )
        if parsed is None:
            errors.extend(RowError(number, column, reason, "题") for column, reason in problems)
            continue
        parsed.explanation = explanation
        questions.append((number, parsed))
    return questions, errors


def _gift_answers(inside: str) -> tuple[str, list[str], str] | None:
    if re.fullmatch(r"(?i)T|TRUE|F|FALSE", inside.split("#")[0].strip()):
        return QuestionType.TRUE_FALSE, [], inside.split("#")[0].strip()
    parts = [(mark, part) for mark, part in _split_unescaped(inside, "=~") if mark]
    if not parts:
        return None
    entries = []
    for mark, part in parts:
        weight = None
        part = part.strip()
        found = re.match(r"%(-?\d+(?:\.\d+)?)%", part)
        if found:
            weight, part = float(found.group(1)), part[found.end() :]
        feedback = _find_unescaped(part, "#")
        if feedback >= 0:
            part = part[:feedback]
        entries.append((mark, weight, gift_unescape(part).strip()))
    if all(mark == "=" for mark, _, _ in entries):
        return QuestionType.FILL_BLANK, [], "|".join(text.replace("|", "/") for _, _, text in entries)
    options = [text for _, _, text in entries]
    right = [i for i, (mark, weight, _) in enumerate(entries) if mark == "=" or (weight or 0) > 0]
    if len(entries) > len(OPTION_LETTERS):
        return QuestionType.SINGLE, options, ""  # refused by check_question: more than six options
    letters = "".join(OPTION_LETTERS[i] for i in right)
    qtype = (
        QuestionType.MULTIPLE
        if any(mark == "~" and (w or 0) > 0 for mark, w, _ in entries)
        else QuestionType.SINGLE
    )
    return qtype, options, letters


def read_bank(
    source: bytes, *, file_name: str, fmt: str | None = None
) -> tuple[list[tuple[int, Parsed]], list[RowError]]:
    """The questions of a bank file (format from `fmt` or the file's suffix), and the rows it refuses."""
    if len(source) > MAX_FILE_BYTES:
        raise BankError(f"文件超过 {MAX_FILE_BYTES // 1024 // 1024} MB")
    suffix = Path(file_name).suffix.lower()
    fmt = fmt or {".xml": "moodle-xml", ".gift": "gift", ".txt": "gift"}.get(suffix, "xlsx")
    if fmt == "moodle-xml":
        questions, errors = read_moodle_xml(source)
    elif fmt == "gift":
        questions, errors = read_gift(source)
    elif fmt == "xlsx":
        questions, errors = read_excel(source, file_name=file_name)
    else:
        raise BankError(f"不支持的格式 {fmt}（可用：{'、'.join(FORMATS)}）")
    unit = "行" if fmt == "xlsx" else "题"
    first_seen: dict[str, int] = {}
    for row, parsed in questions:
        earlier = first_seen.setdefault(parsed.fingerprint, row)
        if earlier != row:
            errors.append(RowError(row, "题干", f"与第 {earlier} {unit}重复", unit))
    if not questions and not errors:
        raise BankError("文件中没有题目")
    errors.sort(key=lambda e: e.row)
    return questions, errors


@transaction.atomic
def bank_import(
    *, trade: Trade, source: bytes, file_name: str, fmt: str | None = None, actor: Any | None = None
) -> BankReport:
    """Add a file's questions to a trade's bank, all or nothing.

    Guarantees: a file with any refused row writes nothing (the report lists every refused row);
    a question already in the bank is not added again; numbers continue after the bank's last.
    """
    report = BankReport(file_name=file_name)
    questions, report.errors = read_bank(source, file_name=file_name, fmt=fmt)
    if report.errors:
        return report
    known = set(Question.objects.filter(trade=trade).values_list("fingerprint", flat=True))
    fresh = [parsed for _, parsed in questions if parsed.fingerprint not in known]
    report.already_present = len(questions) - len(fresh)
    start = (Question.objects.filter(trade=trade).aggregate(m=Max("number"))["m"] or 0) + 1
    Question.objects.bulk_create(
        Question(
            trade=trade,
            number=start + i,
            qtype=p.qtype,
            stem=p.stem,
            options=p.options,
            answer=p.answer,
            accepted=p.accepted,
            knowledge_area=p.knowledge_area,
            difficulty=p.difficulty,
            explanation=p.explanation,
            fingerprint=p.fingerprint,
        )
        for i, p in enumerate(fresh)
    )
    report.added = len(fresh)
    audit_record(
        actor=actor,
        action="contest.bank_import",
        target=trade,
        detail={"file": file_name, "added": report.added, "already_present": report.already_present},
    )
    return report


# --- writing -------------------------------------------------------------------------------------


def _answer_cell(q: Question) -> str:
    if q.qtype == QuestionType.TRUE_FALSE:
        return "对" if q.answer == "T" else "错"
    if q.qtype == QuestionType.FILL_BLANK:
        return blanks_text(q.accepted)
    return q.answer


def export_xlsx(questions: list[Question]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "题库"
    sheet.append(COLUMNS)
    for q in questions:
        options = list(q.options) + [""] * (len(OPTION_LETTERS) - len(q.options))
        sheet.append(
            [
                QTYPE_LABEL[q.qtype],
                q.stem,
                *options,
                _answer_cell(q),
                q.explanation,
                DIFFICULTY_LABEL[q.difficulty],
                q.knowledge_area,
            ]  # fmt: skip
        )
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        ET.SubElement(element, "text").text = text
    return element


def export_moodle_xml(questions: list[Question], *, trade_name: str) -> bytes:
    root = ET.Element("quiz")
    area = None
    for q in questions:
        if q.knowledge_area != area:
            area = q.knowledge_area
            category = ET.SubElement(root, "question", type="category")
            _sub(category, "category", f"$course$/{trade_name}/{area}")
        kind = {"single": "multichoice", "multiple": "multichoice", "true_false": "truefalse"}.get(q.qtype)
        if q.qtype == QuestionType.FILL_BLANK:
            kind = "shortanswer" if len(q.accepted) == 1 else "cloze"
        element = ET.SubElement(root, "question", type=kind)
        _sub(element, "name", q.stem[:40])
        stem = q.stem
        if kind == "cloze":
            for alternatives in q.accepted:
                cloze = "{1:SHORTANSWER:" + "~".join("=" + a for a in alternatives) + "}"
                stem = stem.replace("____", cloze, 1) if "____" in stem else f"{stem} {cloze}"
        _sub(element, "questiontext", stem, format="plain_text")
        _sub(element, "generalfeedback", q.explanation, format="plain_text")
        ET.SubElement(element, "defaultgrade").text = "1"
        if q.qtype in (QuestionType.SINGLE, QuestionType.MULTIPLE):
            ET.SubElement(element, "single").text = "true" if q.qtype == QuestionType.SINGLE else "false"
            ET.SubElement(element, "shuffleanswers").text = "true"
            ET.SubElement(element, "answernumbering").text = "ABCD"
            right = len(q.answer)
            for letter, option in zip(OPTION_LETTERS, q.options, strict=False):
                fraction = (100 / right if letter in q.answer else 0) if q.qtype == "multiple" else (
                    100 if letter in q.answer else 0)  # fmt: skip
                _sub(element, "answer", option, fraction=f"{fraction:.5g}", format="plain_text")
        elif q.qtype == QuestionType.TRUE_FALSE:
            _sub(element, "answer", "true", fraction="100" if q.answer == "T" else "0")
            _sub(element, "answer", "false", fraction="0" if q.answer == "T" else "100")
        elif kind == "shortanswer":
            ET.SubElement(element, "usecase").text = "0"
            for alternative in q.accepted[0]:
                _sub(element, "answer", alternative, fraction="100", format="plain_text")
        tags = ET.SubElement(element, "tags")
        _sub(tags, "tag", f"知识点:{q.knowledge_area}")
        _sub(tags, "tag", f"难度:{q.difficulty}")
    ET.indent(root)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")


def export_gift(questions: list[Question], *, trade_name: str) -> bytes:
    out, area = [], None
    for q in questions:
        if q.qtype == QuestionType.FILL_BLANK and len(q.accepted) > 1:
            raise BankError(
                f"第 {q.number} 题有 {len(q.accepted)} 个空，GIFT 格式不支持，请导出为 Moodle XML"
            )
        if q.knowledge_area != area:
            area = q.knowledge_area
            out.append(f"$CATEGORY: $course$/{trade_name}/{area}\n")
        out.append(f"// [知识点:{q.knowledge_area}; 难度:{q.difficulty}]")
        general = f" ####{gift_escape(q.explanation)}" if q.explanation else ""
        if q.qtype == QuestionType.TRUE_FALSE:
            block = ("TRUE" if q.answer == "T" else "FALSE") + general
        elif q.qtype == QuestionType.FILL_BLANK:
            block = " ".join("=" + gift_escape(a) for a in q.accepted[0]) + general
        elif q.qtype == QuestionType.SINGLE:
            block = " ".join(("=" if letter in q.answer else "~") + gift_escape(option)
                             for letter, option in zip(OPTION_LETTERS, q.options, strict=False)) + general  # fmt: skip
        else:
            share = f"{100 / len(q.answer):.5f}".rstrip("0").rstrip(".")
            wrong = f"{-100 / max(1, len(q.options) - len(q.answer)):.5f}".rstrip("0").rstrip(".")
            block = " ".join(f"~%{share if letter in q.answer else wrong}%" + gift_escape(option)
                             for letter, option in zip(OPTION_LETTERS, q.options, strict=False)) + general  # fmt: skip
        out.append(f"::{q.number}::{gift_escape(q.stem)} {{{block}}}\n")
    return "\n".join(out).encode("utf-8")


def bank_export(*, trade: Trade, fmt: str) -> bytes:
    """The trade's whole bank in `fmt` (xlsx, moodle-xml or gift), by knowledge area then number."""
    questions = list(Question.objects.filter(trade=trade).order_by("knowledge_area", "number"))
    if not questions:
        raise BankError(f"{trade.name}的题库是空的")
    if fmt == "xlsx":
        return export_xlsx(questions)
    if fmt == "moodle-xml":
        return export_moodle_xml(questions, trade_name=trade.name)
    if fmt == "gift":
        return export_gift(questions, trade_name=trade.name)
    raise BankError(f"不支持的格式 {fmt}（可用：{'、'.join(FORMATS)}）")
