"""JSON API under /api/ (django-ninja): notes CRUD and file-digest uploads.

The API needs no authentication; its docs (/api/docs, /api/openapi.json) need a
logged-in user. Single-note reads go through the Django cache (Redis in
production) and are invalidated on update and delete (entries also expire
after NOTE_CACHE_SECONDS); a cache outage costs speed, not availability.
Database errors answer 503.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from ninja import Field, NinjaAPI, Query, Schema, Status
from ninja.schema import DjangoGetter
from pydantic import model_validator

from refapp import flags, timing, tracing
from refapp.models import Note, Upload
from refapp.uploads import LimitExceeded, parse_uploads, request_too_large

logger = logging.getLogger("refapp.api")

api = NinjaAPI(
    title="refapp",
    version="1",
    description="Reference app of the deployment pipeline.",
    docs_decorator=login_required,
    urls_namespace="api",
)


# --- schemas -----------------------------------------------------------------
class ObjectIn(Schema):
    """A request body that must be a JSON object.

    ninja's ``Schema`` reads fields as attributes of any value, so the JSON string
    ``"hello"`` validated as a note titled ``"hello".title()``: anything but an object is a 422.
    """

    @model_validator(mode="before")
    @classmethod
    def _must_be_an_object(cls, data: Any) -> Any:
        raw = data._obj if isinstance(data, DjangoGetter) else data  # ninja wraps the value first
        if not isinstance(raw, dict):
            raise ValueError("the body must be a JSON object")
        return data


class NoteIn(ObjectIn):
    """Fields a client sends to create or replace a note."""

    title: str = Field(..., min_length=1, max_length=200)
    body: str = ""


class NoteOut(Schema):
    """A stored note."""

    id: int
    title: str
    body: str
    created_at: datetime
    updated_at: datetime


class ErrorOut(Schema):
    """An error answer."""

    error: str
    limit: str | None = None
    value: int | None = None


class NoteListItem(NoteOut):
    """A note in a list; ``excerpt`` only while the ``notes-excerpt`` flag is on."""

    excerpt: str | None = None


class ListParams(Schema):
    """Paging of GET /api/notes (default ``limit``: the ``notes-page-size`` flag)."""

    limit: int | None = Field(None, ge=1, le=200)
    offset: int = Field(0, ge=0)


class UploadOut(Schema):
    """Digest of one stored upload."""

    id: int
    field_name: str
    filename: str
    content_type: str
    size: int
    sha256: str


class UploadsOut(Schema):
    """All files of one upload request."""

    files: list[UploadOut]


# --- cache helpers (failures are logged, never raised) -------------------------
def note_cache_key(note_id: int) -> str:
    """Cache key of one note's JSON representation."""
    return f"note:{note_id}"


async def _cache_get(key: str) -> Any:
    try:
        with timing.timed("cache"), tracing.cache_span("get"):
            return await cache.aget(key)
    except Exception as exc:  # a cache outage must not break reads
        logger.warning("cache get failed", extra={"event": "cache_error", "error": repr(exc)})
        return None


async def _cache_set(key: str, value: Any) -> None:
    try:
        with timing.timed("cache"), tracing.cache_span("set"):
            await cache.aset(key, value, timeout=settings.NOTE_CACHE_SECONDS)
    except Exception as exc:
        logger.warning("cache set failed", extra={"event": "cache_error", "error": repr(exc)})


async def _cache_delete(key: str) -> None:
    try:
        with timing.timed("cache"), tracing.cache_span("delete"):
            await cache.adelete(key)
    except Exception as exc:
        logger.warning("cache delete failed", extra={"event": "cache_error", "error": repr(exc)})


def _note_dict(note: Note) -> dict[str, Any]:
    return NoteOut.model_validate(note).model_dump(mode="json")


async def _get_note(note_id: int) -> Note:
    with timing.timed("db"):
        try:
            return await Note.objects.aget(pk=note_id)
        except Note.DoesNotExist:
            raise Http404("note not found") from None


# --- notes ---------------------------------------------------------------------
@api.post("/notes", response={201: NoteOut}, tags=["notes"])
async def create_note(request: HttpRequest, payload: NoteIn) -> Status[Note]:
    """Create a note."""
    with timing.timed("db"):
        note = await Note.objects.acreate(title=payload.title, body=payload.body)
    return Status(201, note)


EXCERPT_CHARS = 80


@api.get("/notes", response=list[NoteListItem], tags=["notes"], exclude_none=True)
async def list_notes(request: HttpRequest, params: Query[ListParams]) -> list[dict[str, Any]]:
    """List notes, oldest first (with an ``excerpt`` each while the ``notes-excerpt`` flag is on)."""
    limit = params.limit or max(1, min(200, int(flags.evaluate(request, "notes-page-size"))))
    with timing.timed("db"):
        notes = [note async for note in Note.objects.all()[params.offset : params.offset + limit]]
    rows = [_note_dict(note) for note in notes]
    if flags.evaluate(request, "notes-excerpt"):
        for row in rows:
            row["excerpt"] = row["body"][:EXCERPT_CHARS]
    return rows


