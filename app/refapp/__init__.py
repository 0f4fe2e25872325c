"""Reference async Django app for the deployment pipeline (ASGI, django-ninja)."""
