"""Django REST Framework (backends/django_drf): DRF views and serializers over the Django
ORM, Django's psycopg pool; gunicorn gthread workers."""

from __future__ import annotations

from benchlab.targets.request_response import RequestResponseTarget, http_description


class DjangoDrfTarget(RequestResponseTarget):
    name = "django_drf"
    style = "Django REST Framework: ORM, serializers, Django's psycopg pool, gunicorn gthread"
    description = http_description("Django REST Framework", style)


TARGET = DjangoDrfTarget()
