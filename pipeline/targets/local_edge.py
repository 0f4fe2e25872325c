"""Operations on the local edge container: weights, the lease, operator commands, the log.

All of it lives in the edge's config volume, so it is read back from the target by
any machine: ``split.conf`` (the weights), ``lease`` (until when somebody watches a
split), ``command`` (an operator's ``promote`` or ``abort`` for the running controller).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import time
from collections.abc import Callable

from pipeline import docker, edge
from pipeline.analysis.source import LogTruncated
from pipeline.edge import FRESH_SLOTS, LEGACY_SLOTS, Slots, Weights
from pipeline.environment import Environment
from pipeline.errors import CommandFailed, NotReady
from pipeline.executor import Executor

COMMANDS = ("promote", "abort", "rollback")


def slots_in(split: str) -> Slots:
    """The slots of a split.conf: as written; an edge from before slots routes by the tracks' own
    names (``LEGACY_SLOTS``); an empty file is a fresh edge."""
    found = edge.parse_slots(split)
    if found is not None:
        return found
    return LEGACY_SLOTS if split.strip() else FRESH_SLOTS


class LocalEdge:
    def __init__(self, env: Environment, ex: Executor, name: str) -> None:
        self.env = env
        self.ex = ex
        self.name = name
        self._seen_command: str | None = None  # picked up by the last log read (one exec per tick)
        self._taken = ""  # the nonce of the last command taken

    def running(self) -> bool:
        result = self.ex.run(docker.container_inspect(self.name))
        return result.ok and bool(json.loads(result.stdout)[0]["State"]["Running"])

    def _write(self, file: str, text: str, description: str) -> None:
        self.ex.run(docker.exec_(self.name, ["edge-apply", file], stdin=text, description=description))

    def _read(self, file: str) -> str | None:
        result = self.ex.run(
            docker.exec_(self.name, ["cat", f"{edge.CONF_DIR}/{file}"], mutates=False, description=f"read the edge's {file}")
        )
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
            docker.exec_(
                self.name,
                [
                    "sh",
                    "-c",
                    f"printf %s {value} > {edge.CONF_DIR}/.lease.new && mv {edge.CONF_DIR}/.lease.new {edge.CONF_DIR}/lease",
                ],
                description=f"hold the split until {value}",
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
            docker.exec_(
                self.name,
                ["sh", "-c", f"printf '%s %s' {command} {nonce} > {edge.CONF_DIR}/command"],
                description=f"ask the controller to {command}",
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
        path = f"{edge.CONF_DIR}/command"
        ack = f'[ "$(cat {path} 2>/dev/null)" = {shlex.quote(text or "")} ] && rm -f {path}; true'
        acknowledge = docker.exec_(self.name, ["sh", "-c", ack], description="acknowledge the command")
        self.ex.run(dataclasses.replace(acknowledge, background=True, check=False))
        return verb

    def clear_command(self) -> None:
        self.ex.run(docker.exec_(self.name, ["rm", "-f", f"{edge.CONF_DIR}/command"], description="clear a stale command"))

    # --- the access log ---------------------------------------------------------
    def log_reader(self) -> Callable[[int], bytes]:
        """A function giving the log's bytes from an offset (for ``EdgeLogSource``)."""

        def read(offset: int) -> bytes:
            script = (
                f'f={edge.LOG_PATH}; s=$(stat -c %s "$f" 2>/dev/null || echo 0); echo "$s"; '
                f'c=$(cat {edge.CONF_DIR}/command 2>/dev/null); echo "$c"; '
                f'tail -c +{offset + 1} "$f" 2>/dev/null'
            )
            result = self.ex.run(docker.exec_(self.name, ["sh", "-c", script], mutates=False, description="read the edge log"))
            if not result.ok:
                return b""
            size_line, _, rest = result.stdout.partition("\n")
            command, _, body = rest.partition("\n")
            self._seen_command = command.strip() or None
            if int(size_line or 0) < offset:
                raise LogTruncated(f"edge log is {size_line} bytes, {offset} were read")
            return body.encode()

        return read

    def log_size(self) -> int:
        result = self.ex.run(
            docker.exec_(self.name, ["sh", "-c", f"stat -c %s {edge.LOG_PATH} 2>/dev/null || echo 0"], mutates=False)
        )
        return int(result.stdout.strip() or 0) if result.ok else 0
