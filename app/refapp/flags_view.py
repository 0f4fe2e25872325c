"""``GET /flags``: the flags this process serves to the caller (debug and test aid, no secrets).

Shows the loaded definition's revision (``metadata.revision``, stamped by ``pipeline flags``),
how often the file was (re)loaded, the last load error, and every known flag evaluated for
the caller's user key (``X-User-Key`` / ``uid`` cookie). ``X-Flags`` carries the same digest.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from refapp import flags


async def flags_view(request: HttpRequest) -> JsonResponse:
    data = flags.snapshot(request)
    request._flags_seen = data["values"]  # type: ignore[attr-defined]
    response = JsonResponse(data)
    response["Cache-Control"] = "no-store"
    return response
