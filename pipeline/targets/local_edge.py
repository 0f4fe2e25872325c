"""Operations on the local edge container: weights, the lease, operator commands, the log.

All of it lives in the edge's config volume, so it is read back from the target by
any machine: ``split.conf`` (the weights), ``lease`` (until when somebody watches a
split), ``command`` (an operator's ``promote`` or ``abort`` for the running controller).

Where the Docker engine runs on this machine (its endpoint is a unix socket) and its volumes'
directories are open to this user, those files and the access log are read and written there,
by a shell on this machine: a few milliseconds, where a ``docker exec`` into the edge costs a
tenth of a second on a quiet host and several on a busy one (the controller reads the log at
every tick; an operator's rollback is a command written, then read). Otherwise, and for every
change of nginx's configuration (``edge-apply`` tests it and reloads nginx), through
``docker exec``. Either way each is a ``Command`` of the executor: shown by ``--dry-run``,
timed by ``PIPELINE_TRACE``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import time
from collections.abc import Callable, Sequence
from pathlib import PurePosixPath
from typing import Protocol

from pipeline import edge
from pipeline.analysis.source import LogTruncated, LogUnreadable
from pipeline.commands import Command, docker
from pipeline.commands.executor import Executor
from pipeline.edge import FRESH_SLOTS, LEGACY_SLOTS, Slots, Weights
from pipeline.environment import Environment
from pipeline.errors import CommandFailed, NotReady
from pipeline.observability.logs import LogFeed, LogForm, feed_of
from pipeline.targets.engine_reads import EngineEndpoint

COMMANDS = ("promote", "abort", "rollback")
LOG_DIR = str(PurePosixPath(edge.LOG_PATH).parent)
LOG_FILE = PurePosixPath(edge.LOG_PATH).name
Script = Callable[[str, str], str]  # (config directory, log directory) -> a shell script


def slots_in(split: str) -> Slots:
    """The slots of a split.conf: as written; an edge from before slots routes by the tracks' own
    names (``LEGACY_SLOTS``); an empty file is a fresh edge."""
    found = edge.parse_slots(split)
    if found is not None:
        return found
    return LEGACY_SLOTS if split.strip() else FRESH_SLOTS


class EdgeFiles(Protocol):
    """What a target asks of its edge: the split, the lease, the operator's command, the request log
    (``LocalEdge``: one edge container; the swarm kind's ``EdgeSet``: one per edge node)."""

    def set_weights(self, weights: Weights, lease_until: float | None, slots: Slots) -> None: ...

    def split_text(self) -> str | None: ...

    def weights(self) -> Weights | None: ...

    def renew_lease(self, until: float | None) -> None: ...

    def lease(self) -> float | str | None: ...

    def send_command(self, command: str) -> None: ...

    def take_command(self) -> str | None: ...

    def clear_command(self) -> None: ...

    def running(self) -> bool: ...

    def log_reader(self) -> Callable[[int], bytes]: ...

    def log_size(self) -> int: ...

    def own_log(self, window: Sequence[str]) -> tuple[Command, LogForm]:
        """The command that reads nginx's own lines (its errors, on stderr) with their times, run by
        the target's engine, and how they are written."""
        ...

    def access_logs(self, lines: int) -> list[LogFeed]:
        """The last ``lines`` of each replica's access log."""
        ...


class LocalEdge:
    def __init__(
        self,
        env: Environment,
        ex: Executor,
        name: str,
        volumes: tuple[str, str] | None = None,
        endpoint: EngineEndpoint | None = None,
    ) -> None:
        self.env = env
        self.ex = ex
        self.name = name
        self.endpoint = endpoint or EngineEndpoint(ex)
        self.volumes = volumes  # the config and log volumes' names (None: always through docker exec)
        self._dirs: tuple[str, str] | None = None  # their directories on this machine, once found
        self._remote = volumes is None  # the engine is elsewhere (or its volumes are closed to us)
        self._seen_command: str | None = None  # picked up by the last log read (one exec per tick)
        self._taken = ""  # the nonce of the last command taken

    # --- where the files are ------------------------------------------------------
    def host_dirs(self) -> tuple[str, str] | None:
        """The config and log volumes' directories on this machine, when the engine runs here and
        this user may use them; else None (the edge's files are reached through docker exec)."""
        if self._dirs is not None or self._remote or self.volumes is None:  # volumes: for mypy
            return self._dirs
        if not self.endpoint.here:
            self._remote = True
            return None
        found = self.ex.run(docker.volume_mountpoints(self.volumes))
        paths = found.stdout.split() if found.ok else []
        if len(paths) != 2 or not os.path.isfile(os.path.join(paths[0], "nginx.conf")):
            return None  # not made yet (before the first `up`): asked again next time
        if not (os.access(paths[0], os.R_OK | os.W_OK | os.X_OK) and os.access(paths[1], os.R_OK | os.X_OK)):
            self._remote = True
            return None
        self._dirs = (paths[0], paths[1])
        return self._dirs

    def container(self) -> str:
        """The edge's container (here, its fixed name; a swarm edge task finds its own)."""
        return self.name

    def _sh(self, script: Script, description: str, mutates: bool = True) -> Command:
        """``script`` run where the edge's files can be reached: on this machine in the volumes'
        directories, else in the edge container."""
        dirs = self.host_dirs()
        if dirs is None:
            return docker.exec_(
                self.container(), ["sh", "-c", script(edge.CONF_DIR, LOG_DIR)], mutates=mutates, description=description
            )
        conf, logs = (shlex.quote(d) for d in dirs)
        return Command(("sh", "-c", script(conf, logs)), description, mutates=mutates, check=mutates)

    def running(self) -> bool:
        result = self.ex.run(docker.container_inspect(self.container()))
        return result.ok and bool(json.loads(result.stdout)[0]["State"]["Running"])

    def _write(self, file: str, text: str, description: str) -> None:
        self.ex.run(docker.exec_(self.container(), ["edge-apply", file], stdin=text, description=description))

    def _read(self, file: str) -> str | None:
        dirs = self.host_dirs()
        what = f"read the edge's {file}"
        if dirs is None:
            read = docker.exec_(self.container(), ["cat", f"{edge.CONF_DIR}/{file}"], mutates=False, description=what)
        else:
            read = Command(("cat", os.path.join(dirs[0], file)), what, mutates=False, check=False)
        result = self.ex.run(read)
        return result.stdout if result.ok else None

    # --- weights and lease ----------------------------------------------------
    def set_weights(self, weights: Weights, lease_until: float | None, slots: Slots) -> None:
        """Write the lease first, then the weights and the slots (one file, one reload): a split is
        never left without a lease, and a swap of the slots is never half done."""
        try:
            if weights.canary > 0:
                self.renew_lease(lease_until)
            self._write(
                "split.conf",
                edge.render_split(self.env, weights, slots),
                f"set weights stable {weights.stable}% / canary {weights.canary}%"
                + (f" / baseline {weights.baseline}%" if weights.baseline else "")
                + f" (stable on {slots.stable}, canary on {slots.canary})",
            )
        except CommandFailed:
            # asked only now: a look at the container before every change would cost each one a read
            if not self.running():
                raise NotReady(f"the edge of {self.env.name} is not running", hint=f"run: make up ENV={self.env.name}") from None
            raise

    def split_text(self) -> str | None:
        """The edge's split.conf as it is now; None when the edge cannot be read."""
        return self._read("split.conf")

    def weights(self) -> Weights | None:
        text = self.split_text()
        return edge.parse_weights(text) if text is not None else None

    def slots(self) -> Slots | None:
        """Which service serves which track, as the edge routes now; None when the edge cannot be read."""
        text = self.split_text()
        return slots_in(text) if text is not None else None

    def renew_lease(self, until: float | None) -> None:
        """``until`` is an epoch second; None holds the split until somebody changes it."""
        value = "forever" if until is None else str(int(until))
        self.ex.run(
            self._sh(
                lambda conf, _: f"printf %s {value} > {conf}/.lease.new && mv {conf}/.lease.new {conf}/lease",
                f"hold the split until {value}",
            )
        )

    def lease(self) -> float | str | None:
        """The lease as written: an epoch second, ``"forever"``, or None when there is none."""
        return edge.parse_lease(self._read("lease") or "")

    # --- operator commands ----------------------------------------------------
    def send_command(self, command: str) -> None:
        """Leave ``command`` for the running controller, with a nonce of its own: the controller acts
        on each nonce once, so it can acknowledge without waiting for the acknowledgement."""
        assert command in COMMANDS
        nonce = f"{time.time_ns():x}{os.getpid():x}"
        self.ex.run(
            self._sh(
                lambda conf, _: f"printf '%s %s' {command} {nonce} > {conf}/.cmd && mv {conf}/.cmd {conf}/command",
                f"ask the controller to {command}",
            )
        )

    def take_command(self) -> str | None:
        """The operator's pending command, seen by the last log read. It is acknowledged (removed,
        unless a newer one replaced it) in the background: the loop acts on it at once, and a read
        that still sees it before the removal lands gets nothing (its nonce was taken)."""
        text, self._seen_command = self._seen_command, None
        verb, _, nonce = (text or "").partition(" ")
        if verb not in COMMANDS or (nonce and nonce == self._taken):
            return None
        self._taken = nonce
        seen = shlex.quote(text or "")
        acknowledge = self._sh(
            lambda conf, _: f'[ "$(cat {conf}/command 2>/dev/null)" = {seen} ] && rm -f {conf}/command; true',
            "acknowledge the command",
        )
        self.ex.run(dataclasses.replace(acknowledge, background=True, check=False))
        return verb

    def clear_command(self) -> None:
        self.ex.run(self._sh(lambda conf, _: f"rm -f {conf}/command", "clear a stale command"))

    # --- the access log ---------------------------------------------------------
    def log_reader(self) -> Callable[[int], bytes]:
        """A function giving the log's bytes from an offset (for ``EdgeLogSource``)."""

        def read(offset: int) -> bytes:
            def script(conf: str, logs: str) -> str:
                return (
                    f'f={logs}/{LOG_FILE}; s=$(stat -c %s "$f" 2>/dev/null || echo 0); echo "$s"; '
                    f'c=$(cat {conf}/command 2>/dev/null); echo "$c"; '
                    f'tail -c +{offset + 1} "$f" 2>/dev/null'
                )

            result = self.ex.run(self._sh(script, "read the edge log", mutates=False))
            if not result.ok:
                raise LogUnreadable(f"{self.name}: {(result.stderr or result.stdout).strip()[-200:]}")
            size_line, _, rest = result.stdout.partition("\n")
            command, _, body = rest.partition("\n")
            self._seen_command = command.strip() or None
            if int(size_line or 0) < offset:
                raise LogTruncated(f"edge log is {size_line} bytes, {offset} were read")
            return body.encode()

        return read

    def log_size(self) -> int:
        result = self.ex.run(
            self._sh(lambda _, logs: f"stat -c %s {logs}/{LOG_FILE} 2>/dev/null || echo 0", "size of the edge log", mutates=False)
        )
        return int(result.stdout.strip() or 0) if result.ok else 0

    # --- its logs, read as records (``pipeline logs``) -----------------------------------
    def own_log(self, window: Sequence[str]) -> tuple[Command, LogForm]:
        return docker.container_log_lines(self.container(), window), "stamped"

    def access_logs(self, lines: int) -> list[LogFeed]:
        read = self._sh(lambda _conf, logs: f"tail -n {lines} {logs}/{LOG_FILE}", "read the edge's access log", mutates=False)
        return [feed_of(self.ex.run(read), "edge", "access", self.container())]
