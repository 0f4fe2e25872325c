"""The app's own secrets (``app.secrets``) as Swarm secrets, on the kinds that run on a swarm (local, swarm).

A value is set with ``pipeline secrets set ENV NAME``, from stdin or a file (never an argument, so
never in a shell's history or a process list), and becomes a Swarm secret of its own,
``<stack>-u-<random>``, labelled with the environment and ``pipeline.app-secret=NAME``. The engine
keeps it encrypted in the managers' Raft log and hands it only to the tasks that mount it. Swarm
secrets are immutable and cannot be read back: setting a value again makes a new version, and every
app service created or updated from then on (the next deploy's canary, a promotion, a rollback's
tasks) mounts the newest one as ``/run/secrets/NAME`` (mode 0400, the app's uid) with ``NAME_FILE``
naming it in its environment. The value is in no service spec (``docker service inspect`` shows the
secret's name only), no command line, no output and no journal row (``pipeline.redact`` masks it
wherever it might be echoed).

A version that no service mounts and that is not its name's newest is removed when a value is set
(the one a running track or the warm previous release still mounts stays until nothing does);
``down --volumes`` removes them all with the environment.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pipeline import redact
from pipeline.commands import docker
from pipeline.commands.docker import SecretMount
from pipeline.commands.executor import Executor
from pipeline.errors import NotReady, SecretMissing, UserError

LABEL = "pipeline.app-secret"
#: A value larger than this is a mistake (a wrong file), not a secret; the reference app reads at most this much.
MAX_BYTES = 64 * 1024


def user_secret_prefix(stack: str) -> str:
    """How the Swarm secrets of the app's own values are named (``<stack>-u-<random>``): the
    generated secrets' pruning leaves these alone."""
    return f"{stack}-u-"


@dataclass(frozen=True)
class SecretVersion:
    """One stored value of a declared secret (its value is never read back)."""

    name: str  # the variable name under app.secrets
    secret: str  # the Swarm secret holding the value
    created: str  # when it was set (the engine's RFC 3339 time)
    used_by: tuple[str, ...] = ()  # the services that mount it now

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "secret": self.secret, "created": self.created, "used_by": list(self.used_by)}


def check_value(name: str, value: bytes) -> str:
    """The value to store: UTF-8 text, one trailing newline dropped (``echo x |`` gives ``x``), not
    empty, no NUL, at most ``MAX_BYTES``. A refusal names the secret, never its value."""
    if value.endswith(b"\r\n"):
        value = value[:-2]
    elif value.endswith(b"\n"):
        value = value[:-1]
    if not value:
        raise UserError(f"{name}: the value is empty", hint="give the value on stdin or with --from-file")
    if len(value) > MAX_BYTES:
        raise UserError(f"{name}: the value is {len(value)} bytes, more than {MAX_BYTES}", hint="is --from-file the right file?")
    if b"\0" in value:
        raise UserError(f"{name}: the value holds a NUL byte", hint="a secret here is text; base64-encode binary data")
    try:
        return value.decode()
    except UnicodeDecodeError:
        raise UserError(f"{name}: the value is not UTF-8 text", hint="base64-encode binary data") from None


