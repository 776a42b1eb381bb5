from __future__ import annotations

from django.urls import URLPattern, path

from goodword.crm import views

urlpatterns: list[URLPattern] = [
    path("", views.my_tasks, name="my-tasks"),
    path("tasks/export.csv", views.tasks_export, name="tasks-export"),
    path("tasks/<int:task_id>/", views.task_detail, name="task-detail"),
    path("tasks/<int:task_id>/edit/", views.task_edit, name="task-edit"),
    path("tasks/<int:task_id>/done/", views.task_done, name="task-done"),
    path("tasks/<int:task_id>/snooze/", views.task_snooze, name="task-snooze"),
    path(
        "tasks/<int:task_id>/not-appropriate/",
        views.task_not_appropriate,
        name="task-not-appropriate",
    ),
    path("accounts/", views.accounts_list, name="accounts"),
    path("accounts/export.csv", views.accounts_export, name="accounts-export"),
    path("accounts/<int:account_id>/", views.account_detail, name="account-detail"),
    path("accounts/<int:account_id>/edit/", views.account_edit, name="account-edit"),
    path("accounts/<int:account_id>/contacts/new/", views.contact_add, name="contact-add"),
    path("accounts/<int:account_id>/deals/new/", views.deal_add, name="deal-add"),
    path("accounts/<int:account_id>/tasks/new/", views.task_add, name="task-add"),
    path("contacts/export.csv", views.contacts_export, name="contacts-export"),
    path("deals/", views.deals_list, name="deals"),
    path("deals/board/", views.deals_board, name="deals-board"),
    path("deals/export.csv", views.deals_export, name="deals-export"),
    path("deals/<int:deal_id>/", views.deal_detail, name="deal-detail"),
    path("deals/<int:deal_id>/edit/", views.deal_edit, name="deal-edit"),
    path("deals/<int:deal_id>/move/", views.deal_move, name="deal-move"),
]
