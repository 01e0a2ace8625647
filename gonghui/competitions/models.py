"""Skills competitions (职工职业技能大赛): contests, trades, question banks, papers and exam attempts.

The rules a contest's document sets (stages, quotas, weights, awards) come from a dated policy
under `policies/` (`competitions.policy`); the rows here hold what the contest was set up with.
Every write goes through `competitions.services` / `competitions.bank` / `competitions.papers` /
`competitions.exam`. One attempt per candidate per trade is a database constraint.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from gonghui.orgs.models import Employer, Org
from gonghui.people.models import Person
from gonghui.regions.models import Region


class ContestLevel(models.TextChoices):
    NATIONAL = "national", _("national")
    PROVINCE = "province", _("provincial")
    CITY = "city", _("city")
    COUNTY = "county", _("county")
    INDUSTRY = "industry", _("industry")
    ENTERPRISE = "enterprise", _("enterprise")


class EntryKind(models.TextChoices):
    INDIVIDUAL = "individual", _("individual")
    TEAM = "team", _("team")


class Contest(models.Model):
    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    organiser = models.ForeignKey(
        Org, verbose_name=_("organising union"), on_delete=models.PROTECT, related_name="contests"
    )
    co_organisers = models.ManyToManyField(
        Org, verbose_name=_("co-organising unions"), blank=True, related_name="co_organised_contests"
    )
    # Co-organisers that are not unions (a provincial human-resources department), as named in the document.
    co_organiser_names = models.CharField(_("other co-organisers"), max_length=300, blank=True)
    level = models.CharField(_("level"), max_length=20, choices=ContestLevel.choices)
    entry = models.CharField(
        _("entry"), max_length=20, choices=EntryKind.choices, default=EntryKind.INDIVIDUAL
    )
    bank_public = models.BooleanField(_("question bank public"), default=False)
    policy_file = models.CharField(_("policy file"), max_length=100, blank=True)
    policy_version = models.PositiveIntegerField(_("policy version"), null=True, blank=True)
    registration_opens = models.DateTimeField(_("registration opens"))
    registration_closes = models.DateTimeField(_("registration closes"))
    training_opens = models.DateTimeField(_("training opens"))
    training_closes = models.DateTimeField(_("training closes"))
    preliminary_opens = models.DateTimeField(_("preliminary opens"))
    preliminary_closes = models.DateTimeField(_("preliminary closes"))
    finals_start = models.DateField(_("finals start"))
    finals_end = models.DateField(_("finals end"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-preliminary_opens", "code"]
        verbose_name = _("contest")
        verbose_name_plural = _("contests")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(registration_opens__lte=models.F("registration_closes")),
                name="contest_registration_dates",
            ),
            models.CheckConstraint(
                condition=models.Q(preliminary_opens__lt=models.F("preliminary_closes")),
                name="contest_preliminary_window",
            ),
            models.CheckConstraint(
                condition=models.Q(finals_start__lte=models.F("finals_end")), name="contest_finals_dates"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class AdvancementRule(models.TextChoices):
    QUOTA = "quota", _("finalist quota")
    CUTOFF = "cutoff", _("cut-off score")


class Trade(models.Model):
    """A trade (工种) of a contest, with its own bank, blueprint and rules for the finals."""

    contest = models.ForeignKey(
        Contest, verbose_name=_("contest"), on_delete=models.CASCADE, related_name="trades"
    )
    code = models.SlugField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=100)
    advancement = models.CharField(
        _("advancement rule"), max_length=10, choices=AdvancementRule.choices, default=AdvancementRule.QUOTA
    )
    finalist_quota = models.PositiveIntegerField(_("finalist quota"), null=True, blank=True)
    finalist_cutoff = models.DecimalField(
        _("cut-off score"), max_digits=6, decimal_places=2, null=True, blank=True
    )
    theory_weight = models.DecimalField(_("theory weight"), max_digits=4, decimal_places=3)
    practical_weight = models.DecimalField(_("practical weight"), max_digits=4, decimal_places=3)
    sort = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["contest", "sort", "code"]
        verbose_name = _("trade")
        verbose_name_plural = _("trades")
        constraints = [
            models.UniqueConstraint(fields=["contest", "code"], name="trade_code_per_contest"),
            models.CheckConstraint(
                condition=(
                    models.Q(advancement="quota", finalist_quota__isnull=False)
                    | models.Q(advancement="cutoff", finalist_cutoff__isnull=False)
                ),
                name="trade_advancement_value",
            ),
            models.CheckConstraint(
                condition=models.Q(theory_weight__gte=0, practical_weight__gte=0),
                name="trade_weights_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contest.name} · {self.name}"


class QuestionType(models.TextChoices):
    SINGLE = "single", _("single choice")
    MULTIPLE = "multiple", _("multiple choice")
    TRUE_FALSE = "true_false", _("true or false")
    FILL_BLANK = "fill_blank", _("fill in the blank")


class Difficulty(models.IntegerChoices):
    EASY = 1, _("easy")
    MEDIUM = 2, _("medium")
    HARD = 3, _("hard")


OPTION_LETTERS = "ABCDEF"
# The names the Chinese templates and messages use (domain errors are in Chinese whatever the UI language).
QTYPE_ZH = {"single": "单选题", "multiple": "多选题", "true_false": "判断题", "fill_blank": "填空题"}
DIFFICULTY_ZH = {1: "易", 2: "中", 3: "难"}


class Question(models.Model):
    """One question of a trade's bank.

    `answer` is the key: option letters in order ("AC") for choice questions, "T" or "F" for
    true/false. A fill-in-the-blank question keeps `accepted`: one list of accepted answers per
    blank. `fingerprint` (type, stem, options) keeps a re-imported question from being added twice.
    """

    trade = models.ForeignKey(
        Trade, verbose_name=_("trade"), on_delete=models.CASCADE, related_name="questions"
    )
    number = models.PositiveIntegerField(_("number"))
    qtype = models.CharField(_("type"), max_length=12, choices=QuestionType.choices)
    stem = models.TextField(_("stem"))
    options = models.JSONField(_("options"), default=list, blank=True)
    answer = models.CharField(_("answer"), max_length=6, blank=True)
    accepted = models.JSONField(_("accepted answers"), default=list, blank=True)
    knowledge_area = models.CharField(_("knowledge area"), max_length=100)
    difficulty = models.PositiveSmallIntegerField(_("difficulty"), choices=Difficulty.choices)
    explanation = models.TextField(_("explanation"), blank=True)
    fingerprint = models.CharField(_("fingerprint"), max_length=64)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["trade", "number"]
        verbose_name = _("question")
        verbose_name_plural = _("questions")
        constraints = [
            models.UniqueConstraint(fields=["trade", "number"], name="question_number_per_trade"),
            models.UniqueConstraint(fields=["trade", "fingerprint"], name="question_once_per_trade"),
        ]
        indexes = [
            models.Index(fields=["trade", "qtype", "knowledge_area", "difficulty"], name="question_cell")
        ]

    def __str__(self) -> str:
        return f"{self.number}. {self.stem[:40]}"


class Blueprint(models.Model):
    """How a trade's preliminary paper is made: rows of type x knowledge area x difficulty, and the time limit."""

    trade = models.OneToOneField(
        Trade, verbose_name=_("trade"), on_delete=models.CASCADE, related_name="blueprint"
    )
    time_limit_minutes = models.PositiveIntegerField(_("time limit (minutes)"))
    # When set, a candidate's paper prefers questions the candidate has not been shown in practice.
    avoid_practised = models.BooleanField(_("prefer questions not seen in practice"), default=False)

    class Meta:
        verbose_name = _("blueprint")
        verbose_name_plural = _("blueprints")
        constraints = [
            models.CheckConstraint(condition=models.Q(time_limit_minutes__gt=0), name="blueprint_time")
        ]

    def __str__(self) -> str:
        return f"{self.trade} ({self.time_limit_minutes} min)"


