"""Staff writes on single questions of a bank: edit and retire, and the search the staff pages use.

The model keeps one row per question and no versions, and a paper is reproducible only while the
bank it was drawn from stands: `Paper.bank_through` records the last question id a paper could draw
from, `papers.paper_regenerate` draws again from exactly those rows, and scoring reads the key from
the question row at submission. So once a paper of the trade has been drawn over a question
(question id <= some paper's `bank_through`), anything that could change a candidate's paper or
score is refused: type, stem, options, key, knowledge area, difficulty, and retiring it. Only the
explanation stays editable (candidates see it after submission; it changes neither the draw nor the
score). A corrected question is then added as a new question (import or a new row), which later
papers can draw. Before any paper, an edit rewrites the row and a retired question is deleted, its
full text kept in the audit row.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from gonghui.audit.services import audit_record

from .bank import blanks_text, check_question
from .models import DIFFICULTY_ZH, OPTION_LETTERS, QTYPE_ZH, Blueprint, Paper, Question, QuestionType, Trade
from .services import ContestError

# The fields a drawn paper depends on: its draw (type, area, difficulty), what is shown, and the key.
_LOCKED_FIELDS = ("qtype", "stem", "options", "answer", "accepted", "knowledge_area", "difficulty")


def question_search(
    *, trade: Trade, qtype: str = "", area: str = "", difficulty: int | None = None, q: str = ""
) -> QuerySet[Question]:
    """The trade's questions filtered by type, knowledge area, difficulty and words in the stem."""
    found = Question.objects.filter(trade=trade).order_by("number")
    if qtype:
        found = found.filter(qtype=qtype)
    if area:
        found = found.filter(knowledge_area=area)
    if difficulty:
        found = found.filter(difficulty=difficulty)
    if q.strip():
        found = found.filter(stem__icontains=q.strip())
    return found


def question_on_papers(question: Question) -> int:
    """How many papers of the trade were drawn from a bank that includes this question."""
    return Paper.objects.filter(trade_id=question.trade_id, bank_through__gte=question.pk).count()


def answer_text(question: Question) -> str:
    """The key as a person would type it in the form (the reverse of `bank.check_question`)."""
    if question.qtype == QuestionType.TRUE_FALSE:
        return "对" if question.answer == "T" else "错"
    if question.qtype == QuestionType.FILL_BLANK:
        return blanks_text(question.accepted)
    return question.answer


def _snapshot(question: Question) -> dict:
    return {f: getattr(question, f) for f in ("number", *_LOCKED_FIELDS, "explanation")}


@transaction.atomic
def question_update(
    *,
    question: Question,
    stem: str,
    options: list[str],
    answer: str,
    knowledge_area: str,
    difficulty: int | None,
    explanation: str,
    actor: Any | None = None,
) -> Question:
    """Change one question, checked as an imported row is (the same Chinese reasons, naming the field).

    Guarantees: once a paper was drawn over the question, only the explanation may change (anything
    else raises ContestError naming the number of papers); a change that makes it a duplicate of
    another question of the bank is refused; the before and after are in the audit row.
    """
    question = Question.objects.select_for_update().get(pk=question.pk)
    parsed, problems = check_question(
        qtype=question.qtype,
        stem=stem,
        options=[o for o in options if o is not None],
        answer_text=answer,
        area=knowledge_area,
        difficulty=difficulty,
    )
    if problems:
        raise ContestError("；".join(f"「{column}」{reason}" for column, reason in problems))
    before = _snapshot(question)
    after = {
        "number": question.number,
        "qtype": question.qtype,
        "stem": parsed.stem,
        "options": parsed.options,
        "answer": parsed.answer,
        "accepted": parsed.accepted,
        "knowledge_area": parsed.knowledge_area,
        "difficulty": parsed.difficulty,
        "explanation": (explanation or "").strip(),
    }
    changed = [f for f in after if after[f] != before[f]]
    if not changed:
        return question
    drawn = question_on_papers(question)
    if drawn and any(f in _LOCKED_FIELDS for f in changed):
        raise ContestError(
            f"第 {question.number} 题已用于 {drawn} 份试卷，只能修改解析；"
            "如需更正，请作为新题导入，旧题保留以便复核试卷"
        )
    for name in changed:
        setattr(question, name, after[name])
    question.fingerprint = parsed.fingerprint
    try:
        with transaction.atomic():
            question.save()
    except IntegrityError:
        raise ContestError(f"第 {question.number} 题修改后与题库中的另一题相同") from None
    audit_record(
        actor=actor,
        action="contest.question_update",
        target=question,
        detail={"trade": question.trade_id, "changed": changed, "before": {f: before[f] for f in changed}},
    )
    return question


@transaction.atomic
def question_retire(*, question: Question, actor: Any | None = None) -> None:
    """Take a question out of the bank (deleted; its text kept in the audit row).

    Refused (ContestError) once a paper was drawn over it, and when the trade's blueprint would no
    longer find enough questions for a row (naming the row).
    """
    question = Question.objects.select_for_update().get(pk=question.pk)
    drawn = question_on_papers(question)
    if drawn:
        raise ContestError(
            f"第 {question.number} 题已用于 {drawn} 份试卷，不能停用（停用会使试卷无法按种子复核）"
        )
    blueprint = Blueprint.objects.filter(trade_id=question.trade_id).first()
    if blueprint is not None:
        for number, row in enumerate(blueprint.rows.all(), start=1):
            if (row.qtype, row.knowledge_area, row.difficulty) != (
                question.qtype,
                question.knowledge_area,
                question.difficulty,
            ):
                continue
            left = (
                Question.objects.filter(
                    trade_id=question.trade_id,
                    qtype=row.qtype,
                    knowledge_area=row.knowledge_area,
                    difficulty=row.difficulty,
                ).count()
                - 1
            )
            if left < row.count:
                raise ContestError(
                    f"停用第 {question.number} 题后，组卷方案第 {number} 行（{QTYPE_ZH[row.qtype]}/"
                    f"{row.knowledge_area}/{DIFFICULTY_ZH[row.difficulty]}）需要 {row.count} 题，只剩 {left} 题"
                )
    snapshot = _snapshot(question)
    audit_record(
        actor=actor,
        action="contest.question_retire",
        target=question,
        detail={"trade": question.trade_id, "question": snapshot},
    )
    question.delete()


def option_rows(question: Question) -> list[tuple[str, str]]:
    """(letter, text) for the six option fields of the edit form."""
    options = list(question.options) + [""] * (len(OPTION_LETTERS) - len(question.options))
    return list(zip(OPTION_LETTERS, options, strict=True))
