"""Builders of ``docker`` commands. They only return ``Command`` values; nothing runs here."""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pipeline.commands import Command

DOCKER = "docker"


def _d(*argv: str, description: str, mutates: bool = True, **kw: object) -> Command:
    return Command(argv=(DOCKER, *argv), description=description, mutates=mutates, **kw)  # type: ignore[arg-type]


# --- engine and swarm -------------------------------------------------------


def info(fmt: str = "{{json .}}") -> Command:
    return _d("info", "--format", fmt, description="ask the Docker engine", mutates=False, check=False, timeout=15)


def swarm_init(advertise: str = "127.0.0.1") -> Command:
    return _d("swarm", "init", "--advertise-addr", advertise, description="initialise a single-node swarm")


# --- images -----------------------------------------------------------------


def image_exists(ref: str) -> Command:
    return _d("image", "inspect", "--format", "{{.Id}}", ref, description=f"look for image {ref}", mutates=False, check=False)


def build(
    context: str,
    tag: str,
    dockerfile: str | None = None,
    build_args: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    no_cache: bool = False,
) -> Command:
    argv = ["build", "--network", "host", "-t", tag]
    if no_cache:
        argv.append("--no-cache")
    if dockerfile:
        argv += ["-f", dockerfile]
    for key, value in sorted((build_args or {}).items()):
        argv += ["--build-arg", f"{key}={value}"]
    for key, value in sorted((labels or {}).items()):
        argv += ["--label", f"{key}={value}"]
    argv.append(context)
    return _d(*argv, description=f"build image {tag}", env={"DOCKER_BUILDKIT": "0"}, timeout=1800)


def tag(source: str, target: str) -> Command:
    return _d("tag", source, target, description=f"tag {target}")


def push(ref: str) -> Command:
    return _d("push", "--quiet", ref, description=f"push {ref}", timeout=900)


def untag(ref: str) -> Command:
    """Remove one name of an image (its layers stay while another name holds them)."""
    return _d("image", "rm", ref, description=f"untag {ref}", check=False)


def import_rootfs(tarball: str, ref: str) -> Command:
    return _d("import", tarball, ref, description=f"import the base image {ref}", timeout=900)


# --- networks and volumes ---------------------------------------------------


def network_inspect(name: str) -> Command:
    return _d(
        "network", "inspect", "--format", "{{.Driver}}", name, description=f"look for network {name}", mutates=False, check=False
    )


def network_create_overlay(name: str, labels: Mapping[str, str]) -> Command:
    argv = ["network", "create", "--driver", "overlay", "--attachable"]
    for key, value in sorted(labels.items()):
        argv += ["--label", f"{key}={value}"]
    return _d(*argv, name, description=f"create overlay network {name}")


def network_rm(name: str) -> Command:
    return _d("network", "rm", name, description=f"remove network {name}", check=False)


def volume_create(name: str, labels: Mapping[str, str]) -> Command:
    argv = ["volume", "create"]
    for key, value in sorted(labels.items()):
        argv += ["--label", f"{key}={value}"]
    return _d(*argv, name, description=f"create volume {name}")


def volume_rm(name: str) -> Command:
    return _d("volume", "rm", name, description=f"remove volume {name}", check=False)


def volume_mountpoints(names: Sequence[str]) -> Command:
    """Where the volumes' directories are on the engine's host, one line each."""
    return _d("volume", "inspect", "--format", "{{.Mountpoint}}", *names, description="find volumes", mutates=False, check=False)


# --- services -----------------------------------------------------------------


@dataclass(frozen=True)
class Health:
    cmd: str
    interval: str = "2s"
    timeout: str = "3s"
    retries: int = 3
    start_period: str = "10s"


