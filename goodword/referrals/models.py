"""Turning success moments into consented, attributed introductions: the introductions and
their history, the links sent to people outside the company, the consents they gave, the
addresses that must never be written to again, and the credit advocates get for deals."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from goodword.crm.models import Account, Contact, Deal, Task
from goodword.engine.intros import LABELS, IntroEvent, IntroState

STATE_CHOICES = [(state.value, LABELS[state]) for state in IntroState]
# A step's event: the state machine's events, and two that change no state: the start of
# an introduction and the worker's reminder.
START, REMIND = "start", "remind"
EVENT_CHOICES = [
    (START, "start"),
    *[(event.value, event.value.replace("_", " ")) for event in IntroEvent],
    (REMIND, "remind"),
]


class ConsentChannel(models.TextChoices):
    GOODWORD = "goodword", "Sent by Goodword in the advocate's name"
    FORWARDED = "forwarded", "Link forwarded by the advocate"
    IN_PERSON = "in_person", "Given in person (logged by the owner)"


class Introduction(models.Model):
    """One double opt-in introduction: an advocate at a customer agreed to introduce someone
    they know; that person is introduced to the owner only after accepting. `state` changes
    only through services.intro_apply, by a conditional UPDATE on the state it was read in."""

    state = models.CharField(max_length=20, choices=STATE_CHOICES)
    ask = models.ForeignKey(
        Task, null=True, blank=True, on_delete=models.SET_NULL, related_name="introductions"
    )
    advocate_account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="introductions_made"
    )
    advocate = models.ForeignKey(
        Contact, null=True, on_delete=models.SET_NULL, related_name="introductions_made"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="introductions",
        help_text="who the person is introduced to (the ask's owner)",
    )
    person_name = models.CharField(max_length=200, blank=True)
    person_email = models.EmailField(max_length=254, blank=True)
    person_company = models.CharField(max_length=200, blank=True)
    person_title = models.CharField(max_length=200, blank=True)
    why = models.CharField(max_length=500, blank=True, help_text="why now, in the owner's words")
    blurb = models.TextField(blank=True, help_text="the forwardable intro, as the advocate left it")
    channel = models.CharField(max_length=10, choices=ConsentChannel.choices, blank=True)
    notes = models.TextField(blank=True)
    waiting_since = models.DateTimeField(help_text="when the current wait began")
    reminded_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(
        null=True, blank=True, help_text="when the worker next owes it a reminder or expiry"
    )
    person_contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="introductions"
    )
    deal = models.ForeignKey(
        Deal, null=True, blank=True, on_delete=models.SET_NULL, related_name="introductions"
    )
    flag = models.CharField(
        max_length=300, blank=True, help_text="why no deal was created (for the owner to act)"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["state", "updated_at"]),
            models.Index(fields=["owner", "state"]),
            models.Index(fields=["advocate_account", "created_at"]),
            models.Index(
                fields=["due_at"], name="referrals_intro_due", condition=Q(due_at__isnull=False)
            ),
            models.Index(fields=["person_email"]),
        ]

    def __str__(self) -> str:
        return f"introduction #{self.pk} ({self.state})"

    @property
    def label(self) -> str:
        return LABELS[IntroState(self.state)]


class IntroductionStep(models.Model):
    """One transition of an introduction, for its history and the funnel's times."""

    introduction = models.ForeignKey(Introduction, on_delete=models.CASCADE, related_name="steps")
    event = models.CharField(max_length=20, choices=EVENT_CHOICES)
    from_state = models.CharField(max_length=20, choices=STATE_CHOICES, blank=True)
    to_state = models.CharField(max_length=20, choices=STATE_CHOICES)
    by = models.CharField(max_length=20, help_text="owner, advocate, contact or worker")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.introduction_id}: {self.from_state} -{self.event}-> {self.to_state}"


class LinkPurpose(models.TextChoices):
    ADVOCATE = "advocate", "Advocate names the person"
    CONSENT = "consent", "Person accepts or declines"
    UNSUBSCRIBE = "unsubscribe", "Never contact me again"


class IntroLink(models.Model):
    """A link sent to someone outside the company: only the SHA-256 of its random key is
    kept. Bound to one introduction, one address and one purpose; expires; used once."""

    introduction = models.ForeignKey(Introduction, on_delete=models.CASCADE, related_name="links")
    purpose = models.CharField(max_length=12, choices=LinkPurpose.choices)
    email = models.EmailField(max_length=254)
    hashed_key = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.purpose} link for introduction #{self.introduction_id}"


class ConsentDecision(models.TextChoices):
    ACCEPTED = "accepted", "Accepted the introduction"
    DECLINED = "declined", "Declined the introduction"
    SUPPRESSED = "suppressed", "Asked never to be contacted again"


class Consent(models.Model):
    """A person's answer, kept as proof under GDPR: who, when, the very text they were
    shown, through which channel and for which purpose. Never updated or deleted by
    Goodword; a later answer is a new row."""

    introduction = models.ForeignKey(
        Introduction, null=True, blank=True, on_delete=models.SET_NULL, related_name="consents"
    )
    email = models.EmailField(max_length=254)
    name = models.CharField(max_length=200, blank=True)
    decision = models.CharField(max_length=12, choices=ConsentDecision.choices)
    purpose = models.CharField(max_length=300)
    text_shown = models.TextField()
    channel = models.CharField(max_length=10, choices=ConsentChannel.choices)
    link = models.ForeignKey(
        IntroLink, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="the user who logged a consent given in person",
    )
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["email", "at"])]

    def __str__(self) -> str:
        return f"{self.email} {self.decision} at {self.at:%Y-%m-%d %H:%M}"


