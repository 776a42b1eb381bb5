from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "goodword.users"
    label = "users"
    verbose_name = "Users and access"
