"""Settings of the django_drf backend: production-like (DEBUG off, no sessions or admin),
PostgreSQL through psycopg 3 with Django's own connection pool (BACKEND_DB_POOL_SIZE per
gunicorn worker process, shared by its threads)."""

import os
import secrets

BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET_KEY = os.environ.get("BACKEND_SECRET_KEY") or secrets.token_urlsafe(32)
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["django.contrib.contenttypes", "rest_framework", "api"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "drfbench.urls"
WSGI_APPLICATION = "drfbench.wsgi.application"
USE_TZ = True
TIME_ZONE = "UTC"
APPEND_SLASH = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def _password() -> str:
    path = os.environ.get("BACKEND_DB_PASSWORD_FILE")
    if not path:
        return ""
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


_POOL = int(os.environ.get("BACKEND_DB_POOL_SIZE", "10"))
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": os.environ.get("BACKEND_DB_HOST", "127.0.0.1"),
        "PORT": os.environ.get("BACKEND_DB_PORT", "5432"),
        "NAME": os.environ.get("BACKEND_DB_NAME", "benchlab_backend"),
        "USER": os.environ.get("BACKEND_DB_USER", "benchlab_backend"),
        "PASSWORD": _password(),
        "OPTIONS": {"pool": {"min_size": 1, "max_size": _POOL, "timeout": 10}},
    }
}
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
