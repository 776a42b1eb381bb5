"""The back office for the customer records. Timeline rows and stage history are the record
of what happened, so they are read-only here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from goodword.crm.models import Account, Activity, Contact, Deal, DealStageChange, Stage, Task


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin[Account]):
    list_display = ["name", "domain", "lifecycle", "owner", "csm", "country", "arr", "currency"]
    list_filter = ["lifecycle", "country", "industry"]
    search_fields = ["name", "domain", "external_id"]
    list_select_related = ["owner", "csm"]
    raw_id_fields = ["owner", "csm"]
    readonly_fields = ["created_at", "updated_at"]
    show_full_result_count = False


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin[Contact]):
    list_display = ["email", "first_name", "last_name", "title", "account", "opted_out_at"]
    search_fields = ["email", "first_name", "last_name", "external_id"]
    list_select_related = ["account"]
    raw_id_fields = ["account"]
    readonly_fields = ["created_at", "updated_at"]
    show_full_result_count = False


@admin.register(Stage)
class StageAdmin(admin.ModelAdmin[Stage]):
    list_display = ["name", "position", "probability", "is_won", "is_lost"]
    list_editable = ["position", "probability"]
    ordering = ["position", "id"]


class DealStageChangeInline(admin.TabularInline[DealStageChange, Deal]):
    model = DealStageChange
    fields = ["changed_at", "from_stage", "to_stage", "changed_by"]
    readonly_fields = ["changed_at", "from_stage", "to_stage", "changed_by"]
    extra = 0
    can_delete = False
    ordering = ["changed_at", "id"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Deal)
class DealAdmin(admin.ModelAdmin[Deal]):
    list_display = ["name", "account", "stage", "amount", "currency", "kind", "source", "owner"]
    list_filter = ["stage", "kind", "source"]
    search_fields = ["name", "external_id", "account__name"]
    list_select_related = ["account", "stage", "owner"]
    raw_id_fields = ["account", "owner"]
    readonly_fields = ["created_at", "updated_at", "closed_at"]
    inlines = [DealStageChangeInline]
    show_full_result_count = False


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin[Task]):
    list_display = ["subject", "kind", "owner", "account", "due_at", "status"]
    list_filter = ["status", "kind"]
    search_fields = ["subject"]
    list_select_related = ["owner", "account"]
    raw_id_fields = ["owner", "account", "contact", "deal"]
    readonly_fields = ["created_at", "completed_at"]
    show_full_result_count = False


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin[Activity]):
    list_display = ["at", "account", "actor", "verb", "summary"]
    list_filter = ["verb", "object_type"]
    search_fields = ["summary"]
    list_select_related = ["account", "actor"]
    readonly_fields = [f.name for f in Activity._meta.fields]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