class AppSecretStore:
    """The declared secrets of one environment's stack, on the swarm its executor reaches."""

    def __init__(
        self,
        ex: Executor,
        stack: str,
        labels: Mapping[str, str],
        declared: list[str],
        mounted: Callable[[], dict[str, list[str]]],
        env_name: str,
    ) -> None:
        self.ex = ex
        self.stack = stack
        self.labels = dict(labels)
        self.declared = list(declared)
        self._mounted = mounted  # service name -> the secrets it mounts
        self.env_name = env_name

    # --- reads --------------------------------------------------------------------------
    def versions(self, undeclared: bool = False, users: bool = False) -> list[SecretVersion]:
        """Every stored version of every declared name (``undeclared``: of any name, one dropped from
        app.secrets too), oldest first; ``users``: with the services mounting each (a read of every
        service, so only for a listing or a prune, never for a deploy's mounts)."""
        listed = self.ex.run(docker.secret_ls(f"pipeline.stack={self.stack}", LABEL))
        if not listed.ok and not self.ex.dry_run:
            why = (listed.stderr.strip().splitlines() or ["no answer"])[-1]
            raise NotReady(
                f"{self.env_name}: the swarm's secrets cannot be read ({why[:160]})",
                hint=f"make up ENV={self.env_name} first (the secrets live in its swarm)",
            )
        names = listed.stdout.split()
        if not names:
            return []
        result = self.ex.run(docker.secret_inspect(sorted(names)))
        if not result.ok:  # one went between the two reads: read again once
            names = self.ex.run(docker.secret_ls(f"pipeline.stack={self.stack}", LABEL)).stdout.split()
            result = self.ex.run(docker.secret_inspect(sorted(names))) if names else result
            if not names or not result.ok:
                return []
        mounting: dict[str, list[str]] = {}
        for service, attached in (self._mounted() if users else {}).items():
            for secret in attached:
                mounting.setdefault(secret, []).append(service)
        found = []
        for item in json.loads(result.stdout or "[]"):
            spec = item.get("Spec", {})
            name = (spec.get("Labels") or {}).get(LABEL, "")
            if name in self.declared or (undeclared and name):
                secret = spec.get("Name", "")
                found.append(SecretVersion(name, secret, item.get("CreatedAt", ""), tuple(sorted(mounting.get(secret, [])))))
        return sorted(found, key=lambda v: (v.created, v.secret))

    def newest(self, versions: list[SecretVersion] | None = None) -> dict[str, SecretVersion]:
        """Each declared name's newest version (a name never set is absent)."""
        latest: dict[str, SecretVersion] = {}
        for version in self.versions() if versions is None else versions:
            latest[version.name] = version  # oldest first: the last one wins
        return latest

    def missing(self, versions: list[SecretVersion] | None = None) -> list[str]:
        have = self.newest(versions)
        return [name for name in self.declared if name not in have]

    def require(self) -> dict[str, SecretVersion]:
        """The newest version of every declared name; ``SecretMissing`` (one line) when one has none
        (a dry run shows ``<NAME: not set>`` in its place: the real run would refuse)."""
        versions = self.versions()
        missing = self.missing(versions)
        if missing and self.ex.dry_run:  # the plan shows where the value would come from
            return {**self.newest(versions), **{n: SecretVersion(n, f"<{n}: not set>", "") for n in missing}}
        if missing:
            first = missing[0]
            more = f" (and {', '.join(missing[1:])})" if missing[1:] else ""
            raise SecretMissing(
                f"app.secrets.{first}: not set in {self.env_name}{more}",
                hint=f"pipeline secrets set {self.env_name} {first} < FILE   (or: --from-file FILE)",
            )
        return self.newest(versions)

    def mounts(self, uid: int) -> list[SecretMount]:
        """The newest version of each declared secret, as the file ``/run/secrets/NAME`` for ``uid``."""
        if not self.declared:
            return []
        newest = self.require()
        return [SecretMount(newest[name].secret, name, uid=uid, gid=uid) for name in self.declared if name in newest]

    # --- changes -------------------------------------------------------------------------
    def refuse_undeclared(self, name: str) -> None:
        if name not in self.declared:
            raise UserError(
                f"{name}: not a secret of {self.env_name} (app.secrets: {', '.join(self.declared) or 'none'})",
                hint=f"add {name} to app.secrets in environments/{self.env_name}/env.yaml first",
            )

    def set(self, name: str, value: str) -> SecretVersion:
        """Store a new version of ``name``; remove the versions nothing uses that are not the newest."""
        self.refuse_undeclared(name)
        self.versions()  # the swarm answers (NotReady, pointing at `up`, before anything is created)
        redact.register(value)
        secret = f"{user_secret_prefix(self.stack)}{secrets.token_hex(6)}"
        self.ex.run(docker.secret_create(secret, value, {**self.labels, LABEL: name}))
        after = self.versions(undeclared=True, users=True)
        self.prune(after)
        return self.newest([v for v in after if v.name == name]).get(name, SecretVersion(name, secret, ""))

    def prune(self, versions: list[SecretVersion] | None = None) -> list[str]:
        """Remove the versions that are not their name's newest and that no service mounts
        (``versions``: as just read with ``undeclared`` and ``users``; else read now)."""
        if versions is None:
            versions = self.versions(undeclared=True, users=True)
        keep = {v.secret for v in self.newest([v for v in versions if v.name in self.declared]).values()}
        stale = [v.secret for v in versions if v.secret not in keep and not v.used_by]
        if stale:
            self.ex.run(docker.secret_rm(stale))
        return stale
