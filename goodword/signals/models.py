"""What customers did and said: usage events, and the keys their products send them with."""

from __future__ import annotations

from django.db import models

from goodword.crm.models import Account


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