@dataclass(frozen=True)
class SecretMount:
    """A swarm secret mounted as the file ``/run/secrets/<target>``, readable by ``uid`` only (by default)."""

    source: str
    target: str
    uid: int = 0
    gid: int = 0
    mode: int = 0o400

    @property
    def path(self) -> str:
        return f"/run/secrets/{self.target}"

    def option(self) -> str:
        return f"source={self.source},target={self.target},uid={self.uid},gid={self.gid},mode={self.mode:04o}"


@dataclass(frozen=True)
class ServiceSpec:
    """A swarm service as data; ``create`` and ``update`` render it (``create_job``: a one-off job)."""

    name: str
    image: str
    network: str
    replicas: int = 1
    env: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    endpoint_mode: str = "dnsrr"
    mounts: Sequence[str] = ()
    health: Health | None = None
    stop_grace: str = "20s"
    stop_signal: str = "SIGTERM"
    command: Sequence[str] = ()
    publish: Sequence[str] = ()
    update_order: str = "start-first"
    update_delay: str = "1s"
    restart_delay: str = "1s"  # before swarm starts a task again that exited (a crash-looping task waits this long)
    update_monitor: str = "5s"
    update_parallelism: int = 1  # tasks replaced at once; 0: all (a track without traffic)
    constraints: Sequence[str] = ()
    placement_prefs: Sequence[str] = ()  # e.g. spread=node.labels.pl.host: tasks spread evenly over its values
    hostname: str | None = None
    secrets: Sequence[SecretMount] = ()
    mode: str = "replicated"  # or "global": one task on every node the constraints allow (replicas unused)

    def create(self) -> Command:
        argv = ["service", "create", "--detach", "--quiet", "--name", self.name, "--network", self.network]
        argv += ["--endpoint-mode", self.endpoint_mode, *self._mode_flags()]
        argv += self._update_flags()
        argv += self._task_flags()
        for publish in self.publish:
            argv += ["--publish", publish]
        for constraint in self.constraints:
            argv += ["--constraint", constraint]
        for pref in self.placement_prefs:
            argv += ["--placement-pref", pref]
        if self.hostname:
            argv += ["--hostname", self.hostname]
        argv += self._health_flags()
        argv.append(self.image)
        argv += list(self.command)
        return _d(*argv, description=f"create service {self.name}")

    def _mode_flags(self) -> list[str]:
        return ["--mode", "global"] if self.mode == "global" else ["--replicas", str(self.replicas)]

    def _task_flags(self) -> list[str]:
        """Labels, environment, mounts and secrets: what a service and a job create alike."""
        argv: list[str] = []
        for key, value in sorted(self.labels.items()):
            argv += ["--label", f"{key}={value}", "--container-label", f"{key}={value}"]
        for key, value in sorted(self.env.items()):
            argv += ["--env", f"{key}={value}"]
        for mount in self.mounts:
            argv += ["--mount", mount]
        return argv + self._secret_flags()

    def create_job(self, attempts: int = 3) -> Command:
        """A replicated job running ``command`` once (retried up to ``attempts`` times on failure)."""
        argv = ["service", "create", "--detach", "--quiet", "--name", self.name, "--network", self.network]
        argv += ["--mode", "replicated-job", "--restart-condition", "on-failure"]
        argv += ["--restart-max-attempts", str(attempts), "--restart-delay", "3s"]
        argv += self._task_flags()
        argv.append(self.image)
        argv += list(self.command)
        return _d(*argv, description=f"start job {self.name}")

    def published(self) -> list[int]:
        """The ports it publishes (``publish`` in docker's long form: ``mode=host,target=…,published=…``)."""
        found = []
        for publish in self.publish:
            fields = dict(part.partition("=")[::2] for part in publish.split(","))
            found.append(int(fields["published"]))
        return sorted(found)

    def update(
        self,
        current_env: Mapping[str, str] | None = None,
        current_secrets: Sequence[str] = (),
        current_published: Sequence[int] = (),
        current_placement: tuple[Sequence[str], Sequence[str]] = ((), ()),
        current_args: Sequence[str] | None = None,
    ) -> Command:
        """Roll the service to this spec's image, env, secrets, labels, published ports, replicas and
        placement (``current_placement``: the constraints and preferences it has now; docker appends
        an added one even when present, so only what differs is added or removed); its command too
        when ``current_args`` (the arguments it runs now) differ from it."""
        argv = ["service", "update", "--detach", "--quiet", "--image", self.image]
        if current_args is not None and list(current_args) != list(self.command):
            argv += ["--args", shlex.join(self.command)]
        argv += [] if self.mode == "global" else ["--replicas", str(self.replicas)]
        argv += self._update_flags()
        for key, value in sorted(self.labels.items()):
            argv += ["--label-add", f"{key}={value}", "--container-label-add", f"{key}={value}"]
        for key in sorted(set(current_env or {}) - set(self.env)):
            argv += ["--env-rm", key]
        for key, value in sorted(self.env.items()):
            argv += ["--env-add", f"{key}={value}"]
        # bind and tmpfs mounts: --mount-add replaces one at the same target (idempotent) or adds it;
        # never --mount-rm (docker applies removals after additions); volumes are never re-mounted
        for mount in self.mounts:
            if not mount.startswith("type=volume,"):
                argv += ["--mount-add", mount]
        # docker applies --secret-rm before --secret-add: each secret is re-attached (idempotent), stale ones go
        wanted = {secret.source for secret in self.secrets}
        for name in sorted(set(current_secrets) | wanted):
            argv += ["--secret-rm", name]
        argv += self._secret_flags(add=True)
        # --publish-add replaces a port published at the same number; one no longer wanted goes
        for port in sorted(set(current_published) - set(self.published())):
            argv += ["--publish-rm", str(port)]
        for publish in self.publish:
            argv += ["--publish-add", publish]
        constraints, prefs = current_placement
        for flag, now, wanted_ in (
            ("constraint", constraints, self.constraints),
            ("placement-pref", prefs, self.placement_prefs),
        ):
            argv += [arg for gone in sorted(set(now) - set(wanted_)) for arg in (f"--{flag}-rm", gone)]
            argv += [arg for new in wanted_ if new not in now for arg in (f"--{flag}-add", new)]
        argv += self._health_flags()
        argv.append(self.name)
        return _d(*argv, description=f"update service {self.name}", timeout=600)

    def _update_flags(self) -> list[str]:
        return [
            "--update-order",
            self.update_order,
            "--update-parallelism",
            str(self.update_parallelism),
            "--update-delay",
            self.update_delay,
            "--update-monitor",
            self.update_monitor,
            "--update-failure-action",
            "pause",
            "--rollback-order",
            self.update_order,
            "--stop-grace-period",
            self.stop_grace,
            "--stop-signal",
            self.stop_signal,
            "--restart-condition",
            "any",
            "--restart-delay",
            self.restart_delay,
        ]

    def _secret_flags(self, add: bool = False) -> list[str]:
        flag = "--secret-add" if add else "--secret"
        return [arg for secret in self.secrets for arg in (flag, secret.option())]

    def _health_flags(self) -> list[str]:
        if self.health is None:
            return []
        h = self.health
        return [
            "--health-cmd",
            h.cmd,
            "--health-interval",
            h.interval,
            "--health-timeout",
            h.timeout,
            "--health-retries",
            str(h.retries),
            "--health-start-period",
            h.start_period,
        ]


