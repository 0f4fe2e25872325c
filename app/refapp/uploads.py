"""Streaming multipart handling: hash each uploaded file, keep no bytes, enforce limits."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest

#: Allowance for multipart boundaries and part headers, per file and per request.
PART_OVERHEAD_BYTES = 16 * 1024
REQUEST_OVERHEAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class FileDigest:
    """Size and SHA-256 of one uploaded file."""

    field_name: str
    filename: str
    content_type: str
    size: int
    sha256: str


class LimitExceeded(Exception):
    """An upload limit was hit; ``str(exc)`` explains which one."""

    def __init__(self, message: str, limit: str, value: int) -> None:
        super().__init__(message)
        self.limit = limit
        self.value = value


class DigestUploadHandler(FileUploadHandler):
    """Django upload handler that hashes files as they stream in and discards the bytes.

    It is the only handler on the request, so ``request.FILES`` stays empty and the
    results are in :attr:`digests`. When a limit is exceeded it stops parsing and
    records the problem in :attr:`error`.
    """

    def __init__(self, request: HttpRequest, max_bytes: int, max_files: int) -> None:
        super().__init__(request)
        self.max_bytes = max_bytes
        self.max_files = max_files
        self.digests: list[FileDigest] = []
        self.error: LimitExceeded | None = None
        self._hash = hashlib.sha256()
        self._size = 0

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        """Start a new file, refusing one more than ``max_files``."""
        super().new_file(*args, **kwargs)
        if len(self.digests) >= self.max_files:
            self._stop(
                f"too many files: at most {self.max_files} per request",
                "APP_UPLOAD_MAX_FILES",
                self.max_files,
            )
        self._hash = hashlib.sha256()
        self._size = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        """Hash a chunk; stop as soon as the file grows past ``max_bytes``."""
        self._size += len(raw_data)
        if self._size > self.max_bytes:
            self._stop(
                f"file {self.file_name!r} is larger than {self.max_bytes} bytes",
                "APP_UPLOAD_MAX_BYTES",
                self.max_bytes,
            )
        self._hash.update(raw_data)
        # Returning None hands the chunk to no further handler: nothing is stored.

    def file_complete(self, file_size: int) -> None:
        """Record the finished file's digest (no file object is kept)."""
        self.digests.append(
            FileDigest(
                field_name=str(self.field_name),
                filename=str(self.file_name or ""),
                content_type=str(self.content_type or ""),
                size=self._size,
                sha256=self._hash.hexdigest(),
            )
        )

    def _stop(self, message: str, limit: str, value: int) -> None:
        self.error = LimitExceeded(message, limit, value)
        raise StopUpload(connection_reset=False)


def allowed_request_bytes(max_bytes: int, max_files: int) -> int:
    """The largest multipart body that can fit within the limits (checked by ``refapp.body_limit``)."""
    return max_files * (max_bytes + PART_OVERHEAD_BYTES) + REQUEST_OVERHEAD_BYTES


def request_too_large(content_length: int, max_bytes: int, max_files: int) -> bool:
    """Cheap pre-check: can this body not possibly fit within the limits?"""
    return content_length > allowed_request_bytes(max_bytes, max_files)


def parse_uploads(request: HttpRequest, max_bytes: int, max_files: int) -> list[FileDigest]:
    """Parse the multipart body of ``request`` (blocking; call via ``sync_to_async``).

    Raises :class:`LimitExceeded` when a limit is hit.
    """
    handler = DigestUploadHandler(request, max_bytes, max_files)
    request.upload_handlers = [handler]
    request.POST  # noqa: B018 - accessing it parses the body through the handler
    if handler.error is not None:
        raise handler.error
    return handler.digests
