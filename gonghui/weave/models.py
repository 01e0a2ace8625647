"""The weave (交叉织网): which unions can take each person, where the net has holes, and the drive to close them.

A weave run (`WeaveRun`) applies the coverage policy in force (policies/weave_coverage.yaml) to
everyone at once, set-based, and replaces the current answer: one `Coverage` row per person (the
primary union, the rule that chose it, the reason in words, and the facts the rules read: employer,
region, group) and, once per coverage key rather than per person, the unions that can take
everyone who shares it (`CoveringUnion`: per employer for the enterprise rule, per (region, group)
for the others), whose merge is a person's overlap (`selectors.covering_of`). What changed against the previous answer is kept per run
(`CoverageChange`). `CoverageCell` holds the counts per (village-level region, group) that the
coverage matrix sums up the region tree, refreshed by each run and by membership changes.

The 揭榜 board (`BoardTask`) posts cells with many uncovered people; a lower union claims one and
creates the federation that closes it. Outreach (`OutreachAssignment`, `OutreachContact`,
`Campaign`) is the work of enrolling the people a union should take and has not.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from gonghui.orgs.models import Employer, OccupationGroup, Org
from gonghui.people.models import Person
from gonghui.regions.models import Region


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")


class CoverageRule(models.TextChoices):
    """The rules of the coverage order; the policy says in which order they are tried."""

    ENTERPRISE = "enterprise", _("own enterprise union")
    INDUSTRY = "industry", _("industry federation")
    JOINT = "joint", _("regional joint union")
    TOWNSHIP = "township", _("township / street union")
    VILLAGE = "village", _("village / community union")


class WeaveRun(models.Model):
    """One application of the coverage policy to everyone, with its counts and the policy it used."""

    status = models.CharField(_("status"), max_length=20, choices=RunStatus.choices, default=RunStatus.QUEUED)
    trigger = models.CharField(_("trigger"), max_length=40, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    policy_issuer = models.CharField(_("policy issuer"), max_length=100, blank=True)
    policy_version = models.PositiveIntegerField(_("policy version"), default=0)
    policy_effective = models.DateField(_("policy in force from"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    progress_note = models.CharField(_("progress note"), max_length=200, blank=True)
    people = models.PositiveIntegerField(_("people"), default=0)
    covered = models.PositiveIntegerField(_("covered"), default=0)
    holes = models.PositiveIntegerField(_("holes (no union)"), default=0)
    overlaps = models.PositiveIntegerField(_("overlaps (more than one union)"), default=0)
    # Covered, but only by the kinds the policy counts as the safety net (兜底: township, village).
    safety_net_only = models.PositiveIntegerField(_("covered by the safety net only"), default=0)
    gained = models.PositiveIntegerField(_("gained a union"), default=0)
    lost = models.PositiveIntegerField(_("lost their union"), default=0)
    switched = models.PositiveIntegerField(_("switched union"), default=0)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("weave run")
        verbose_name_plural = _("weave runs")

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_status_display()}"

    @property
    def changed(self) -> int:
        return self.gained + self.lost + self.switched


class Coverage(models.Model):
    """The current answer for one person: the primary union (none: a hole) and why.

    Coverage, CoveringUnion and CoverageChange are derived tables that only a weave run writes, a
    million rows or more at a time, from the people and orgs it reads in the same transaction.
    Their foreign keys have no database constraint: checking each row at commit cost more than
    the whole rest of a run on PostgreSQL. Deletes through the ORM still cascade (Django's
    collector), and indexes that the multi-column ones already give are left out.
    """

    person = models.OneToOneField(
        Person,
        verbose_name=_("person"),
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="coverage",
        db_constraint=False,
    )
    run = models.ForeignKey(
        WeaveRun,
        verbose_name=_("weave run"),
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    primary_org = models.ForeignKey(
        Org,
        verbose_name=_("primary union"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,  # weave_cov_primary
    )
    primary_rule = models.CharField(_("rule"), max_length=20, choices=CoverageRule.choices, blank=True)
    region = models.ForeignKey(
        Region,
        verbose_name=_("region counted in"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,  # weave_cov_cell (region, group)
    )
    group = models.ForeignKey(
        OccupationGroup,
        verbose_name=_("occupation group"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    # The employer the run placed the person with: with region and group, the key of their covering unions.
    # Not a fact shown: a deleted employer leaves the id until the next run rewrites the row.
    employer = models.ForeignKey(
        Employer,
        verbose_name=_("employer"),
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    n_covering = models.PositiveSmallIntegerField(_("unions covering"), default=0)
    reason = models.CharField(_("reason"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("coverage")
        verbose_name_plural = _("coverage")
        indexes = [
            models.Index(fields=["primary_org"], name="weave_cov_primary"),
            models.Index(fields=["region", "group"], name="weave_cov_cell"),
        ]

    def __str__(self) -> str:
        return f"{self.person_id} → {self.primary_org_id or '-'}"


class CoveringUnion(models.Model):
    """A union that can take everyone who shares one coverage key, by which rule, and its place in the order.

    The key is an employer (`employer` set: the enterprise rule) or a place, (region, group) with
    `employer` empty (the rules that read the region and the group). A person's covering unions are
    the rows of their employer and of their place (`Coverage.employer`, `.region`, `.group`) ordered
    by (`pos`, `rank`): the rules never take one union by two keys, so this is the policy's order,
    and the first is the primary union. Rewritten whole by each run (tens of thousands of rows
    for a million people instead of one row per person and union).
    """

    # No database constraints (see Coverage).
    employer = models.ForeignKey(
        Employer,
        verbose_name=_("employer"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    region = models.ForeignKey(
        Region,
        verbose_name=_("region counted in"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,  # weave_covering_place (region, group)
    )
    group = models.ForeignKey(
        OccupationGroup,
        verbose_name=_("occupation group"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    org = models.ForeignKey(
        Org,
        verbose_name=_("union"),
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,  # a union is deleted rarely; a run rewrites these rows every time
    )
    rule = models.CharField(_("rule"), max_length=20, choices=CoverageRule.choices)
    pos = models.PositiveSmallIntegerField(_("place of the rule in the policy's order"))
    rank = models.PositiveSmallIntegerField(_("rank within the key"))

    class Meta:
        verbose_name = _("covering union")
        verbose_name_plural = _("covering unions")
        indexes = [
            models.Index(fields=["employer"], name="weave_covering_employer"),
            models.Index(fields=["region", "group"], name="weave_covering_place"),
        ]

    def __str__(self) -> str:
        key = f"employer {self.employer_id}" if self.employer_id else f"{self.region_id} × {self.group_id}"
        return f"{key} ⊂ {self.org_id} ({self.rule})"


class ChangeKind(models.TextChoices):
    GAINED = "gained", _("gained a union")
    LOST = "lost", _("lost their union")
    SWITCHED = "switched", _("switched union")


class CoverageChange(models.Model):
    """What a run changed for one person against the answer before it."""

    # No database constraints (see Coverage); the run is indexed by (run, kind).
    run = models.ForeignKey(
        WeaveRun,
        verbose_name=_("weave run"),
        on_delete=models.CASCADE,
        related_name="changes",
        db_constraint=False,
        db_index=False,
    )
    person = models.ForeignKey(
        Person, verbose_name=_("person"), on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    kind = models.CharField(_("change"), max_length=20, choices=ChangeKind.choices)
    before_org = models.ForeignKey(
        Org,
        verbose_name=_("union before"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    after_org = models.ForeignKey(
        Org,
        verbose_name=_("union after"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )

    class Meta:
        verbose_name = _("coverage change")
        verbose_name_plural = _("coverage changes")
        indexes = [models.Index(fields=["run", "kind"], name="weave_change_run_kind")]

    def __str__(self) -> str:
        return f"#{self.run_id} {self.person_id} {self.kind}"


class CoverageCell(models.Model):
    """Counts for one (region, group) cell at the finest level people are placed at.

    The matrix for any region sums the cells whose region code starts with its prefix, so a
    page never scans people. Refreshed by each weave run and by membership changes.
    """

    region = models.ForeignKey(
        Region, verbose_name=_("region"), null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    region_code = models.CharField(_("division code"), max_length=12, blank=True, db_index=True)
    group = models.ForeignKey(
        OccupationGroup,
        verbose_name=_("occupation group"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    people = models.PositiveIntegerField(_("people counted"), default=0)
    members = models.PositiveIntegerField(_("members"), default=0)
    covered = models.PositiveIntegerField(_("covered"), default=0)
    holes = models.PositiveIntegerField(_("holes (no union)"), default=0)
    overlaps = models.PositiveIntegerField(_("overlaps (more than one union)"), default=0)
    refreshed_at = models.DateTimeField(_("refreshed at"), auto_now=True)

    class Meta:
        verbose_name = _("coverage cell")
        verbose_name_plural = _("coverage cells")
        constraints = [models.UniqueConstraint(fields=["region", "group"], name="weave_cell_region_group")]

    def __str__(self) -> str:
        return f"{self.region_code or '-'} × {self.group_id or '-'}"


class MemberWeek(models.Model):
    """Members who joined and left in one week, per (area, group): the drive's trend.

    `area_code` is the first nine, six or four digits of the code of the region the people are
    counted in (their `Coverage.region`): a township's rows, and its county's and city's as their
    sums, so the trend of a city, county or township reads only its own rows instead of scanning
    memberships; a village is small enough to read its memberships directly. Rebuilt set-based
    by `weave.matrix.cells_refresh_members()`.
    """

    area_code = models.CharField(_("area code (township prefix)"), max_length=9, blank=True)
    group = models.ForeignKey(
        OccupationGroup,
        verbose_name=_("occupation group"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    week = models.DateField(_("week (Monday)"))
    joined = models.PositiveIntegerField(_("joined"), default=0)
    left = models.PositiveIntegerField(_("left"), default=0)

    class Meta:
        verbose_name = _("members by week")
        verbose_name_plural = _("members by week")
        indexes = [models.Index(fields=["area_code", "week"], name="weave_memberweek_area_week")]

    def __str__(self) -> str:
        return f"{self.area_code or '-'} × {self.group_id or '-'} {self.week}: +{self.joined} -{self.left}"


class TaskStatus(models.TextChoices):
    OPEN = "open", _("open")
    CLAIMED = "claimed", _("claimed")
    DONE = "done", _("done")
    WITHDRAWN = "withdrawn", _("withdrawn")


class BoardTask(models.Model):
    """A 揭榜 task: a (region, group) cell with many uncovered people, posted for a lower union to claim.

    Overdue is not a status: a claimed task past its promised date is overdue until done.
    """

    region = models.ForeignKey(Region, verbose_name=_("region"), on_delete=models.PROTECT, related_name="+")
    group = models.ForeignKey(
        OccupationGroup, verbose_name=_("occupation group"), on_delete=models.PROTECT, related_name="+"
    )
    posted_by_org = models.ForeignKey(
        Org, verbose_name=_("posted by"), on_delete=models.PROTECT, related_name="posted_tasks"
    )
    uncovered_at_posting = models.PositiveIntegerField(_("uncovered when posted"), default=0)
    uncovered_now = models.PositiveIntegerField(_("uncovered now"), default=0)
    status = models.CharField(_("status"), max_length=20, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    posted_at = models.DateTimeField(_("posted at"), auto_now_add=True)
    claimed_by_org = models.ForeignKey(
        Org,
        verbose_name=_("claimed by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="claimed_tasks",
    )
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("claimed by (user)"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    promised_on = models.DateField(_("promised date"), null=True, blank=True)
    created_org = models.ForeignKey(
        Org,
        verbose_name=_("federation created"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="board_tasks",
    )
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    done_by_run = models.ForeignKey(
        WeaveRun,
        verbose_name=_("closed by run"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["-uncovered_now", "id"]
        verbose_name = _("揭榜 task")
        verbose_name_plural = _("揭榜 tasks")
        constraints = [
            # One live task per cell: a cell is posted again only after its task is done or withdrawn.
            models.UniqueConstraint(
                fields=["region", "group"],
                condition=models.Q(status__in=["open", "claimed"]),
                name="weave_task_one_live_per_cell",
            )
        ]

    def __str__(self) -> str:
        return f"{self.region_id} × {self.group_id} ({self.status})"


class OutreachStatus(models.TextChoices):
    TODO = "todo", _("to contact")
    CONTACTED = "contacted", _("contacted")
    DECLINED = "declined", _("declined")
    JOINED = "joined", _("joined")


class OutreachAssignment(models.Model):
    """A person a union should enrol, given to a colleague to contact."""

    org = models.ForeignKey(Org, verbose_name=_("union"), on_delete=models.CASCADE, related_name="outreach")
    person = models.ForeignKey(
        Person, verbose_name=_("person"), on_delete=models.CASCADE, related_name="outreach"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned to"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="outreach_assignments",
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    assigned_at = models.DateTimeField(_("assigned at"), auto_now_add=True)
    status = models.CharField(
        _("status"), max_length=20, choices=OutreachStatus.choices, default=OutreachStatus.TODO
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("outreach assignment")
        verbose_name_plural = _("outreach assignments")
        constraints = [models.UniqueConstraint(fields=["org", "person"], name="weave_outreach_org_person")]

    def __str__(self) -> str:
        return f"{self.org_id} → {self.person_id} ({self.status})"


class ContactKind(models.TextChoices):
    VISITED = "visited", _("visited")
    PHONED = "phoned", _("phoned")
    DECLINED = "declined", _("declined")
    JOINED = "joined", _("joined")


class OutreachContact(models.Model):
    """One contact with a person during outreach: who, when, how, and what came of it."""

    assignment = models.ForeignKey(
        OutreachAssignment, verbose_name=_("assignment"), on_delete=models.CASCADE, related_name="contacts"
    )
    kind = models.CharField(_("contact"), max_length=20, choices=ContactKind.choices)
    note = models.CharField(_("note / reason"), max_length=300, blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        ordering = ["-at"]
        verbose_name = _("outreach contact")
        verbose_name_plural = _("outreach contacts")

    def __str__(self) -> str:
        return f"{self.assignment_id} {self.kind}"


class Campaign(models.Model):
    """A concentrated drive (集中行动) of one union: a target of new members between two dates."""

    org = models.ForeignKey(Org, verbose_name=_("union"), on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(_("name"), max_length=200)
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"))
    target = models.PositiveIntegerField(_("target (new members)"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-starts_on"]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")

    def __str__(self) -> str:
        return self.name