def secret_create(name: str, value: str, labels: Mapping[str, str]) -> Command:
    """Create a swarm secret; its value goes through stdin only."""
    argv = ["secret", "create"]
    for key, value_ in sorted(labels.items()):
        argv += ["--label", f"{key}={value_}"]
    return _d(*argv, name, "-", stdin=value, secret_stdin=True, description=f"create secret {name}")


def secret_ls(label: str, *more: str) -> Command:
    """The names of the secrets carrying every one of the labels (``key=value`` or just ``key``)."""
    filters = [arg for each in (label, *more) for arg in ("--filter", f"label={each}")]
    return _d(
        "secret",
        "ls",
        *filters,
        "--format",
        "{{.Name}}",
        description="list secrets",
        mutates=False,
        check=False,
    )


def secret_inspect(names: Sequence[str]) -> Command:
    """Secrets' metadata as JSON (name, labels, when created); a secret's value is never returned."""
    return _d("secret", "inspect", *names, description="read secrets' metadata", mutates=False, check=False)


def secret_rm(names: Sequence[str]) -> Command:
    return _d("secret", "rm", *names, description=f"remove secrets {', '.join(names)}", check=False)


def service_publish_rm(name: str, port: int) -> Command:
    """Stop publishing ``port`` (waits until the tasks run without it)."""
    return _d(
        "service", "update", "--quiet", "--publish-rm", str(port), name,
        description=f"service {name}: give up port {port}", timeout=300,
    )  # fmt: skip


