"""One settings module, read from the environment. Defaults run locally with nothing set (SQLite under var/)."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent
VAR_DIR = Path(os.environ.get("GONGHUI_VAR_DIR", PROJECT_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _local_secret(filename: str, make) -> str:
    """A secret from var/, created on first use, so a fresh checkout runs with nothing set."""
    path = VAR_DIR / filename
    if path.exists():
        return path.read_text().strip()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    value = make()
    path.write_text(value + "\n")
    path.chmod(0o600)
    return value


def _new_secret_key() -> str:
    from django.core.management.utils import get_random_secret_key

    return get_random_secret_key()


def _new_data_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("GONGHUI_SECRET_KEY") or _local_secret("secret_key", _new_secret_key)
# The key for personal data (ID numbers, phones). Several keys separated by commas rotate:
# the first encrypts, all decrypt. The keyed hash (HMAC) key is derived from GONGHUI_HASH_KEY
# when set, else from the first data key: pin it to the old key before rotating (see lib/crypto.py).
GONGHUI_DATA_KEY = os.environ.get("GONGHUI_DATA_KEY") or _local_secret("data_key", _new_data_key)
GONGHUI_HASH_KEY = os.environ.get("GONGHUI_HASH_KEY", "")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "http://127.0.0.1:8000,http://localhost:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    # ninja in INSTALLED_APPS makes its docs page use the bundled Swagger UI, not a CDN.
    "ninja",
    "gonghui.audit",
    "gonghui.regions",
    "gonghui.orgs",
    "gonghui.people",
    "gonghui.census",
    "gonghui.weave",
    "gonghui.membership",
    "gonghui.competitions",
    "gonghui.honours",
    "gonghui.analytics",
    "gonghui.accounts",
    "gonghui.web",
    "gonghui.api",
    "gonghui.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "gonghui.web.middleware.IdleSessionMiddleware",  # Django's, the idle expiry refreshed once a minute
    "gonghui.web.middleware.ChineseFirstLocaleMiddleware",  # Chinese unless switched; API negotiates
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # django-axes last: it locks an account after AXES_FAILURE_LIMIT failed logins.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "gonghui.urls"
WSGI_APPLICATION = "gonghui.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'gonghui.sqlite3'}",
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL lets the server read while a seed or import writes.
    DATABASES["default"].setdefault("OPTIONS", {})["init_command"] = "PRAGMA journal_mode=WAL;"
else:
    DATABASES["default"].setdefault("TEST", {})["NAME"] = os.environ.get("TEST_DATABASE_NAME") or None
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "desk"
LOGOUT_REDIRECT_URL = "login"

# Sessions end after 30 idle minutes: a request pushes the expiry forward (at most once a minute).
SESSION_COOKIE_AGE = 30 * 60
SESSION_SAVE_EVERY_REQUEST = False  # IdleSessionMiddleware refreshes the idle expiry (at most once a minute)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# django-axes: lock the account (not the address) after 5 failures.
AXES_FAILURE_LIMIT = 5
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_COOLOFF_TIME = 1  # hours
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked.html"
AXES_VERBOSE = False
# JSON for the API, the lockout page for the web; both 429.
AXES_LOCKOUT_CALLABLE = "gonghui.accounts.lockout.lockout_response"
# Lock by account only: a union office sits behind one shared address, and locking the address
# would lock every colleague out because one of them mistyped (the check warns about that choice).
SILENCED_SYSTEM_CHECKS = ["axes.W006"]

# API bearer tokens (POST /api/v1/auth/token) live this long.
GONGHUI_API_TOKEN_TTL_HOURS = int(os.environ.get("GONGHUI_API_TOKEN_TTL_HOURS", "12"))

# The public joining pages (/join/): form POSTs one address may send in ten minutes, and the
# site's public address for QR codes when it sits behind a proxy (empty: the request's host).
GONGHUI_JOIN_POSTS_PER_10_MIN = int(os.environ.get("GONGHUI_JOIN_POSTS_PER_10_MIN", "30"))
GONGHUI_PUBLIC_URL = os.environ.get("GONGHUI_PUBLIC_URL", "")

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
