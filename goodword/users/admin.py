"""The back office for users, teams and API keys. The e-mail address is the login, so the
user admin asks for it instead of a username. API keys are created only by the CLI, which
shows the key once; here they can be seen and revoked, never read back."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from goodword.users.models import APIKey, Team, User


class EmailUserCreationForm(UserCreationForm[User]):
    class Meta:
        model = User
        fields = ("email", "role", "team")

    def save(self, commit: bool = True) -> User:
        user = super().save(commit=False)
        user.email = user.email.strip().lower()
        user.username = user.email  # `username` mirrors the e-mail address
        if commit:
            user.save()
        return user


class EmailUserChangeForm(UserChangeForm[User]):
    class Meta:
        model = User
        fields = "__all__"

    def clean_email(self) -> str:
        return str(self.cleaned_data["email"]).strip().lower()


@admin.register(User)
class UserAdmin(DjangoUserAdmin[User]):
    form = EmailUserChangeForm
    add_form = EmailUserCreationForm
    list_display = ["email", "first_name", "last_name", "role", "team", "is_active", "is_staff"]
    list_filter = ["role", "team", "is_active", "is_staff"]
    search_fields = ["email", "first_name", "last_name"]
    ordering = ["email"]
    readonly_fields = ["last_login", "date_joined"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Person", {"fields": ("first_name", "last_name", "role", "team")}),
        ("Access", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "role", "team", "password1", "password2"),
            },
        ),
    )

    def save_model(
        self, request: HttpRequest, obj: User, form: forms.ModelForm[User], change: bool
    ) -> None:
        obj.username = obj.email
        super().save_model(request, obj, form, change)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin[Team]):
    list_display = ["name"]
    search_fields = ["name"]


@admin.action(description="Revoke the selected API keys")
def revoke_keys(modeladmin: Any, request: HttpRequest, queryset: QuerySet[APIKey]) -> None:
    queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


@admin.register(APIKey)
class APIKeyAdmin(admin.ModelAdmin[APIKey]):
    list_display = ["prefix", "name", "user", "scopes", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["prefix", "name", "user__email"]
    list_select_related = ["user"]
    # The hash is never shown; keys are made with `goodword apikey create`.
    fields = ["prefix", "name", "user", "scopes", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "name", "user", "scopes", "created_at", "last_used_at"]
    readonly_fields += ["revoked_at"]
    actions = [revoke_keys]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