@api.get("/notes/{note_id}", response=NoteOut, tags=["notes"])
async def get_note(request: HttpRequest, note_id: int, response: HttpResponse) -> Any:
    """Read one note (cached; ``X-Cache: hit|miss`` tells which)."""
    key = note_cache_key(note_id)
    cached = await _cache_get(key)
    if cached is not None:
        response["X-Cache"] = "hit"
        return cached
    data = _note_dict(await _get_note(note_id))
    await _cache_set(key, data)
    response["X-Cache"] = "miss"
    return data


@api.put("/notes/{note_id}", response=NoteOut, tags=["notes"])
async def update_note(request: HttpRequest, note_id: int, payload: NoteIn) -> Note:
    """Replace a note's title and body."""
    note = await _get_note(note_id)
    note.title = payload.title
    note.body = payload.body
    with timing.timed("db"):
        await note.asave()
    await _cache_delete(note_cache_key(note_id))
    return note


@api.delete("/notes/{note_id}", response={204: None}, tags=["notes"])
async def delete_note(request: HttpRequest, note_id: int) -> Status[None]:
    """Delete a note."""
    with timing.timed("db"):
        deleted, _ = await Note.objects.filter(pk=note_id).adelete()
    await _cache_delete(note_cache_key(note_id))
    if not deleted:
        raise Http404("note not found")
    return Status(204, None)


# --- uploads -------------------------------------------------------------------
UPLOADS_RETRY_AFTER_SECONDS = 30  # while the uploads-enabled kill switch is off
_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"}}},
                }
            }
        },
    }
}


@api.post(
    "/uploads",
    response={201: UploadsOut, 400: ErrorOut, 413: ErrorOut, 503: ErrorOut},
    tags=["uploads"],
    openapi_extra=_UPLOAD_BODY,
)
async def upload_files(request: HttpRequest, response: HttpResponse) -> Status[Any]:
    """Receive multipart files; store and return each file's size and SHA-256.

    At most APP_UPLOAD_MAX_FILES files of at most APP_UPLOAD_MAX_BYTES each;
    beyond that the answer is 413. The file bytes are not kept. While the
    ``uploads-enabled`` kill switch is off the answer is 503 with ``Retry-After``,
    before the body is read.
    """
    if not flags.evaluate(request, "uploads-enabled"):
        response["Retry-After"] = str(UPLOADS_RETRY_AFTER_SECONDS)
        return Status(503, {"error": "uploads are switched off", "limit": "uploads-enabled"})
    max_bytes = int(settings.APP_UPLOAD_MAX_BYTES)
    max_files = int(settings.APP_UPLOAD_MAX_FILES)
    if not (request.content_type or "").startswith("multipart/form-data"):
        return Status(400, {"error": "expected a multipart/form-data body"})
    try:
        content_length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        content_length = 0
    if request_too_large(content_length, max_bytes, max_files):
        too_large = {"error": "request body too large", "limit": "APP_UPLOAD_MAX_BYTES"}
        return Status(413, {**too_large, "value": max_bytes})
    try:
        digests = await sync_to_async(parse_uploads)(request, max_bytes, max_files)
    except LimitExceeded as exc:
        return Status(413, {"error": str(exc), "limit": exc.limit, "value": exc.value})
    except MultiPartParserError as exc:
        return Status(400, {"error": f"malformed multipart body: {exc}"})
    if not digests:
        return Status(400, {"error": "no files in the request"})
    rows = []
    with timing.timed("db"):
        for digest in digests:
            rows.append(
                await Upload.objects.acreate(
                    field_name=digest.field_name,
                    filename=digest.filename,
                    content_type=digest.content_type,
                    size=digest.size,
                    sha256=digest.sha256,
                )
            )
    return Status(201, {"files": rows})


# --- errors --------------------------------------------------------------------
@api.exception_handler(DatabaseError)
def database_unavailable(request: HttpRequest, exc: DatabaseError) -> HttpResponse:
    """The database could not be reached or failed: 503, logged with its traceback."""
    tracing.record_exception(exc)
    logger.error(
        "database error in API",
        exc_info=exc,
        extra={"event": "database_error", "path": request.path},
    )
    return api.create_response(request, {"error": "database unavailable"}, status=503)


@api.exception_handler(Exception)
def unhandled_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    """Any unexpected exception: log it, answer JSON 500 (never a traceback)."""
    tracing.record_exception(exc)
    logger.error(
        "unhandled exception in API",
        exc_info=exc,
        extra={"event": "unhandled_exception", "path": request.path},
    )
    return api.create_response(request, {"error": "internal server error"}, status=500)