class BlueprintRow(models.Model):
    blueprint = models.ForeignKey(
        Blueprint, verbose_name=_("blueprint"), on_delete=models.CASCADE, related_name="rows"
    )
    position = models.PositiveSmallIntegerField(_("position"))
    qtype = models.CharField(_("type"), max_length=12, choices=QuestionType.choices)
    knowledge_area = models.CharField(_("knowledge area"), max_length=100)
    difficulty = models.PositiveSmallIntegerField(_("difficulty"), choices=Difficulty.choices)
    count = models.PositiveIntegerField(_("questions"))
    points = models.DecimalField(_("points each"), max_digits=5, decimal_places=2)

    class Meta:
        ordering = ["blueprint", "position"]
        verbose_name = _("blueprint row")
        verbose_name_plural = _("blueprint rows")
        constraints = [
            models.UniqueConstraint(
                fields=["blueprint", "qtype", "knowledge_area", "difficulty"], name="blueprint_row_cell_once"
            ),
            models.UniqueConstraint(fields=["blueprint", "position"], name="blueprint_row_position"),
            models.CheckConstraint(
                condition=models.Q(count__gt=0, points__gt=0), name="blueprint_row_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.qtype}/{self.knowledge_area}/{self.difficulty}: {self.count} x {self.points}"


class Team(models.Model):
    """A team entered in one trade of a team contest: a name, members all from one unit, one leader.

    Each member (the leader too) is a `Registration` of the trade pointing at the team, so a member
    takes the theory preliminary like an individual; a person is registered once per trade
    (`registration_once_per_trade`), hence in one team per trade at most. Team size comes from the
    contest's policy (`policy.ContestPolicy.team_size`), checked by `teams.team_register`.
    """

    trade = models.ForeignKey(Trade, verbose_name=_("trade"), on_delete=models.PROTECT, related_name="teams")
    name = models.CharField(_("team name"), max_length=100)
    employer = models.ForeignKey(
        Employer,
        verbose_name=_("enterprise"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    enterprise_name = models.CharField(_("enterprise"), max_length=200)
    union = models.ForeignKey(
        Org, verbose_name=_("union"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("registered at"), auto_now_add=True)

    class Meta:
        ordering = ["trade", "name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        constraints = [models.UniqueConstraint(fields=["trade", "name"], name="team_name_per_trade")]

    def __str__(self) -> str:
        return self.name


class Registration(models.Model):
    """A worker entered in one trade of a contest, with the enterprise they work for and an admission ticket."""

    trade = models.ForeignKey(
        Trade, verbose_name=_("trade"), on_delete=models.PROTECT, related_name="registrations"
    )
    person = models.ForeignKey(
        Person, verbose_name=_("person"), on_delete=models.PROTECT, related_name="contest_registrations"
    )
    employer = models.ForeignKey(
        Employer,
        verbose_name=_("enterprise"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    enterprise_name = models.CharField(_("enterprise"), max_length=200)
    union = models.ForeignKey(
        Org, verbose_name=_("union"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Where the worker said they work when registering (the public page asks it of one who typed an
    # enterprise): what the statistics count by when neither the enterprise nor the union places them.
    region = models.ForeignKey(
        Region, verbose_name=_("work area"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    ticket = models.CharField(_("admission ticket number"), max_length=20, unique=True)
    # A team contest: the member's team (the registration's trade is the team's); one leader per team.
    team = models.ForeignKey(
        Team, verbose_name=_("team"), null=True, blank=True, on_delete=models.PROTECT, related_name="members"
    )
    team_leader = models.BooleanField(_("team leader"), default=False)
    # Membership as it stood at registration (None: not checked, e.g. a registration before the check).
    was_member = models.BooleanField(_("union member at registration"), null=True, blank=True)
    member_union = models.ForeignKey(
        Org,
        verbose_name=_("member of union"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("registered at"), auto_now_add=True)

    class Meta:
        ordering = ["trade", "ticket"]
        verbose_name = _("registration")
        verbose_name_plural = _("registrations")
        constraints = [
            # Also what keeps a member in one team per trade: a person has one registration per trade.
            models.UniqueConstraint(fields=["trade", "person"], name="registration_once_per_trade"),
            models.UniqueConstraint(
                fields=["team"], condition=models.Q(team_leader=True), name="registration_one_leader_per_team"
            ),
            models.CheckConstraint(
                condition=models.Q(team_leader=False) | models.Q(team__isnull=False),
                name="registration_leader_in_team",
            ),
            models.CheckConstraint(
                condition=models.Q(member_union__isnull=True) | models.Q(was_member=True),
                name="registration_member_union_if_member",
            ),
        ]

    def __str__(self) -> str:
        return self.ticket


class Paper(models.Model):
    """A candidate's preliminary paper: the questions drawn and each question's option order.

    `questions` lists the question ids by position; `orders` gives, per position, the original
    option letters in the order shown ("CADB"; "" for true/false and blanks). The points of a
    position are its blueprint row's (a blueprint cannot change once papers are drawn). All of it
    follows from `seed` and the bank and blueprint (`papers.paper_draw`), so an audit can regenerate it.
    """

    registration = models.OneToOneField(
        Registration, verbose_name=_("registration"), on_delete=models.CASCADE, related_name="paper"
    )
    trade = models.ForeignKey(Trade, verbose_name=_("trade"), on_delete=models.CASCADE, related_name="papers")
    seed = models.BigIntegerField(_("seed"))
    # The bank as it stood: only questions up to this id were drawn from (a later import changes nothing).
    bank_through = models.BigIntegerField(_("bank up to question id"))
    # With the blueprint's `avoid_practised`: the questions this candidate had seen in practice.
    avoided = models.JSONField(_("questions seen in practice"), default=list, blank=True)
    questions = models.JSONField(_("questions"))
    orders = models.JSONField(_("option orders"))
    total_points = models.DecimalField(_("total points"), max_digits=7, decimal_places=2)
    generated_at = models.DateTimeField(_("generated at"), auto_now_add=True)

    class Meta:
        ordering = ["trade", "registration"]
        verbose_name = _("paper")
        verbose_name_plural = _("papers")

    def __str__(self) -> str:
        return f"{self.registration_id} · {self.seed}"


class AttemptStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", _("in progress")
    SUBMITTED = "submitted", _("submitted")
    CLOSED = "closed", _("closed at the deadline")


class Attempt(models.Model):
    """The one attempt a candidate has at a trade's preliminary (unique per registration).

    `answers` maps a position on the paper ("0", "1", ...) to the answer as the candidate gave it
    (the letters they saw, "T"/"F", or the blanks' texts joined by "\\x1f"). Saves after `deadline`
    are refused by the server; `exam.attempts_close_overdue` scores what was saved.
    """

    registration = models.OneToOneField(
        Registration, verbose_name=_("registration"), on_delete=models.CASCADE, related_name="attempt"
    )
    paper = models.OneToOneField(
        Paper, verbose_name=_("paper"), on_delete=models.CASCADE, related_name="attempt"
    )
    status = models.CharField(
        _("status"), max_length=12, choices=AttemptStatus.choices, default=AttemptStatus.IN_PROGRESS
    )
    started_at = models.DateTimeField(_("started at"))
    deadline = models.DateTimeField(_("deadline"), db_index=True)
    answers = models.JSONField(_("answers"), default=dict)
    saves = models.PositiveIntegerField(_("saves"), default=0)
    last_saved_at = models.DateTimeField(_("last saved at"), null=True, blank=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    score = models.DecimalField(_("score"), max_digits=7, decimal_places=2, null=True, blank=True)
    correct = models.PositiveIntegerField(_("correct answers"), null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("attempt")
        verbose_name_plural = _("attempts")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="in_progress", submitted_at__isnull=True)
                | models.Q(~models.Q(status="in_progress"), submitted_at__isnull=False, score__isnull=False),
                name="attempt_finished_has_score",
            ),
        ]
        indexes = [models.Index(fields=["status", "deadline"], name="attempt_open_deadline")]

    def __str__(self) -> str:
        return f"{self.registration_id} {self.status}"


class PracticeSession(models.Model):
    """One practice session of a worker in a trade; the questions shown are kept for `avoid_practised`."""

    trade = models.ForeignKey(
        Trade, verbose_name=_("trade"), on_delete=models.CASCADE, related_name="practice"
    )
    registration = models.ForeignKey(
        Registration,
        verbose_name=_("registration"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="practice",
    )
    shown = models.JSONField(_("questions shown"), default=list)
    started_at = models.DateTimeField(_("started at"), auto_now_add=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("practice session")
        verbose_name_plural = _("practice sessions")

    def __str__(self) -> str:
        return f"{self.trade_id} {self.started_at:%Y-%m-%d %H:%M}"


class TradeJudge(models.Model):
    """A staff user assigned to judge a trade's finals: they see and score that trade's finalists only."""

    trade = models.ForeignKey(Trade, verbose_name=_("trade"), on_delete=models.CASCADE, related_name="judges")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="contest_judging",
    )
    name = models.CharField(_("judge"), max_length=100)
    assigned_at = models.DateTimeField(_("assigned at"), auto_now_add=True)

    class Meta:
        ordering = ["trade", "name"]
        verbose_name = _("judge")
        verbose_name_plural = _("judges")
        constraints = [
            models.UniqueConstraint(fields=["trade", "user"], name="trade_judge_once"),
            models.UniqueConstraint(fields=["trade", "name"], name="trade_judge_name_once"),
        ]

    def __str__(self) -> str:
        return f"{self.trade_id} {self.name}"


class JudgeScore(models.Model):
    """One judge's practical score sheet for one finalist (or one team) at the finals; every sheet is kept.

    `criteria` holds the points per criterion code of the trade's score sheet (from the policy) and
    `score` is their sum; a score entered without a sheet (the old CLI form) has empty `criteria`.
    Exactly one of `registration` (individual entry) and `team` (team entry) is set.
    """

    registration = models.ForeignKey(
        Registration,
        verbose_name=_("registration"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="judge_scores",
    )
    team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="judge_scores",
    )
    judge = models.CharField(_("judge"), max_length=100)
    judge_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("judge's account"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    criteria = models.JSONField(_("points by criterion"), default=dict, blank=True)
    score = models.DecimalField(_("score"), max_digits=5, decimal_places=2)
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["registration", "team", "judge"]
        verbose_name = _("judge's score")
        verbose_name_plural = _("judges' scores")
        constraints = [
            models.UniqueConstraint(fields=["registration", "judge"], name="judge_score_once"),
            models.UniqueConstraint(fields=["team", "judge"], name="judge_score_once_per_team"),
            models.CheckConstraint(
                condition=models.Q(score__gte=0, score__lte=100), name="judge_score_range"
            ),
            models.CheckConstraint(
                condition=models.Q(registration__isnull=False, team__isnull=True)
                | models.Q(registration__isnull=True, team__isnull=False),
                name="judge_score_one_entry",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.registration_id or self.team_id} {self.judge} {self.score}"


class TechnicalDocument(models.Model):
    """A technical document (技术文件) of a trade, uploaded by staff; public once published.

    The file is stored under the var directory with a generated name (`stored_name`, never the
    uploader's name); `sha256` is the content's digest, shown so a download can be checked.
    """

    trade = models.ForeignKey(
        Trade, verbose_name=_("trade"), on_delete=models.CASCADE, related_name="documents"
    )
    title = models.CharField(_("title"), max_length=200)
    original_name = models.CharField(_("file name"), max_length=200)
    stored_name = models.CharField(_("stored as"), max_length=200, unique=True)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveIntegerField(_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    published = models.BooleanField(_("published"), default=False)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        ordering = ["trade", "-uploaded_at"]
        verbose_name = _("technical document")
        verbose_name_plural = _("technical documents")
        constraints = [
            models.UniqueConstraint(fields=["trade", "sha256"], name="technical_document_once_per_trade"),
            models.CheckConstraint(
                condition=models.Q(published=False) | models.Q(published_at__isnull=False),
                name="technical_document_published_at",
            ),
        ]

    def __str__(self) -> str:
        return self.title