def service_roll(name: str, timeout: float = 180.0) -> Command:
    """Replace every task of a service by a fresh one under its own update policy (``--force``: the
    same spec; what an image upgrade does), waiting until the rollout converged."""
    return _d(
        "service", "update", "--quiet", "--force", name,
        description=f"roll every task of {name} (as an upgrade does)", timeout=timeout,
    )  # fmt: skip


def service_replicas(name: str, replicas: int, timeout: float = 300.0) -> Command:
    """Set a service's replicas and wait until swarm converged on them (new tasks healthy, removed ones gone)."""
    return _d(
        "service", "update", "--quiet", "--replicas", str(replicas), name,
        description=f"{name} to {replicas} tasks (waiting until they run)", timeout=timeout,
    )  # fmt: skip


def service_scale(name: str, replicas: int) -> Command:
    return _d(
        "service", "update", "--detach", "--quiet", "--replicas", str(replicas), name, description=f"scale {name} to {replicas}"
    )


def service_inspect(names: Sequence[str]) -> Command:
    return _d("service", "inspect", *names, description="read services", mutates=False, check=False)


def service_ls(label: str) -> Command:
    return _d(
        "service",
        "ls",
        "--filter",
        f"label={label}",
        "--format",
        "{{.Name}}",
        description="list services",
        mutates=False,
        check=False,
    )


def service_ps(name: str) -> Command:
    return _d(
        "service",
        "ps",
        "--no-trunc",
        "--format",
        "{{json .}}",
        name,
        description=f"list tasks of {name}",
        mutates=False,
        check=False,
    )


def service_rm(names: Sequence[str]) -> Command:
    return _d("service", "rm", *names, description=f"remove services {', '.join(names)}", check=False)


def service_logs(name: str, tail: int, follow: bool) -> Command:
    argv = ["service", "logs", "--raw", "--tail", str(tail)]
    if follow:
        argv.append("--follow")
    return _d(*argv, name, description=f"logs of {name}", mutates=False, timeout=None)


def service_log_lines(name: str, window: Sequence[str] = ()) -> Command:
    """Every task's lines of a service, each with its time (RFC 3339, ns) and its task
    (``<service>.<slot>.<task>@<node>    | ``); ``window``: ``--since``/``--tail`` arguments."""
    argv = ("service", "logs", "--timestamps", *window, name)
    return _d(*argv, description=f"read the logs of {name}", mutates=False, check=False, timeout=120)


# --- plain containers (the edge, one-off jobs) --------------------------------


def container_inspect(name: str) -> Command:
    return _d("container", "inspect", name, description=f"read container {name}", mutates=False, check=False)


def run_detached(
    name: str,
    image: str,
    network: str,
    publish: Sequence[str] = (),
    mounts: Sequence[str] = (),
    labels: Mapping[str, str] | None = None,
    command: Sequence[str] = (),
) -> Command:
    argv = ["run", "--detach", "--name", name, "--network", network, "--restart", "unless-stopped"]
    for p in publish:
        argv += ["--publish", p]
    for m in mounts:
        argv += ["--mount", m]
    for key, value in sorted((labels or {}).items()):
        argv += ["--label", f"{key}={value}"]
    argv.append(image)
    argv += list(command)
    return _d(*argv, description=f"start container {name}")


