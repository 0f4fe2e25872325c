"""Reads of the Docker engine's state through its HTTP API, for the local target.

A read through the CLI (``docker service ls``, ``docker service inspect``) starts a process of
its own: 30-100 ms each on a quiet host, several times that on a busy one, and a deploy makes a
hundred of them (replicas while a track rolls, labels, which slot is which). The same answer from
the engine's API over its unix socket takes a millisecond or two. Only reads go this way:
everything that changes the engine stays a ``Command`` of the executor (printed by ``--dry-run``).

The API is spoken with the standard library (``http.client`` on a unix socket, API version 1.41,
the one Debian's Docker 20.10 speaks and every later engine still accepts), not with the Docker
SDK: importing the SDK takes 0.9 s on this machine (0.64 s of it paramiko, for its ssh transport),
more than all the reads of a ``pipeline status`` through the CLI (``make bench-status``).

The API is used when the CLI's endpoint is a unix socket (the engine on this machine, as the
local kind has it); otherwise, or once a read through it fails for any reason but "no such
service", the caller reads through the CLI as before (``None`` says so). Each read is traced like
a command (``PIPELINE_TRACE``, program ``docker api``). ``PIPELINE_CLI_READS=1`` keeps every read
on the CLI and ``docker exec`` (the edge's files too: ``local_edge``), for troubleshooting and
for ``make bench-status``'s side-by-side.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import time
from typing import Any
from urllib.parse import quote, urlencode

from pipeline.commands import docker
from pipeline.commands.executor import Executor, trace_line

API_VERSION = "v1.41"


class NotFound(Exception):
    """The engine has no such object (HTTP 404)."""


class ApiError(Exception):
    """The engine answered with an error, or could not be asked."""


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


class EngineApi:
    """GET requests to the engine's API on a unix socket (a connection per request: thread-safe)."""

    def __init__(self, socket_path: str, timeout: float = 30.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout

    def get(self, path: str, query: dict[str, str] | None = None) -> Any:
        url = f"/{API_VERSION}{path}" + (f"?{urlencode(query)}" if query else "")
        connection = _UnixConnection(self.socket_path, self.timeout)
        try:
            connection.request("GET", url, headers={"Host": "docker"})
            response = connection.getresponse()
            body = response.read()
        except OSError as exc:
            raise ApiError(f"GET {url}: {exc}") from exc
        finally:
            connection.close()
        if response.status == 404:
            raise NotFound(url)
        if response.status != 200:
            raise ApiError(f"GET {url}: {response.status} {body[:200]!r}")
        return json.loads(body)

    def services(self, filters: dict[str, list[str]], status: bool) -> Any:
        return self.get("/services", {"filters": json.dumps(filters), "status": "true" if status else "false"})

    def inspect_service(self, name: str) -> Any:
        return self.get(f"/services/{quote(name, safe='')}")


class EngineEndpoint:
    """Where the CLI's engine listens, asked once (``docker context inspect``)."""

    def __init__(self, ex: Executor, fixed: str | None = None) -> None:
        """``fixed``: the endpoint as the caller knows it (an engine over SSH), never asked."""
        self.ex = ex
        self._value: str | None = fixed

    @property
    def value(self) -> str:
        if self._value is None:
            result = self.ex.run(docker.context_endpoint())
            self._value = result.stdout.strip() if result.ok else ""
        return self._value

    @property
    def here(self) -> bool:
        """The engine runs on this machine (its endpoint is a unix socket), and reads may go to it
        directly (not ``PIPELINE_CLI_READS=1``)."""
        return os.environ.get("PIPELINE_CLI_READS") != "1" and self.value.startswith("unix://")


class EngineReads:
    """Service lists and service specs through the engine's API; ``None`` when it cannot be used."""

    def __init__(self, endpoint: EngineEndpoint, api: Any = None) -> None:
        self.endpoint = endpoint
        self._api: Any = api  # an EngineApi (made on first use; a test passes its own)
        self._off = False

    @property
    def available(self) -> bool:
        return self._client() is not None

    def _client(self) -> Any:
        if self._off:
            return None
        if not self.endpoint.here:
            self._off = True
            return None
        if self._api is None:
            self._api = EngineApi(self.endpoint.value.removeprefix("unix://"))
        return self._api

    def _read(self, description: str, call: Any) -> Any:
        api = self._client()
        if api is None:
            return None
        started = time.time()
        code = 0
        try:
            return call(api)
        except NotFound:
            code = 1
            return {}
        except Exception:  # the socket went away, a changed API: fall back for the rest of this process
            code = 2
            self._off = True
            self._api = None
            return None
        finally:
            trace_line("docker api", description, started, time.time() - started, code)

    def services(self, label: str) -> dict[str, tuple[int, int]] | None:
        """``{name: (running, desired)}`` of the services with ``label`` (``key=value``), as
        ``docker service ls`` counts them (the engine's own service status)."""
        rows = self._read(f"list services {label}", lambda api: api.services(filters={"label": [label]}, status=True))
        if rows is None:
            return None
        found: dict[str, tuple[int, int]] = {}
        for row in rows or []:
            status = row.get("ServiceStatus")
            if status is None:  # an engine older than API 1.41 does not count tasks: the CLI does
                self._off = True
                return None
            found[row["Spec"]["Name"]] = (int(status.get("RunningTasks", 0)), int(status.get("DesiredTasks", 0)))
        return found

    def service(self, name: str) -> dict[str, Any] | None:
        """The service as ``docker service inspect`` shows it; ``{}`` when there is none; ``None``
        when the API cannot be used (read through the CLI)."""
        found: dict[str, Any] | None = self._read(f"read service {name}", lambda api: api.inspect_service(name))
        return found