class Suppression(models.Model):
    """An address that asked never to be contacted again: no email goes to it, and no
    introduction can name it."""

    email = models.EmailField(max_length=254, unique=True, help_text="lower case")
    reason = models.CharField(max_length=300)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return self.email


class DealCredit(models.Model):
    """The share of a referred deal credited to one advocate (contact and account). A
    referred deal's shares sum to 100; services.credits_set keeps them so."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="credits")
    advocate_account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="credits_earned"
    )
    advocate = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="credits_earned"
    )
    share = models.DecimalField(max_digits=5, decimal_places=2, help_text="percent")
    introduction = models.ForeignKey(
        Introduction, null=True, blank=True, on_delete=models.SET_NULL, related_name="credits"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["deal", "-share", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(share__gt=Decimal("0")) & Q(share__lte=Decimal("100")),
                name="referrals_credit_share_range",
            ),
            # One row per advocate, or per advocate account when no contact is named.
            models.UniqueConstraint(
                fields=["deal", "advocate"],
                condition=Q(advocate__isnull=False),
                name="referrals_credit_once_per_advocate",
            ),
            models.UniqueConstraint(
                fields=["deal", "advocate_account"],
                condition=Q(advocate__isnull=True),
                name="referrals_credit_once_per_account",
            ),
        ]
        indexes = [
            models.Index(fields=["advocate_account", "deal"]),
            # The credits of split deals (a deal of one credit has all of it): where the
            # advocates report looks for a deal two contacts of one account share.
            models.Index(
                fields=["deal", "advocate_account"],
                condition=Q(share__lt=Decimal("100")),
                name="referrals_credit_split",
            ),
        ]

    def __str__(self) -> str:
        return f"deal #{self.deal_id}: {self.share}% to account #{self.advocate_account_id}"


class CreditChange(models.Model):
    """A manager's override of a deal's credit, with the reason (the audit trail)."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="credit_changes")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=300)
    before = models.JSONField(default=list)
    after = models.JSONField(default=list)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"credit of deal #{self.deal_id} changed at {self.at:%Y-%m-%d %H:%M}"


class TemplateKind(models.TextChoices):
    BLURB = "blurb", "Forwardable blurb"
    EMAIL = "email", "Email introduction"
    LINKEDIN = "linkedin", "LinkedIn message"
    ASK_EMAIL = "ask_email", "Ask sent by email"


class IntroTemplate(models.Model):
    """An admin's wording of one kind of text; a kind without a row uses Goodword's own
    (engine/templates.py DEFAULTS)."""

    kind = models.CharField(max_length=10, choices=TemplateKind.choices, unique=True)
    subject = models.CharField(max_length=200, blank=True, help_text="emails only")
    body = models.TextField()
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["kind"]

    def __str__(self) -> str:
        return self.get_kind_display()


class RewardTrigger(models.TextChoices):
    ACCEPTED = "accepted", "Introduction accepted"
    OPPORTUNITY = "opportunity", "Opportunity created"
    WON = "won", "Deal won"


class RewardKind(models.TextChoices):
    GIFT_CARD = "gift_card", "Gift card"
    ACCOUNT_CREDIT = "account_credit", "Account credit"
    DONATION = "donation", "Donation"
    SWAG = "swag", "Swag"
    THANK_YOU = "thank_you", "Thank-you note"


class RewardRule(models.Model):
    """What an advocate earns, and when: a reward is created when the trigger happens and
    waits `hold_days` before it can be approved."""

    name = models.CharField(max_length=100)
    trigger = models.CharField(max_length=12, choices=RewardTrigger.choices)
    kind = models.CharField(max_length=15, choices=RewardKind.choices)
    value = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(max_length=3, default="USD")
    hold_days = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["trigger", "name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(value__gte=Decimal("0")), name="referrals_reward_rule_value_positive"
            )
        ]

    def __str__(self) -> str:
        return self.name


class RewardStatus(models.TextChoices):
    HELD = "held", "Held"  # waiting out the rule's hold days
    PENDING = "pending", "Waiting for approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    FULFILLED = "fulfilled", "Fulfilled"
    INELIGIBLE = "ineligible", "Not eligible"  # a manager may still override


class Reward(models.Model):
    """One reward an advocate earned by one rule for one introduction."""

    rule = models.ForeignKey(RewardRule, on_delete=models.PROTECT, related_name="rewards")
    introduction = models.ForeignKey(Introduction, on_delete=models.CASCADE, related_name="rewards")
    deal = models.ForeignKey(
        Deal, null=True, blank=True, on_delete=models.SET_NULL, related_name="rewards"
    )
    advocate_account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="rewards")
    advocate = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="rewards"
    )
    kind = models.CharField(max_length=15, choices=RewardKind.choices)
    value = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=10, choices=RewardStatus.choices)
    ineligible_because = models.CharField(max_length=300, blank=True)
    available_at = models.DateTimeField(help_text="when the hold ends")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=300, blank=True)
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    fulfilment_note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "introduction"], name="referrals_reward_once_per_rule"
            )
        ]
        indexes = [
            models.Index(fields=["status", "available_at"]),
            models.Index(fields=["advocate_account", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.value} {self.currency} ({self.status})"
