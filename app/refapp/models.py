"""Database models: notes (the CRUD API) and upload digests."""

from __future__ import annotations

from datetime import datetime

from django.db import models


class Note(models.Model):
    """A short titled text, the smoke test's write-then-read object."""

    title: models.CharField[str, str] = models.CharField(max_length=200)
    body: models.TextField[str, str] = models.TextField(blank=True, default="")
    created_at: models.DateTimeField[datetime, datetime] = models.DateTimeField(auto_now_add=True)
    updated_at: models.DateTimeField[datetime, datetime] = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return self.title


class Upload(models.Model):
    """What was learnt about an uploaded file: its size and SHA-256 (not its bytes)."""

    field_name: models.CharField[str, str] = models.CharField(max_length=200)
    filename: models.CharField[str, str] = models.CharField(max_length=255)
    content_type: models.CharField[str, str] = models.CharField(max_length=255, blank=True, default="")
    size: models.BigIntegerField[int, int] = models.BigIntegerField()
    sha256: models.CharField[str, str] = models.CharField(max_length=64)
    created_at: models.DateTimeField[datetime, datetime] = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return f"{self.filename} ({self.size} bytes)"