def run_once(
    image: str,
    network: str | None,
    command: Sequence[str],
    env: Mapping[str, str] | None = None,
    mounts: Sequence[str] = (),
    stdin: str | None = None,
    description: str = "run a one-off job",
    entrypoint: str | None = None,
) -> Command:
    argv = ["run", "--rm"]
    if entrypoint is not None:  # "": the image's entrypoint set aside, ``command`` runs alone
        argv += ["--entrypoint", entrypoint]
    if stdin is not None:
        argv.append("-i")
    if network:
        argv += ["--network", network]
    for key, value in sorted((env or {}).items()):
        argv += ["--env", f"{key}={value}"]
    for m in mounts:
        argv += ["--mount", m]
    argv.append(image)
    argv += list(command)
    return _d(*argv, description=description, stdin=stdin, timeout=600)


def exec_(name: str, command: Sequence[str], stdin: str | None = None, mutates: bool = True, description: str = "") -> Command:
    argv = ["exec"]
    if stdin is not None:
        argv.append("-i")
    argv.append(name)
    argv += list(command)
    return _d(*argv, description=description or f"run in {name}", stdin=stdin, mutates=mutates, check=mutates)


def service_containers(service: str) -> Command:
    """The running containers of ``service``'s tasks on this engine's node, one name a line."""
    return _d(
        "ps", "--filter", f"label=com.docker.swarm.service.name={service}", "--filter", "status=running",
        "--format", "{{.Names}}",
        description=f"find the task of {service} on this node", mutates=False, check=False,
    )  # fmt: skip


def container_start(name: str) -> Command:
    return _d("start", name, description=f"start container {name}")


def container_stop(name: str, grace_seconds: int = 10) -> Command:
    return _d("stop", "--time", str(grace_seconds), name, description=f"stop container {name}", timeout=grace_seconds + 60.0)


def bridge_inspect(name: str) -> Command:
    """A bridge network's subnets (``[{"Subnet": ..., "Gateway": ...}]``)."""
    return _d(
        "network", "inspect", name, "--format", "{{json .IPAM.Config}}",
        description=f"look for the network {name}", mutates=False, check=False,
    )  # fmt: skip


def bridge_create(name: str, subnet: str, gateway: str, labels: Mapping[str, str]) -> Command:
    argv = ["network", "create", "--driver", "bridge", "--subnet", subnet, "--gateway", gateway]
    for key, value in sorted(labels.items()):
        argv += ["--label", f"{key}={value}"]
    return _d(*argv, name, description=f"create the network {name} ({subnet})")


def container_signal(name: str, signal: str, description: str) -> Command:
    return _d("kill", "--signal", signal, name, description=description)


def container_rm(name: str) -> Command:
    return _d("rm", "--force", name, description=f"remove container {name}", check=False)


def container_logs(name: str, tail: int, follow: bool) -> Command:
    argv = ["logs", "--tail", str(tail)]
    if follow:
        argv.append("--follow")
    return _d(*argv, name, description=f"logs of {name}", mutates=False, timeout=None)


def container_log_lines(name: str, window: Sequence[str] = ()) -> Command:
    """A container's lines, each with its time (RFC 3339, ns); ``window``: ``--since``/``--tail`` arguments."""
    return _d(
        "logs", "--timestamps", *window, name, description=f"read the logs of {name}", mutates=False, check=False, timeout=120
    )


def context_endpoint() -> Command:
    """Where the CLI's engine listens (its current context's endpoint; ``DOCKER_HOST`` wins)."""
    return _d(
        "context",
        "inspect",
        "--format",
        "{{.Endpoints.docker.Host}}",
        description="where the Docker engine listens",
        mutates=False,
        check=False,
        timeout=15,
    )
