"""What customers did and said: usage events (and the keys products send them with), NPS
answers, support tickets, messages, and the goals they bought the product for."""

from __future__ import annotations

from django.db import models

from goodword.crm.models import Account, Contact


class WriteKey(models.Model):
    """A Segment-style write key: a product sends events with it as the HTTP Basic user name.
    Only the SHA-256 of the secret is kept; the prefix identifies it."""

    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, unique=True)
    hashed_key = models.CharField(max_length=64, unique=True)
    rate_limit = models.PositiveIntegerField(
        default=2000, help_text="events per second a web process accepts with this key"
    )
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})" if self.name else f"{self.prefix}…"


class EventType(models.TextChoices):
    TRACK = "track", "Track"
    IDENTIFY = "identify", "Identify"
    GROUP = "group", "Group"
    PAGE = "page", "Page"
    SCREEN = "screen", "Screen"


class EventState(models.TextChoices):
    PLACED = "placed", "Placed in an account"
    HELD = "held", "Waiting for its account"
    STORED = "stored", "Moved to the event store"


class Event(models.Model):
    """An accepted event as it arrived. `message_id` is the idempotency key: the unique
    constraint, not a lookup, refuses a repeat. An event whose account is not known yet is
    held and placed when its user's `group` call (or its account) arrives."""

    message_id = models.CharField(max_length=200)
    type = models.CharField(max_length=10, choices=EventType.choices)
    event = models.CharField(max_length=200, blank=True, help_text="track: the event's name")
    user_key = models.CharField(
        max_length=210, help_text='"user:" + userId, or "anon:" + anonymousId'
    )
    group_id = models.CharField(max_length=200, blank=True, help_text="the account's external id")
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    properties = models.JSONField(default=dict, help_text="properties (track) or traits")
    timestamp = models.DateTimeField(help_text="when it happened, corrected for clock skew")
    received_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=EventState.choices)

    # Rows stay here after they are moved to the event store: their message ids refuse
    # repeats for RETENTION_DAYS (services.events_forget deletes them after that).
    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message_id"], name="signals_event_message_id_unique")
        ]
        indexes = [
            models.Index(fields=["account", "timestamp"]),
            models.Index(fields=["received_at"]),
            models.Index(
                fields=["user_key"],
                condition=models.Q(state="held"),
                name="signals_event_held_user",
            ),
            models.Index(
                fields=["id"], condition=models.Q(state="placed"), name="signals_event_to_store"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.event or ''} {self.message_id}"


class Identity(models.Model):
    """A product user's latest `group` call: the account their events belong to."""

    user_key = models.CharField(max_length=210, unique=True)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    group_id = models.CharField(max_length=200)
    grouped_at = models.DateTimeField(help_text="the group call's timestamp")

    class Meta:
        verbose_name_plural = "identities"

    def __str__(self) -> str:
        return f"{self.user_key} → {self.group_id}"


class EventWeek(models.Model):
    """Events per account and ISO week (Monday, UTC), counted as events reach the event
    store, so pages can chart activity without opening the store, which one process writes."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    week = models.DateField(help_text="the Monday (UTC) the week starts")
    events = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "week"], name="signals_eventweek_unique")
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.week}: {self.events}"


class IngestLog(models.Model):
    """What one intake request (or one bulk import) did, appended without touching any shared
    row, so concurrent requests never wait on each other; the worker folds an hour's rows into
    one (services.ingest_log_compact)."""

    at = models.DateTimeField(help_text="the start of the hour")
    source = models.CharField(max_length=10, default="http")  # http or import
    received = models.PositiveIntegerField(default=0)
    stored = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    held = models.PositiveIntegerField(default=0)
    rejected = models.JSONField(default=dict, help_text="reason → events (or requests)")

    class Meta:
        indexes = [models.Index(fields=["at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H}:00 {self.source}: {self.stored} stored"


class NpsCategory(models.TextChoices):
    PROMOTER = "promoter", "Promoter"
    PASSIVE = "passive", "Passive"
    DETRACTOR = "detractor", "Detractor"


class NpsResponse(models.Model):
    """One answer to "How likely are you to recommend us?" (0 to 10)."""

    external_id = models.CharField(max_length=200, unique=True)
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="nps_responses", db_index=False
    )
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    contact_email = models.EmailField(max_length=254, blank=True)
    score = models.PositiveSmallIntegerField()
    category = models.GeneratedField(
        expression=models.Case(
            models.When(score__gte=9, then=models.Value("promoter")),
            models.When(score__gte=7, then=models.Value("passive")),
            default=models.Value("detractor"),
        ),
        output_field=models.CharField(max_length=10, choices=NpsCategory.choices),
        db_persist=True,
    )
    comment = models.TextField(blank=True)
    responded_at = models.DateTimeField()
    imported_at = models.DateTimeField()

    class Meta:
        ordering = ["-responded_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(score__lte=10), name="signals_nps_score_0_10")
        ]
        indexes = [models.Index(fields=["account", "responded_at"])]

    def __str__(self) -> str:
        return f"NPS {self.score} ({self.external_id})"


class TicketPriority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


class CsatScale(models.TextChoices):
    ONE_TO_FIVE = "1-5", "1 to 5"
    ONE_TO_TEN = "1-10", "1 to 10"
    GOOD_BAD = "good-bad", "good or bad"


class Ticket(models.Model):
    """A support ticket: when it was open, how it went, how the customer rated it (the raw
    rating, its scale and the derived 0 to 1 value) and how much its text reads as praise."""

    external_id = models.CharField(max_length=200, unique=True)
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="tickets", db_index=False
    )
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    contact_email = models.EmailField(max_length=254, blank=True)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    priority = models.CharField(
        max_length=10, choices=TicketPriority.choices, default=TicketPriority.NORMAL
    )
    escalated = models.BooleanField(default=False)
    csat_raw = models.CharField(max_length=20, blank=True, help_text="the rating as given")
    csat_scale = models.CharField(max_length=10, choices=CsatScale.choices, blank=True)
    csat = models.FloatField(null=True, blank=True, help_text="the rating from 0 to 1")
    text = models.TextField(blank=True)
    praise = models.FloatField(help_text="how much the text reads as praise, from 0 to 1")
    imported_at = models.DateTimeField()

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(csat__isnull=True) | models.Q(csat__gte=0, csat__lte=1),
                name="signals_ticket_csat_0_1",
            )
        ]
        indexes = [models.Index(fields=["account", "opened_at"])]

    def __str__(self) -> str:
        return f"ticket {self.external_id}"


class MessageChannel(models.TextChoices):
    EMAIL = "email", "Email"
    CHAT = "chat", "Chat"
    REVIEW = "review", "Review"
    CALL = "call", "Call notes"
    SOCIAL = "social", "Social"
    SURVEY = "survey", "Survey"
    OTHER = "other", "Other"


class Message(models.Model):
    """Something the customer wrote or said to us unprompted, scored for praise."""

    external_id = models.CharField(max_length=200, unique=True)
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    contact_email = models.EmailField(max_length=254, blank=True)
    received_at = models.DateTimeField()
    channel = models.CharField(max_length=10, choices=MessageChannel.choices)
    text = models.TextField()
    praise = models.FloatField(help_text="how much the text reads as praise, from 0 to 1")
    imported_at = models.DateTimeField()

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["account", "received_at"])]

    def __str__(self) -> str:
        return f"{self.channel} {self.external_id}"


class Goal(models.Model):
    """What a customer bought the product to achieve, as a measure of their events: `count`
    of `event`, or `sum:<property>` of it, reaching `target` from `starts_at`."""

    external_id = models.CharField(max_length=200, unique=True)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="goals")
    name = models.CharField(max_length=200)
    event = models.CharField(max_length=200)
    measure = models.CharField(max_length=210, default="count")
    target = models.DecimalField(max_digits=20, decimal_places=4)
    starts_at = models.DateTimeField()
    due_at = models.DateTimeField(null=True, blank=True)
    imported_at = models.DateTimeField()

    class Meta:
        ordering = ["account", "starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(target__gt=0), name="signals_goal_target_gt_0"
            )
        ]

    def __str__(self) -> str:
        return self.name
