"""Goodword's one settings file. Everything that differs between installs comes from the
environment; see the README's Configuration section for each variable."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import django_stubs_ext

from goodword.config import (
    ConfigError,
    database_config,
    email_config,
    env_bool,
    env_int,
    env_list,
    events_config,
    secret_key,
)

django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

try:
    GOODWORD_HOME = Path(os.environ.get("GOODWORD_HOME") or BASE_DIR / "var").resolve()
    DEBUG = env_bool("DEBUG", True)
    SECRET_KEY = secret_key(GOODWORD_HOME, DEBUG)
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
    DATABASES = {"default": database_config(os.environ.get("DATABASE_URL"), GOODWORD_HOME)}
    # The event store: a DuckDB file under GOODWORD_HOME, or PostgreSQL or Spark (see config).
    EVENTS_STORE = events_config(os.environ.get("GOODWORD_EVENTS_URL"), GOODWORD_HOME)
    _email = email_config()
    LOGIN_MAX_FAILURES = env_int("LOGIN_MAX_FAILURES", 5)
    LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 900)
    SECURE_SSL = env_bool("SECURE_SSL", not DEBUG)
    # The worker scans for success moments this often (minutes); 0 turns the schedule off.
    SCAN_EVERY_MINUTES = env_int("GOODWORD_SCAN_EVERY_MINUTES", 15)
except ConfigError as exc:
    sys.stderr.write(f"goodword: configuration error: {exc}\n")
    raise SystemExit(2) from None

GOODWORD_HOME.mkdir(parents=True, exist_ok=True)
(GOODWORD_HOME / "static").mkdir(exist_ok=True)

_email_options: dict[str, object] = (
    {
        "host": _email.host,
        "port": _email.port,
        "username": _email.user,
        "password": _email.password,
        "use_tls": _email.use_tls,
        "use_ssl": _email.use_ssl,
        "timeout": 30,
    }
    if _email.backend.endswith("smtp.EmailBackend")
    else {}
)
MAILERS = {"default": {"BACKEND": _email.backend, "OPTIONS": _email_options}}
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Goodword <goodword@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# The company that runs Goodword and what it sells, as its emails and intros name them.
COMPANY_NAME = os.environ.get("GOODWORD_COMPANY_NAME", "").strip()
PRODUCT_NAME = os.environ.get("GOODWORD_PRODUCT_NAME", "").strip() or COMPANY_NAME
HOME_CURRENCY = os.environ.get("HOME_CURRENCY", "USD")
# Whom to ask for reads in-memory copies of every prospect; when one must be built afresh
# (the usage window moved on, a bulk change), the old copy serves while a thread builds the
# new one. Tests build in the request instead: a thread would outlive the test's database.
PEERS_BUILD_IN_BACKGROUND = True

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "ninja",
    "goodword.users",
    "goodword.crm",
    "goodword.jobs",
    "goodword.signals",
    "goodword.moments",
    "goodword.referrals",
    "goodword.handoffs",
    "goodword.reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "goodword.lib.middleware.LoginRequired",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "goodword.urls"
WSGI_APPLICATION = "goodword.wsgi.application"
AUTH_USER_MODEL = "users.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "my-tasks"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = GOODWORD_HOME / "static"
WHITENOISE_USE_FINDERS = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if SECURE_SSL:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
CSRF_TRUSTED_ORIGINS = (
    env_list("CSRF_TRUSTED_ORIGINS", []) if os.environ.get("CSRF_TRUSTED_ORIGINS") else []
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
