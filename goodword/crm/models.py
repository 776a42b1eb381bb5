"""The customer records: accounts, contacts, deals, stages, tasks, activity."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q


class Lifecycle(models.TextChoices):
    PROSPECT = "prospect", "Prospect"
    CUSTOMER = "customer", "Customer"
    CHURNED = "churned", "Churned"


class Account(models.Model):
    """A customer or prospect company."""

    external_id = models.CharField(max_length=100, unique=True, null=True, blank=True)
    name = models.CharField(max_length=200)
    domain = models.CharField(max_length=253, blank=True, db_index=True)
    industry = models.CharField(max_length=100, blank=True)
    employees = models.PositiveIntegerField(null=True, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2")
    lifecycle = models.CharField(
        max_length=10, choices=Lifecycle.choices, default=Lifecycle.PROSPECT
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_accounts",
    )
    csm = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="csm_accounts",
    )
    customer_since = models.DateField(null=True, blank=True)
    arr = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(max_length=3, default="USD")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["name", "id"]),
            models.Index(fields=["owner", "name"]),
            models.Index(fields=["csm", "name"]),
            models.Index(fields=["lifecycle", "name"]),
            # The newest update, and the accounts updated since, for the prospects' copy
            # that whom-to-ask-for keeps (goodword.referrals.peers).
            models.Index(fields=["updated_at"]),
        ]

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    """A person at an account."""

    external_id = models.CharField(max_length=100, unique=True, null=True, blank=True)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="contacts")
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(max_length=254)
    title = models.CharField(max_length=200, blank=True)
    phone = models.CharField(max_length=16, blank=True, help_text="E.164, e.g. +14155550100")
    past_employers = models.JSONField(default=list, blank=True, help_text="company domains")
    opted_out_at = models.DateTimeField(null=True, blank=True)
    opted_out_how = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "email"], name="contact_email_per_account")
        ]
        indexes = [
            models.Index(fields=["email"]),
            # The newest update, and the people updated since, for the past employers' copy
            # that whom-to-ask-for keeps (goodword.referrals.peers).
            models.Index(fields=["updated_at"]),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def opted_out(self) -> bool:
        return self.opted_out_at is not None


class Stage(models.Model):
    """A pipeline stage with the probability that a deal in it is won."""

    name = models.CharField(max_length=100, unique=True)
    position = models.PositiveIntegerField()
    probability = models.PositiveSmallIntegerField(help_text="win probability in percent")
    is_won = models.BooleanField(default=False)
    is_lost = models.BooleanField(default=False)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(probability__lte=100), name="stage_probability_at_most_100"
            ),
            models.CheckConstraint(
                condition=~(Q(is_won=True) & Q(is_lost=True)), name="stage_not_won_and_lost"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_closed(self) -> bool:
        return self.is_won or self.is_lost


class DealKind(models.TextChoices):
    NEW = "new", "New business"
    EXPANSION = "expansion", "Expansion"
    RENEWAL = "renewal", "Renewal"


class DealSource(models.TextChoices):
    REFERRAL = "referral", "Referral"
    INBOUND = "inbound", "Inbound"
    OUTBOUND = "outbound", "Outbound"
    PARTNER = "partner", "Partner"
    EVENT = "event", "Event"
    OTHER = "other", "Other"


class Deal(models.Model):
    # A bulk import pays for every index on every row, so the deal table keeps only the
    # indexes a page or a constraint needs: account, stage and owner lead composite indexes
    # below, and external_id's uniqueness is a constraint (unique=True would add a second,
    # LIKE-pattern index on PostgreSQL that nothing queries).
    external_id = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001 - many deals have none
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="deals", db_index=False
    )
    name = models.CharField(max_length=200)
    amount = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(max_length=3, default="USD")
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="deals", db_index=False)
    kind = models.CharField(max_length=10, choices=DealKind.choices, default=DealKind.NEW)
    source = models.CharField(max_length=10, choices=DealSource.choices, default=DealSource.OTHER)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_deals",
        db_index=False,
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    close_date = models.DateField(null=True, blank=True, help_text="expected close")
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["external_id"], name="crm_deal_external_id_unique")
        ]
        indexes = [
            models.Index(fields=["owner", "stage"]),
            models.Index(fields=["account", "created_at"]),
            # The reports (goodword.reports): deals created in a period per source, the
            # referral deals whose credits the advocates report reads (joined by id), and
            # deals won in a period (a won stage, closed_at), read from these indexes alone,
            # without the table: on SQLite, which reads a table row per index entry otherwise,
            # the sources and roi reports at a million deals went from ~0.8 s to ~0.1 s per
            # query. Key columns rather than INCLUDE, which SQLite lacks.
            models.Index(
                fields=[
                    *("source", "created_at", "kind", "stage"),
                    *("currency", "amount", "closed_at", "owner", "id"),
                ],
                name="crm_deal_source_created_cover",
            ),
            models.Index(
                fields=["stage", "closed_at", "source", "currency", "amount", "owner"],
                name="crm_deal_stage_closed_cover",
            ),
            # The board: each column's newest cards (its totals come from DealTotal).
            models.Index(fields=["stage", "created_at"]),
        ]

    def __str__(self) -> str:
        return self.name


class DealTotal(models.Model):
    """Signed deltas of deal counts and amounts per board key, kept by database triggers on
    crm_deal (migration 0006), so that every write counts: services, imports, the admin,
    cascades and raw SQL alike. A key's figures are the sums of its rows; the worker folds
    each key's rows into one (`deal_totals_compact`). Deltas are appended rather than one row
    updated in place, so concurrent writers never wait on each other's counter rows.

    The table and its triggers belong to the migration (unmanaged here): a test flush that
    deletes deals then leaves it balanced instead of emptying it first."""

    stage_id = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    source = models.CharField(max_length=10)
    kind = models.CharField(max_length=10)
    closed_on = models.DateField(null=True, help_text="UTC day of closed_at")
    deals = models.BigIntegerField()
    amount = models.DecimalField(max_digits=28, decimal_places=2)

    class Meta:
        managed = False
        db_table = "crm_dealtotal"

    def __str__(self) -> str:
        return f"{self.stage_id}/{self.currency}/{self.closed_on}: {self.deals}, {self.amount}"


class DealStageChange(models.Model):
    """One move of a deal between stages; the first row of a deal has no from_stage."""

    deal = models.ForeignKey(
        Deal, on_delete=models.CASCADE, related_name="stage_changes", db_index=False
    )  # led by the (deal, changed_at) index
    # No indexes of their own on the stages and the user: they are searched only when a
    # stage or a user is deleted (rare admin work that may scan), while every deal written
    # adds a row here.
    from_stage = models.ForeignKey(
        Stage, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    to_stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+", db_index=False)
    changed_at = models.DateTimeField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )

    class Meta:
        ordering = ["changed_at", "id"]
        indexes = [models.Index(fields=["deal", "changed_at"])]

    def __str__(self) -> str:
        return f"{self.deal_id}: {self.from_stage_id} -> {self.to_stage_id} at {self.changed_at}"


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


# The outcome of a referral ask closed as not appropriate: the scan counts it as made (it
# starts the account's cooldown).
NOT_APPROPRIATE = "not appropriate"


class TaskKind(models.TextChoices):
    TODO = "todo", "To do"
    CALL = "call", "Call"
    EMAIL = "email", "Email"
    MEETING = "meeting", "Meeting"
    FOLLOW_UP = "follow_up", "Follow-up"
    REFERRAL_ASK = "referral_ask", "Referral ask"
    REFERENCE_ASK = "reference_ask", "Reference call ask"
    REVIEW_ASK = "review_ask", "Review ask"


# Every kind of ask the team records: together they spend a contact's fatigue budget.
ASK_KINDS = (TaskKind.REFERRAL_ASK, TaskKind.REFERENCE_ASK, TaskKind.REVIEW_ASK)


class Task(models.Model):
    kind = models.CharField(max_length=20, choices=TaskKind.choices, default=TaskKind.TODO)
    subject = models.CharField(max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tasks"
    )
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks"
    )
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    deal = models.ForeignKey(
        Deal, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    due_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    outcome = models.CharField(max_length=200, blank=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(
        max_length=300, blank=True, help_text="why an ask was closed as not appropriate"
    )

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            # The scan creates asks without checking first: a second open ask for an account
            # fails here, in one statement, whoever writes it.
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(kind=TaskKind.REFERRAL_ASK, status=TaskStatus.OPEN),
                name="crm_task_one_open_ask_per_account",
            )
        ]
        indexes = [
            models.Index(fields=["owner", "status", "due_at"]),
            models.Index(fields=["account", "status"]),
        ]

    def __str__(self) -> str:
        return self.subject


class Activity(models.Model):
    """One line of an account's timeline, written explicitly by the service that acted."""

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="activities", db_index=False
    )  # led by the (account, -at) index
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    verb = models.CharField(max_length=50, help_text="e.g. account.updated, deal.stage_changed")
    object_type = models.CharField(max_length=30)
    object_id = models.BigIntegerField()
    summary = models.CharField(max_length=300)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["account", "-at"])]
        verbose_name_plural = "activities"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.summary}"


class ImportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    REFUSED = "refused", "Refused (bad rows; nothing written)"
    FAILED = "failed", "Failed"


class ImportRun(models.Model):
    """A file uploaded through the API, imported by the worker; its report is kept here."""

    kind = models.CharField(max_length=20)
    filename = models.CharField(max_length=255, help_text="the name the file was uploaded as")
    path = models.CharField(max_length=500, help_text="where the upload waits for the worker")
    dry_run = models.BooleanField(default=False)
    status = models.CharField(
        max_length=10, choices=ImportStatus.choices, default=ImportStatus.QUEUED
    )
    report = models.JSONField(default=dict, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"import {self.kind} #{self.pk} ({self.status})"
