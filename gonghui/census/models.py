"""The census (摸清底数): departmental lists and platform rosters, read row by row and resolved into people.

Personal data in a row as read (ID number, phone, and every other cell, since a department's
sheet may hold them anywhere) is kept only encrypted (`raw_cipher`); the cleaned fields the
linkage needs are keyed hashes or values already shown on screen (the last four ID digits).
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from gonghui.orgs.models import OccupationGroup, Org
from gonghui.people.models import Person
from gonghui.regions.models import Region


class SourceKind(models.TextChoices):
    MARKET_REGULATION = "market_regulation", _("market regulation")
    TAX = "tax", _("tax")
    URBAN_CONSTRUCTION = "urban_construction", _("urban construction")
    CIVIL_AFFAIRS = "civil_affairs", _("civil affairs")
    HRSS = "hrss", _("human resources and social security")
    PLATFORM = "platform", _("platform company")
    ASSOCIATION = "association", _("industry association")
    OTHER = "other", _("other")


class BatchStatus(models.TextChoices):
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")


class ImportBatch(models.Model):
    """One imported file: who, when, its sha256, the mapping used, counts, progress."""

    source_kind = models.CharField(_("source kind"), max_length=32, choices=SourceKind.choices)
    name = models.CharField(_("source name"), max_length=200, help_text=_("e.g. 美团骑手名册"))
    file_name = models.CharField(_("file name"), max_length=255)
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    sheet = models.CharField(_("sheet"), max_length=100, blank=True)
    header_row = models.PositiveIntegerField(_("header row"), default=1)
    mapping = models.JSONField(_("header mapping"), default=dict, blank=True)
    org = models.ForeignKey(
        Org,
        verbose_name=_("importing union"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("imported by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
    )
    supersedes = models.ForeignKey(
        "self",
        verbose_name=_("corrected version of"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="superseded_by",
    )
    status = models.CharField(
        _("status"), max_length=16, choices=BatchStatus.choices, default=BatchStatus.QUEUED
    )
    error = models.TextField(_("error"), blank=True)
    progress_done = models.PositiveIntegerField(_("rows processed"), default=0)
    progress_total = models.PositiveIntegerField(_("rows to process"), default=0)
    rows_total = models.PositiveIntegerField(_("rows"), default=0)
    rows_valid = models.PositiveIntegerField(_("valid rows"), default=0)
    rows_rejected = models.PositiveIntegerField(_("rejected rows"), default=0)
    people_new = models.PositiveIntegerField(_("new people"), default=0)
    people_linked = models.PositiveIntegerField(_("linked to existing people"), default=0)
    rows_review = models.PositiveIntegerField(_("sent to review"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("import batch")
        verbose_name_plural = _("import batches")

    def __str__(self) -> str:
        return f"{self.name} · {self.file_name}"


class RowStatus(models.TextChoices):
    NEW = "new", _("new person")
    LINKED = "linked", _("linked to an existing person")
    REVIEW = "review", _("sent to review")
    REJECTED = "rejected", _("rejected")


class BatchRow(models.Model):
    """One row as read, cleaned, and resolved: to a new person, an existing one, review, or rejected."""

    # No index of its own: the unique (batch, row_number) constraint's index serves look-ups by batch.
    batch = models.ForeignKey(
        ImportBatch, verbose_name=_("batch"), on_delete=models.CASCADE, related_name="rows", db_index=False
    )
    row_number = models.PositiveIntegerField(_("row"), help_text=_("as a spreadsheet shows it"))
    raw_cipher = models.TextField(_("row as read (encrypted)"), blank=True, editable=False)
    fingerprint = models.CharField(
        _("row fingerprint"), max_length=64, blank=True, help_text=_("keyed hash of the cleaned identity")
    )
    # Cleaned values for resolution and display (no plaintext ID number or phone).
    name = models.CharField(_("name"), max_length=100, blank=True)
    id_number_hash = models.CharField(_("ID number (keyed hash)"), max_length=64, blank=True)
    id_number_masked = models.CharField(_("ID number"), max_length=18, blank=True)
    id_last4 = models.CharField(_("last four ID characters"), max_length=4, blank=True)
    phone_hash = models.CharField(_("phone (keyed hash)"), max_length=64, blank=True)
    phone_masked = models.CharField(_("phone"), max_length=11, blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    sex = models.CharField(_("sex"), max_length=1, blank=True)
    employer_name = models.CharField(_("employer"), max_length=200, blank=True)
    occupation = models.CharField(_("occupation"), max_length=100, blank=True)
    address = models.CharField(_("address"), max_length=255, blank=True)
    region = models.ForeignKey(
        Region, verbose_name=_("region"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    group = models.ForeignKey(
        OccupationGroup, verbose_name=_("occupation group"), null=True, blank=True, on_delete=models.PROTECT
    )
    status = models.CharField(_("status"), max_length=16, choices=RowStatus.choices)
    person = models.ForeignKey(
        Person,
        verbose_name=_("person"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="census_rows",
    )
    match_probability = models.FloatField(_("match probability"), null=True, blank=True)
    issues = models.JSONField(
        _("issues"),
        default=list,
        blank=True,
        help_text=_("[{column, reason, severity}] for rejected or doubtful values"),
    )

    class Meta:
        ordering = ["batch", "row_number"]
        verbose_name = _("batch row")
        verbose_name_plural = _("batch rows")
        constraints = [
            models.UniqueConstraint(fields=["batch", "row_number"], name="census_row_once_per_batch")
        ]
        # Every index costs each of a million imported rows, a B-tree on a random 64-character hash
        # most (about 10 us of PostgreSQL's time a row, measured): only the indexes a query uses.
        # Rows are read by batch (the unique constraint's index), by batch and status (the batch
        # page's filter) and by person; the hashes and the fingerprint are read with their batch
        # (`_decisions`) or through the person, never looked up alone.
        indexes = [models.Index(fields=["batch", "status"], name="census_row_batch_status")]

    def __str__(self) -> str:
        return f"{self.batch_id}:{self.row_number} {self.name}"


class ReviewStatus(models.TextChoices):
    OPEN = "open", _("open")
    CONFIRMED = "confirmed", _("same person")
    REJECTED = "rejected", _("different people")


class ReviewItem(models.Model):
    """A row that may be an existing person: staff confirm (same) or reject (different)."""

    row = models.ForeignKey(BatchRow, verbose_name=_("row"), on_delete=models.CASCADE, related_name="reviews")
    candidate = models.ForeignKey(
        Person, verbose_name=_("candidate person"), on_delete=models.CASCADE, related_name="+"
    )
    match_probability = models.FloatField(_("match probability"))
    status = models.CharField(
        _("status"), max_length=16, choices=ReviewStatus.choices, default=ReviewStatus.OPEN
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["status", "-match_probability", "id"]
        verbose_name = _("review item")
        verbose_name_plural = _("review queue")
        constraints = [models.UniqueConstraint(fields=["row", "candidate"], name="census_review_once")]

    def __str__(self) -> str:
        return f"{self.row} ? {self.candidate_id} ({self.match_probability:.2f})"


class LinkDecision(models.Model):
    """A remembered decision: the row with this fingerprint is (or is not) this person.

    The fingerprint is a keyed hash of the row's cleaned identifying values, so the same row in
    a later import (or a re-import) meets the same decision instead of the queue again.
    """

    fingerprint = models.CharField(_("row fingerprint"), max_length=64)
    person = models.ForeignKey(Person, verbose_name=_("person"), on_delete=models.CASCADE, related_name="+")
    same_person = models.BooleanField(_("same person"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
    )
    decided_at = models.DateTimeField(_("decided at"), auto_now_add=True)

    class Meta:
        verbose_name = _("link decision")
        verbose_name_plural = _("link decisions")
        constraints = [models.UniqueConstraint(fields=["fingerprint", "person"], name="census_decision_once")]

    def __str__(self) -> str:
        return f"{self.fingerprint[:8]} {'=' if self.same_person else '≠'} {self.person_id}"
