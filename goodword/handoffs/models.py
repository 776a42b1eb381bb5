"""A won new-business deal handed to customer success: what the customer bought the product
for (goals), who is who (stakeholders), what was promised, the risks, the kickoff and a
checklist; and the admins' settings for what a handoff must hold before it is accepted."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from goodword.crm.models import Account, Contact, Deal, Task


class HandoffStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACCEPTED = "accepted", "Accepted"


class Handoff(models.Model):
    """One per won new-business deal (the unique deal is what makes creating it idempotent:
    a deal reopened and won again meets the row it already has)."""

    deal = models.OneToOneField(Deal, on_delete=models.CASCADE, related_name="handoff")
    csm = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="handoffs",
        help_text="who accepts it; none: waiting for a manager to assign",
    )
    status = models.CharField(
        max_length=10, choices=HandoffStatus.choices, default=HandoffStatus.OPEN
    )
    promised = models.TextField(blank=True, help_text="what was promised in the sale")
    risks = models.TextField(blank=True)
    kickoff_on = models.DateField(null=True, blank=True)
    # The customer who referred the deal, when it was referred (from its credit).
    advocate_account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    advocate = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    thank_task = models.ForeignKey(
        Task, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    accept_by = models.DateTimeField(help_text="5 business days after it was created")
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    welcome_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["csm", "status"]),
            # The managers' overdue list: open handoffs past their accept-by time.
            models.Index(fields=["status", "accept_by"]),
        ]

    def __str__(self) -> str:
        return f"Handoff of {self.deal}"

    @property
    def is_accepted(self) -> bool:
        return self.status == HandoffStatus.ACCEPTED


class HandoffGoal(models.Model):
    """A goal as the seller wrote it down; on acceptance it becomes a signals.Goal (`goal`),
    which the programme's `goal` rule watches."""

    handoff = models.ForeignKey(Handoff, on_delete=models.CASCADE, related_name="goals")
    name = models.CharField(max_length=200)
    event = models.CharField(max_length=200)
    measure = models.CharField(max_length=210, default="count")
    target = models.DecimalField(max_digits=20, decimal_places=4)
    due_on = models.DateField(null=True, blank=True)
    goal = models.ForeignKey(
        "signals.Goal", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["handoff", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(target__gt=0), name="handoffs_goal_target_gt_0")
        ]

    def __str__(self) -> str:
        return self.name


class StakeholderRole(models.TextChoices):
    CHAMPION = "champion", "Champion"
    ECONOMIC_BUYER = "economic_buyer", "Economic buyer"
    ADMIN = "admin", "Admin"
    USER = "user", "User"


class Stakeholder(models.Model):
    """A contact of the deal's account in one role (a person may hold several)."""

    handoff = models.ForeignKey(Handoff, on_delete=models.CASCADE, related_name="stakeholders")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=20, choices=StakeholderRole.choices)

    class Meta:
        ordering = ["handoff", "role", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["handoff", "contact", "role"], name="handoffs_stakeholder_once_per_role"
            ),
            models.UniqueConstraint(
                fields=["handoff"],
                condition=Q(role="champion"),
                name="handoffs_one_champion",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact} ({self.get_role_display()})"


class ChecklistItem(models.Model):
    handoff = models.ForeignKey(Handoff, on_delete=models.CASCADE, related_name="checklist")
    label = models.CharField(max_length=200)
    position = models.PositiveIntegerField()
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["handoff", "position", "id"]

    def __str__(self) -> str:
        return self.label

    @property
    def done(self) -> bool:
        return self.done_at is not None


class HandoffSettings(models.Model):
    """The admins' choices, one row (id 1): the fields a handoff needs before it can be
    accepted, and the checklist each new handoff starts with."""

    required = models.JSONField(default=list, blank=True, help_text="names of REQUIRABLE")
    checklist = models.JSONField(default=list, blank=True, help_text="item labels")
    updated_at = models.DateTimeField(null=True, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name_plural = "handoff settings"
        constraints = [models.CheckConstraint(condition=Q(id=1), name="handoffs_settings_single")]

    def __str__(self) -> str:
        return "Handoff settings"
