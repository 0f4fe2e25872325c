"""Read-only probes of an OCI registry (Docker Registry HTTP API v2)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

ACCEPT = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.index.v1+json",
    ]
)


def _get(url: str, timeout: float = 3.0) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Accept": ACCEPT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""
    except (urllib.error.URLError, OSError, TimeoutError):
        return 0, b""


def answers(address: str) -> bool:
    status, _ = _get(f"http://{address}/v2/")
    return status == 200


def has_tag(address: str, repository: str, tag: str) -> bool:
    status, _ = _get(f"http://{address}/v2/{repository}/manifests/{tag}")
    return status == 200


def tags(address: str, repository: str) -> list[str]:
    status, body = _get(f"http://{address}/v2/{repository}/tags/list")
    if status != 200:
        return []
    return sorted(json.loads(body).get("tags") or [])
