"""The ``local`` target: a single-node Docker Swarm on this machine.

Objects (all prefixed with the environment's stack name, all labelled ``pipeline.env``):
an attachable overlay network; services ``db``, ``cache``, the two app slots ``app-blue`` and
``app-green`` (the edge's split.conf says which one is stable and which the canary; an
environment made before slots keeps ``app-stable`` and ``app-canary`` as its pair), ``app-baseline``
during a release (``endpoint_mode`` from env.yaml, dnsrr by default); the ``edge`` container on the overlay,
published on 127.0.0.1 only; volumes for the database, the edge config and the edge log;
a swarm config holding the generated secrets (the pipeline's own record), and one swarm
secret per value, which the services mount as files (never as --env). Everything is read
back from the engine.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pipeline import edge, poll, registry
from pipeline.build.image import MIGRATIONS_LABEL
from pipeline.build.images import ensure_service_images
from pipeline.build.revision import check_version, image_ref
from pipeline.commands import Command, docker
from pipeline.commands.docker import Health, SecretMount, ServiceSpec
from pipeline.commands.executor import Executor
from pipeline.edge import FRESH_SLOTS, LEGACY_SLOTS, Slots, Weights
from pipeline.engine import Engine
from pipeline.environment import Environment
from pipeline.environment.model import Faults
from pipeline.errors import Locked, NotReady, PortTaken, UnknownVersion, UserError
from pipeline.flags.delivery import MOUNT_DIR, LocalDirDelivery
from pipeline.observability import alertmanager, exporters, prometheus
from pipeline.observability.logs import LOG_PARTS, LogFeed, LogQuery, feed_of, file_lines, window_args
from pipeline.ports import port_free
from pipeline.project import Project
from pipeline.records.lock import LockInfo
from pipeline.targets.base import (
    ALL_TRACKS,
    DEPLOY_LABEL,
    PREVIOUS_LABEL,
    WARM_LABEL,
    ServiceStatus,
    Status,
    TaskReadiness,
    TrackName,
    TrackPlan,
    TrackStatus,
    canary_state,
    readiness_gap,
)
from pipeline.targets.engine_reads import EngineEndpoint, EngineReads
from pipeline.targets.local_edge import EdgeFiles, LocalEdge, slots_in
from pipeline.targets.secret_store import AppSecretStore, user_secret_prefix

Say = Callable[[str], None]
LABEL = "pipeline.env"
APP_DB = "refapp"
APP_DB_USER = "refapp"
APP_HEALTH_RETRIES = 10
APP_TMP_BYTES = 64 << 20  # the app tasks' /tmp: a tmpfs of 64 MiB
APP_UID = 10001  # the app image's user (app/Dockerfile)
#: each generated secret and the file it is mounted as (/run/secrets/<file>)
SECRET_FILES = {"db_password": "db-password", "django_secret_key": "django-secret-key", "docs_password": "docs-password"}
MIGRATE_ATTEMPTS = 3
WATCHER_VOLUMES = ("prometheus-conf", "prometheus-data", "alertmanager-conf", "alertmanager-data")
# how often a release's waits look again (tasks healthy, the migration done, the scaled canary ready):
# every second of lag here is a second of the deploy's overhead; each look is a few docker reads
RELEASE_POLL = 0.5
HANDOVER_LEASE = 30.0  # a hand-over's split is held this long; the controller renews it until settled


@dataclass(frozen=True)
class Watcher:
    """A container that watches the environment (Prometheus, Alertmanager): its files, written by
    the pipeline into its first volume, its arguments and its port on 127.0.0.1."""

    name: str
    image: str
    conf_dir: str
    files: dict[str, str]
    volumes: dict[str, str]  # volume (without the stack's prefix) -> where it is mounted; the first holds conf_dir
    args: list[str]
    publish: str
    role: str


class LocalTarget:
    kind = "local"

    def __init__(self, env: Environment, ex: Executor, project: Project, say: Say) -> None:
        self.env = env
        self.ex = ex
        self.project = project
        self.say = say
        self.stack = env.stack
        self.network = f"{self.stack}-net"
        self.edge_name = f"{self.stack}-edge"
        self.labels = {LABEL: env.name, "pipeline.stack": self.stack}
        self.images_ex = ex  # the engine that builds and keeps the images (a swarm's nodes pull copies)
        self.endpoint = EngineEndpoint(ex)
        self.reads = EngineReads(self.endpoint)  # service lists and specs through the engine's API, when it can
        self.edge: EdgeFiles = LocalEdge(
            env, ex, self.edge_name, (self.service("edge-conf"), self.service("edge-logs")), self.endpoint
        )
        self._slots: Slots | None = None  # read once from the edge; kept in step with every swap this process makes
        self._ready_since: float | None = None  # a hand-over: since when every new stable task is ready

    # --- names -------------------------------------------------------------
    def service(self, part: str) -> str:
        return f"{self.stack}-{part}"

    def service_name(self, part: str) -> str:
        """A service's full name; ``app-stable`` and ``app-canary`` name a track: the slot serving it now."""
        if part.startswith(self.stack + "-"):
            return part
        if part in ("app-stable", "app-canary"):
            return self.track_service(part.removeprefix("app-"))
        return self.service(part)

    def service_replicas(self, part: str) -> tuple[int, int] | None:
        return self._replicas().get(self.service_name(part))

    def slots(self) -> Slots:
        """Which app service is the stable track and which the canary: the edge's split.conf says so
        (it routes by it). With the edge away, the services' ``pipeline.track`` labels (kept in step at
        every swap); with neither, a fresh environment's pair."""
        if self._slots is None:
            text = self.edge.split_text()
            self._slots = slots_in(text) if text is not None else self._slots_from_labels()
        return self._slots

    def _slots_from_labels(self) -> Slots:
        roles: dict[str, str] = {}
        for name in self._replicas():
            slot = name.removeprefix(self.stack + "-app-")
            if slot != name and slot != "baseline":
                track = ((self._inspect(name) or {}).get("Spec", {}).get("Labels", {}) or {}).get("pipeline.track", "")
                roles.setdefault(track, slot)
        try:
            return Slots(roles["stable"], roles["canary"])
        except (KeyError, UserError):
            return LEGACY_SLOTS if "stable" in roles.values() or "canary" in roles.values() else FRESH_SLOTS

    def track_service(self, track: str) -> str:
        """The service that serves a track now (``<stack>-app-<slot>``)."""
        return self.service(f"app-{self.slots().of(track)}")

    @property
    def url(self) -> str:
        return f"http://{self.env.edge.bind}:{self.env.edge.port}"

    def traffic_url(self) -> str:
        return f"http://127.0.0.1:{self.env.edge.port}"  # the edge listens on loopback whatever it binds

    # --- validation before touching anything ----------------------------------
    def check(self) -> None:
        if self.env.edge.publish != "container":
            raise UserError(
                "edge.publish: ingress needs a cluster with IPVS; the local target publishes the edge container",
                hint="set edge.publish: container for kind: local",
            )
        port = self.env.edge.port
        if not port_free(self.env.edge.bind, port) and not self._publishes(self.edge_name, port):
            raise PortTaken(
                f"edge.port: {self.env.edge.bind}:{port} is already taken by another program",
                hint="free the port or choose another edge.port in env.yaml",
            )
        watch = self.env.observability
        if not watch.enabled:
            return
        for key, port, container in (
            ("port", watch.port, self.prometheus_name),
            ("alertmanager_port", watch.alertmanager_port, self.alertmanager_name),
        ):
            if not port_free("127.0.0.1", port) and not self._publishes(container, port):
                raise PortTaken(
                    f"observability.{key}: 127.0.0.1:{port} is already taken by another program",
                    hint=f"free the port or choose another observability.{key} in env.yaml",
                )

    def _publishes(self, container: str, port: int) -> bool:
        result = self.ex.run(docker.container_inspect(container))
        if not result.ok:
            return False
        bindings = json.loads(result.stdout)[0]["HostConfig"].get("PortBindings") or {}
        return any(str(b.get("HostPort")) == str(port) for v in bindings.values() for b in (v or []))

    # --- up ---------------------------------------------------------------------
    def up(self) -> None:
        self.check()
        engine = Engine(self.ex, self.project, self.say)
        engine.ensure()
        engine.ensure_swarm()
        engine.ensure_registry(self.env.image.registry)
        images = ensure_service_images(self.ex, self.project, self.env, self.say)
        self._ensure_network()
        for volume in ("db-data", "edge-conf", "edge-logs"):
            self._ensure_volume(self.service(volume))
        secret = self._secrets()
        self._ensure_service(self._db_spec(images["postgres"], secret))
        self._ensure_service(self._cache_spec(images["redis"]))
        self._ensure_edge(images["edge"])
        if self.env.observability.enabled:
            self._ensure_exporters(images["exporters"])
            self._ensure_alertmanager(images["alertmanager"])
            self._ensure_prometheus(images["prometheus"])
        self.wait_services([self.service("db"), self.service("cache")])
        self._ensure_flags()

    # --- Prometheus (observability.enabled): a container on the overlay, its API on 127.0.0.1 --
    @property
    def prometheus_name(self) -> str:
        return self.service("prometheus")

    def prometheus_url(self) -> str:
        """Prometheus's HTTP API on this machine."""
        return f"http://127.0.0.1:{self.env.observability.port}"

    @property
    def alertmanager_name(self) -> str:
        return self.service("alertmanager")

    def alertmanager_url(self) -> str:
        """Alertmanager's HTTP API on this machine."""
        return f"http://127.0.0.1:{self.env.observability.alertmanager_port}"

    def _ensure_prometheus(self, image: str) -> None:
        """Prometheus on its configuration and rules (see _ensure_watcher)."""
        self._ensure_watcher(
            Watcher(
                name=self.prometheus_name,
                image=image,
                conf_dir=prometheus.CONF_DIR,
                files={
                    "prometheus.yml": prometheus.render_config(self.env, self.env.app.port),
                    "rules.yml": prometheus.render_rules(self.project.root),
                },
                volumes={"prometheus-conf": prometheus.CONF_DIR, "prometheus-data": prometheus.DATA_DIR},
                args=prometheus.command(self.env),
                publish=f"127.0.0.1:{self.env.observability.port}:{prometheus.PORT}",
                role="prometheus",
            )
        )
        self.say(f"prometheus {self.prometheus_name}: at {self.prometheus_url()}")

    def _ensure_alertmanager(self, image: str) -> None:
        """Alertmanager on its configuration (see _ensure_watcher): where Prometheus's alerts go."""
        self._ensure_watcher(
            Watcher(
                name=self.alertmanager_name,
                image=image,
                conf_dir=alertmanager.CONF_DIR,
                files={"alertmanager.yml": alertmanager.render_config(self.env)},
                volumes={"alertmanager-conf": alertmanager.CONF_DIR, "alertmanager-data": alertmanager.DATA_DIR},
                args=alertmanager.command(self.env),
                publish=f"127.0.0.1:{self.env.observability.alertmanager_port}:{alertmanager.PORT}",
                role="alertmanager",
            )
        )
        webhook = self.env.observability.webhook
        # only the webhook's host: a chat service's URL carries its token in the path
        sent = f"alerts to {urlsplit(webhook).hostname}" if webhook else "alerts shown only (no observability.webhook)"
        self.say(f"alertmanager {self.alertmanager_name}: at {self.alertmanager_url()}, {sent}")

    def _ensure_exporters(self, image: str) -> None:
        """Every exporter (pipeline/observability/exporters.py) as a service of its own on the network."""
        mounts = self._secret_mounts(("db_password",), uid=0)  # the exporters' tasks run as root
        table = exporters.table(self.stack, APP_DB_USER, APP_DB, mounts[0].path)
        for exporter in table:
            self._ensure_service(
                ServiceSpec(
                    name=exporters.service(self.stack, exporter),
                    image=image,
                    network=self.network,
                    replicas=1,
                    env=exporter.env,
                    labels={**self.labels, "pipeline.role": "exporter"},
                    endpoint_mode="dnsrr",
                    mounts=[m.format(logs=self.service("edge-logs")) for m in exporter.mounts],
                    secrets=mounts if exporter.db_password else (),
                    command=exporter.command,
                    update_order="stop-first",
                    stop_grace="5s",
                )
            )
        self.say(f"exporters: {', '.join(e.name for e in table)}")

    def _ensure_watcher(self, watcher: Watcher) -> None:
        """A watcher's files in its volume, and its container running on them: when it already runs
        this image with these arguments, files that differ are rewritten in place and it is told to
        read them again (SIGHUP, which Prometheus and Alertmanager both obey); files that are the
        same change nothing."""
        mounts = [f"type=volume,src={self.service(v)},dst={at}" for v, at in watcher.volumes.items()]
        conf = mounts[0]
        running = self.ex.run(docker.container_inspect(watcher.name))
        if running.ok:
            info = json.loads(running.stdout)[0]
            if info["Config"]["Image"] == watcher.image and info["State"]["Running"] and info["Config"]["Cmd"] == watcher.args:
                changed = [name for name, text in watcher.files.items() if self._watcher_file(watcher, name) != text]
                for name in changed:
                    self.ex.run(
                        docker.exec_(
                            watcher.name,
                            ["sh", "-c", f"cat > {watcher.conf_dir}/{name}"],
                            stdin=watcher.files[name],
                            description=f"write {watcher.role}'s {name}",
                        )
                    )
                if changed:
                    self.ex.run(docker.container_signal(watcher.name, "HUP", f"{watcher.role} reads its files again"))
                done = f"{', '.join(changed)} read again" if changed else "up to date"
                self.say(f"{watcher.role} {watcher.name}: running, {done}")
                return
            self.ex.run(docker.container_rm(watcher.name))
        variables = {f"FILE{at}": text for at, text in enumerate(watcher.files.values())}
        write = " && ".join(f'printf "%s" "$FILE{at}" > {watcher.conf_dir}/{name}' for at, name in enumerate(watcher.files))
        self.ex.run(
            docker.run_once(
                watcher.image,
                None,
                ["sh", "-c", write],
                env=variables,
                mounts=[conf],
                description=f"write {watcher.role}'s configuration",
                entrypoint="",
            )
        )
        self.ex.run(
            docker.run_detached(
                watcher.name,
                watcher.image,
                self.network,
                publish=[watcher.publish],
                mounts=mounts,
                labels={**self.labels, "pipeline.role": watcher.role},
                command=watcher.args,
            )
        )

    def _watcher_file(self, watcher: Watcher, name: str) -> str | None:
        """One of the files a watcher runs on, as it is in its volume (None: unreadable)."""
        read = self.ex.run(
            docker.exec_(
                watcher.name,
                ["cat", f"{watcher.conf_dir}/{name}"],
                mutates=False,
                description=f"read {watcher.role}'s {name}",
            )
        )
        return read.stdout if read.ok else None

    # --- feature flags: a host directory every app task mounts read-only --------------
    def flag_delivery(self) -> LocalDirDelivery:
        return LocalDirDelivery(self.ex, self.project.state / "flags" / self.stack)

    def app_image(self, track: TrackName) -> str | None:
        """The image a track's service runs (without its digest), or None."""
        info = self._inspect(self.track_service(track)) or {}
        image: str = info.get("Spec", {}).get("TaskTemplate", {}).get("ContainerSpec", {}).get("Image", "")
        return image.split("@")[0] or None

    def flag_probe(self, mode: str = "once", want: str = "", timeout: float = 20.0, user: str = "probe") -> Command:
        """A container on the overlay that asks every app task for its ``/flags`` (see pipeline/flags/probe.py)."""
        from pipeline.flags.probe import probe_command

        image = self.app_image("stable")
        if not image:
            raise NotReady(f"no app runs in {self.env.name}", hint=f"make deploy ENV={self.env.name}")
        return probe_command(
            image,
            self.network,
            # the baseline too: mid-release it serves users' requests like any task (a service
            # that does not exist resolves to no task and is skipped)
            [self.track_service(t) for t in ALL_TRACKS],
            f"{self.stack}-flags-probe-{secrets.token_hex(3)}",
            {**self.labels, "pipeline.role": "flags-probe"},
            mode=mode,
            want=want,
            timeout=timeout,
            port=self.env.app.port,
            user=user,
        )

    def _ensure_flags(self) -> None:
        from pipeline.flags.state import ensure_delivered

        done = ensure_delivered(self.flag_delivery(), self.project.root, self.env.name)
        self.say(f"flags: {'delivered from ' + done['source'] if done['delivered'] else 'in place'} ({done['where']})")

    def _ensure_network(self) -> None:
        driver = self.ex.run(docker.network_inspect(self.network))
        if driver.ok:
            self.say(f"network {self.network}: exists")
            return
        self.ex.run(docker.network_create_overlay(self.network, self.labels))

    def _ensure_volume(self, name: str) -> None:
        inspect = Command(("docker", "volume", "inspect", name), mutates=False, check=False, description="read volume")
        if not self.ex.run(inspect).ok:
            self.ex.run(docker.volume_create(name, self.labels))

    def _secrets(self) -> dict[str, str]:
        """Generated once per environment; kept in a swarm config (readable back by any manager)."""
        name = self.service("secrets")
        result = self.ex.run(
            Command(
                ("docker", "config", "inspect", "--format", "{{json .Spec.Data}}", name),
                mutates=False,
                check=False,
                description="read the environment's secrets",
            )
        )
        if result.ok:
            return dict(json.loads(base64.b64decode(json.loads(result.stdout))))
        values = {
            "db_password": secrets.token_urlsafe(18),
            "django_secret_key": secrets.token_urlsafe(40),
            "docs_password": secrets.token_urlsafe(12),
        }
        argv = ["docker", "config", "create"]
        for key, value in self.labels.items():
            argv += ["--label", f"{key}={value}"]
        self.ex.run(
            Command(
                (*argv, name, "-"),
                stdin=json.dumps(values),
                secret_stdin=True,
                description="store the environment's generated secrets",
            )
        )
        return values

    def _secret_names(self) -> dict[str, str]:
        """The swarm secret of each generated value, created once (idempotent: named by a digest of the value).

        Swarm secrets cannot be read back, so the values stay in the ``<stack>-secrets`` config; an
        environment made before swarm secrets gets them from there on its next ``up`` or deploy.
        """
        values = self._secrets()
        wanted = {
            key: f"{self.service(file)}-{hashlib.sha256(values[key].encode()).hexdigest()[:12]}"
            for key, file in SECRET_FILES.items()
        }
        existing = set(self.ex.run(docker.secret_ls(f"pipeline.stack={self.stack}")).stdout.split())
        for key, name in wanted.items():
            if name not in existing:
                self.ex.run(docker.secret_create(name, values[key], self.labels))
        # the app's own secrets are the store's to keep or remove (pipeline.targets.secret_store)
        stale = sorted(n for n in existing - set(wanted.values()) if not n.startswith(user_secret_prefix(self.stack)))
        if stale:  # after a rotation; one still mounted by a service stays (docker refuses) until the next run
            self.ex.run(docker.secret_rm(stale))
        return wanted

    def _secret_mounts(self, keys: tuple[str, ...], uid: int) -> list[SecretMount]:
        names = self._secret_names()
        return [SecretMount(names[key], SECRET_FILES[key], uid=uid, gid=uid) for key in keys]

    def _image_uid(self, image: str, user: str) -> int:
        """The numeric uid of ``user`` in ``image`` (a secret file is readable by that uid only)."""
        result = self.ex.run(
            Command(
                ("docker", "run", "--rm", "--network", "none", "--entrypoint", "id", image, "-u", user),
                mutates=False,
                check=False,
                description=f"read the uid of {user} in {image}",
            )
        )
        uid = result.stdout.strip()
        if result.ok and uid.isdigit():
            return int(uid)
        if self.ex.dry_run:
            return 0
        raise NotReady(f"cannot read the uid of {user} in {image}: {result.stderr.strip()}", hint="docker image ls")

    def _db_spec(self, image: str, secret: dict[str, str]) -> ServiceSpec:
        mounts = self._secret_mounts(("db_password",), uid=self._image_uid(image, "postgres"))
        return ServiceSpec(
            name=self.service("db"),
            image=image,
            network=self.network,
            replicas=1,
            env={"POSTGRES_USER": APP_DB_USER, "POSTGRES_PASSWORD_FILE": mounts[0].path, "POSTGRES_DB": APP_DB},
            secrets=mounts,
            labels={**self.labels, "pipeline.role": "db"},
            endpoint_mode="dnsrr",
            mounts=[f"type=volume,src={self.service('db-data')},dst=/var/lib/postgresql/data"],
            update_order="stop-first",
            stop_grace="30s",
            stop_signal="SIGINT",
        )

    def _cache_spec(self, image: str) -> ServiceSpec:
        return ServiceSpec(
            name=self.service("cache"),
            image=image,
            network=self.network,
            replicas=1,
            labels={**self.labels, "pipeline.role": "cache"},
            endpoint_mode="dnsrr",
            update_order="stop-first",
            stop_grace="10s",
        )

    def _inspect(self, name: str) -> dict[str, Any] | None:
        through_api = self.reads.service(name)
        if through_api is not None:
            return through_api or None
        result = self.ex.run(docker.service_inspect([name]))
        if not result.ok:
            return None
        found: list[dict[str, Any]] = json.loads(result.stdout)
        return found[0] if found else None

    def _ensure_service(self, spec: ServiceSpec) -> bool:
        """Create or update the service to ``spec``; False when it already ran exactly that."""
        current = self._inspect(spec.name)
        if current is None:
            self.ex.run(spec.create())
            return True
        container = current["Spec"]["TaskTemplate"]["ContainerSpec"]
        env = dict(e.split("=", 1) for e in container.get("Env") or [])
        replicas = current["Spec"].get("Mode", {}).get("Replicated", {}).get("Replicas")
        attached = [s["SecretName"] for s in container.get("Secrets") or []]
        wanted = None if spec.mode == "global" else spec.replicas
        published = sorted(p["PublishedPort"] for p in current["Spec"].get("EndpointSpec", {}).get("Ports") or [])
        placement = current["Spec"]["TaskTemplate"].get("Placement") or {}
        constraints = list(placement.get("Constraints") or [])
        prefs = [f"spread={p['Spread']['SpreadDescriptor']}" for p in placement.get("Preferences") or [] if "Spread" in p]
        same = container["Image"].split("@")[0] == spec.image and env == dict(spec.env) and replicas == wanted
        same = same and published == spec.published()
        same = same and sorted(constraints) == sorted(spec.constraints) and prefs == list(spec.placement_prefs)
        args = list(container.get("Args") or [])
        same = same and (not spec.command or args == list(spec.command))
        if same and sorted(attached) == sorted(s.source for s in spec.secrets):
            self.say(f"service {spec.name}: up to date")
            return False
        self.ex.run(
            spec.update(
                current_env=env,
                current_secrets=attached,
                current_published=published,
                current_placement=(constraints, prefs),
                current_args=args if spec.command else None,
            )
        )
        return True

    def track_pin_token(self) -> str:
        """The secret that lets a request pick its track at the edge (the perf gate's compare run)."""
        return edge.pin_token(self._secrets()["django_secret_key"])

    def _ensure_edge(self, image: str) -> None:
        conf = edge.render_nginx_conf(self.env, self.track_pin_token())
        mounts = [
            f"type=volume,src={self.service('edge-conf')},dst={edge.CONF_DIR}",
            f"type=volume,src={self.service('edge-logs')},dst=/var/log/nginx/pipeline",
        ]
        running = self.ex.run(docker.container_inspect(self.edge_name))
        if running.ok:
            info = json.loads(running.stdout)[0]
            if info["Config"]["Image"] == image and info["State"]["Running"]:
                text = self.edge.split_text()
                if text is not None and edge.parse_slots(text) is None:  # an edge from before slots: name its pair
                    self._slots = slots_in(text)
                    self.edge.set_weights(edge.parse_weights(text) or Weights(0), None, self._slots)
                self.ex.run(
                    docker.exec_(
                        self.edge_name, ["edge-apply", "nginx.conf"], stdin=conf, description="apply the edge configuration"
                    )
                )
                self.say(f"edge {self.edge_name}: running, configuration applied")
                return
            self.ex.run(docker.container_rm(self.edge_name))
        # a split.conf is kept as it is; one from before slots is rewritten at weight 0 naming the
        # services it routed to (stable, canary); a new volume gets the fresh pair (blue, green)
        write = (
            "cat > /conf/nginx.conf && f=/conf/split.conf && "
            "if [ ! -s $f ]; then printf '%s' \"$FRESH\" > $f; "
            "elif ! grep -q '^# pipeline-slots: ' $f; then printf '%s' \"$LEGACY\" > $f; fi"
        )
        self._slots = None
        self.ex.run(
            docker.run_once(
                image,
                None,
                ["sh", "-c", write],
                env={
                    "FRESH": edge.render_split(self.env, Weights(0), FRESH_SLOTS),
                    "LEGACY": edge.render_split(self.env, Weights(0), LEGACY_SLOTS),
                },
                mounts=[f"type=volume,src={self.service('edge-conf')},dst=/conf"],
                stdin=conf,
                description="write the edge configuration",
            )
        )
        self.ex.run(
            docker.run_detached(
                self.edge_name,
                image,
                self.network,
                publish=[f"{self.env.edge.bind}:{self.env.edge.port}:{edge.EDGE_PORT}"],
                mounts=mounts,
                labels={**self.labels, "pipeline.role": "edge"},
            )
        )

    # --- waiting ---------------------------------------------------------------
    def _replicas(self) -> dict[str, tuple[int, int]]:
        through_api = self.reads.services(f"{LABEL}={self.env.name}")
        if through_api is not None:
            return through_api
        result = self.ex.run(
            Command(
                ("docker", "service", "ls", "--filter", f"label={LABEL}={self.env.name}", "--format", "{{json .}}"),
                mutates=False,
                check=False,
                description="list the environment's services",
            )
        )
        found: dict[str, tuple[int, int]] = {}
        for line in result.stdout.splitlines():
            row = json.loads(line)
            running, _, desired = row.get("Replicas", "0/0").partition("/")
            found[row["Name"]] = (int(running or 0), int(desired.split()[0] if desired else 0))
        return found

    def wait_services(self, names: list[str], timeout: float = 180.0) -> None:
        if self.ex.dry_run:
            return

        def pending() -> list[str]:
            replicas = self._replicas()
            return [n for n in names if replicas.get(n, (0, 1))[0] < replicas.get(n, (0, 1))[1]]

        def timed_out() -> Exception:
            late = pending() or names
            return NotReady(
                f"{', '.join(late)} not running after {timeout:.0f} s",
                hint=f"pipeline logs {self.env.name} --service {late[0].removeprefix(self.stack + '-')}",
            )

        poll.until(lambda: True if not pending() else None, timeout, timed_out, max_delay=RELEASE_POLL)

    def task_ids(self, name: str) -> set[str]:
        result = self.ex.run(docker.service_ps(name))
        return {json.loads(line).get("ID", "") for line in result.stdout.splitlines() if line.strip()}

    def wait_update(
        self, name: str, version: str, timeout: float = 300.0, ignore: set[str] | None = None, settle: bool = True
    ) -> None:
        """Wait until a rolling update is complete and every task runs (healthy) the new image.

        ``settle=False`` (a canary or baseline, which has no traffic yet and whose readiness is gated
        next): every task healthy is enough; the swarm's monitor period after the update is not awaited."""
        if self.ex.dry_run:
            return
        hint = f"pipeline logs {self.env.name} --service {name.removeprefix(self.stack + '-')}"
        seen = {"state": "?", "running": 0, "desired": 0}

        def done() -> bool | None:
            current = self._inspect(name) or {}
            state = (current.get("UpdateStatus") or {}).get("State", "completed")
            if state in ("paused", "rollback_completed", "rollback_paused"):
                message = (current.get("UpdateStatus") or {}).get("Message", "")
                raise NotReady(f"{name}: update {state}: {message}", hint=hint)
            running, desired = self._replicas().get(name, (0, 0))
            seen.update(state=state, running=running, desired=desired)
            healthy, failures = self._tasks_on(name, version, ignore or set())
            if len(failures) >= 3:
                raise NotReady(f"{name}: {len(failures)} tasks of {version} failed to start: {failures[0]}", hint=hint)
            settled = state == "completed" or not settle
            return True if settled and running >= desired and healthy >= desired else None

        def timed_out() -> Exception:
            return NotReady(
                f"{name}: {seen['running']}/{seen['desired']} tasks healthy after {timeout:.0f} s (update {seen['state']})",
                hint=hint,
            )

        poll.until(done, timeout, timed_out, max_delay=RELEASE_POLL)

    def _tasks_on(self, name: str, version: str, ignore: set[str]) -> tuple[int, list[str]]:
        """Healthy running tasks of ``version``, and the errors of its tasks that failed (not in ``ignore``)."""
        result = self.ex.run(docker.service_ps(name))
        count = 0
        failures: list[str] = []
        for line in result.stdout.splitlines():
            task = json.loads(line)
            if task.get("ID") in ignore or not task.get("Image", "").split("@")[0].endswith(f":{version}"):
                continue
            current = task.get("CurrentState", "")
            if task.get("DesiredState") == "Running" and current.startswith("Running"):
                count += 1
            elif current.startswith(("Failed", "Rejected")):
                failures.append(task.get("Error") or current)
        return count, failures

    # --- deploy -----------------------------------------------------------------
    def versions(self) -> list[str]:
        return registry.tags(self.env.image.registry, self.env.image.name)

    def require_version(self, version: str) -> str:
        check_version(version)
        if not registry.answers(self.env.image.registry):
            raise NotReady(f"the registry {self.env.image.registry} does not answer", hint=f"run: make up ENV={self.env.name}")
        if not registry.has_tag(self.env.image.registry, self.env.image.name, version):
            known = self.versions()[-5:]
            raise UnknownVersion(
                f"version '{version}' is not in the registry {self.env.image.registry}/{self.env.image.name}",
                hint=f"build it with `make build`; known: {', '.join(known) or 'none'}",
            )
        return image_ref(self.env.image.registry, self.env.image.name, version)

    def app_env(self, track: TrackName, version: str, faults: Faults | None = None) -> dict[str, str]:
        """The app's environment; secrets are only paths of mounted files (see ``app_secrets``)."""
        secret = {key: SecretMount("", file).path for key, file in SECRET_FILES.items()}
        app = self.env.app
        values = {
            # the baseline is stable started afresh: it runs exactly as stable does (the edge names its track)
            "APP_TRACK": "stable" if track == "baseline" else track,
            "APP_VERSION": version,
            "APP_PORT": str(app.port),
            "APP_DRAIN_SECONDS": str(app.drain_seconds),
            "APP_UPLOAD_MAX_BYTES": str(app.upload_max_bytes),
            "APP_UPLOAD_MAX_FILES": str(app.upload_max_files),
            "DATABASE_URL": f"postgres://{APP_DB_USER}@{self.service('db')}:5432/{APP_DB}",
            "DATABASE_PASSWORD_FILE": secret["db_password"],
            "REDIS_URL": f"redis://{self.service('cache')}:6379/0",
            "DJANGO_SECRET_KEY_FILE": secret["django_secret_key"],
            "APP_DOCS_USER": "docs",
            "APP_DOCS_PASSWORD_FILE": secret["docs_password"],
            "APP_FLAGS_FILE": f"{MOUNT_DIR}/flags.json",
            # tasks are reached through the edge only (on the overlay), which sets X-Forwarded-For to the
            # client's address: trust it, so the sign-in throttle counts per client, not per edge
            "FORWARDED_ALLOW_IPS": "*",
        }
        values.update((faults or self._track_model(track).faults).as_env())
        values.update(self.env.observability.app_env(self.env.name))  # traces: OTLP endpoint, if any
        values.update(app.env)
        # the app's own secrets: a path each (the value is only in the mounted file; see app_secrets)
        values.update({f"{name}_FILE": SecretMount("", name).path for name in app.secrets})
        return values

    def _track_model(self, track: TrackName) -> Any:
        """The env.yaml section of a track; the baseline runs as stable does (same faults, same size rule)."""
        return self.env.tracks.stable if track == "baseline" else getattr(self.env.tracks, track)

    def app_secrets(self) -> list[SecretMount]:
        """The swarm secrets every app task (and the migrate job) mounts, readable by the app's user only:
        the generated ones and the newest version of each of the app's own (``app.secrets``)."""
        return self._secret_mounts(tuple(SECRET_FILES), uid=APP_UID) + self.secret_store().mounts(APP_UID)

    def secret_store(self) -> AppSecretStore:
        """The app's own secrets (``pipeline secrets``), on the swarm this target drives."""
        return AppSecretStore(self.ex, self.stack, self.labels, self.env.app.secrets, self._mounted_secrets, self.env.name)

    def _placed(self, spec: ServiceSpec) -> ServiceSpec:
        """An app track's service as placed on the nodes: on one node, as it is (the swarm kind
        constrains and spreads it)."""
        return spec

    def _mounted_secrets(self) -> dict[str, list[str]]:
        """Each service of the stack and the swarm secrets it mounts."""
        mounted: dict[str, list[str]] = {}
        for name in self._replicas():
            container = ((self._inspect(name) or {}).get("Spec", {}).get("TaskTemplate", {}) or {}).get("ContainerSpec", {})
            mounted[name] = [s["SecretName"] for s in container.get("Secrets") or []]
        return mounted

    def app_spec(
        self,
        track: TrackName,
        version: str,
        image: str,
        replicas: int | None = None,
        faults: Faults | None = None,
    ) -> ServiceSpec:
        app = self.env.app
        return self._placed(
            ServiceSpec(
                name=self.track_service(track),
                image=image,
                network=self.network,
                replicas=self._track_model(track).replicas if replicas is None else replicas,
                env=self.app_env(track, version, faults),
                secrets=self.app_secrets(),
                labels={
                    **self.labels,
                    "pipeline.role": "app",
                    "pipeline.track": track,
                    "pipeline.version": version,
                },
                endpoint_mode=app.endpoint_mode,
                # the flags directory (read-only), and a bounded scratch space: a full /tmp (chaos: fill_disk)
                # never fills the host's disk
                mounts=[self.flag_delivery().mount, f"type=tmpfs,dst=/tmp,tmpfs-size={APP_TMP_BYTES}"],
                # liveness must fail ~20 s in a row before the swarm kills a task: a task that is merely slow
                # while the database is away (chaos: restart-db) is not restarted, which would make it worse
                health=Health(
                    cmd="python3 -m refapp.healthcheck",
                    interval="2s",
                    timeout="5s",
                    retries=APP_HEALTH_RETRIES,
                    start_period="45s",
                ),
                stop_grace=f"{app.stop_grace_seconds}s",
                update_order="start-first",
                update_delay="1s",
                update_monitor="5s",
                # stable is rolled one task at a time; a canary or a baseline has no traffic while it
                # starts (readiness gates it), so all its tasks start at once
                update_parallelism=1 if track == "stable" else 0,
            )
        )

    def migrations_of(self, image: str) -> str | None:
        """The image's digest of its migration files (a build label); None when it is not known here."""
        result = self.images_ex.run(
            Command(
                ("docker", "image", "inspect", "--format", "{{json .Config.Labels}}", image),
                mutates=False,
                check=False,
                description=f"read the migrations digest of {image}",
            )
        )
        if not result.ok:
            return None
        labels = json.loads(result.stdout or "null") or {}
        value = labels.get(MIGRATIONS_LABEL) if isinstance(labels, dict) else None
        return str(value) if value else None

    def migrate(self, version: str, image: str) -> None:
        """Migrations run once, as a swarm job (so it mounts the secrets), before any replica of the release starts.

        The job is retried by the swarm (the db may still be starting); its service is removed afterwards.
        """
        name = self.service("migrate")
        job = ServiceSpec(
            name=name,
            image=image,
            network=self.network,
            env=self.app_env("stable", version),
            labels={**self.labels, "pipeline.role": "migrate", "pipeline.version": version},
            mounts=[f"type=tmpfs,dst=/tmp,tmpfs-size={APP_TMP_BYTES}"],
            secrets=self.app_secrets(),
            command=("python3", "manage.py", "migrate", "--noinput"),
        )
        self.ex.run(docker.service_rm([name]))  # left over by an interrupted run
        self.ex.run(job.create_job(attempts=MIGRATE_ATTEMPTS))
        try:
            self._wait_job(name, version)
        finally:
            self.ex.run(docker.service_rm([name]))

    def _wait_job(self, name: str, version: str, timeout: float = 600.0) -> None:
        if self.ex.dry_run:
            return

        def done() -> bool | None:
            rows = [json.loads(line) for line in self.ex.run(docker.service_ps(name)).stdout.splitlines() if line.strip()]
            states = [str(row.get("CurrentState", "")) for row in rows]
            if any(state.startswith("Complete") for state in states):
                return True
            failed = [row for row in rows if str(row.get("CurrentState", "")).startswith(("Failed", "Rejected"))]
            if len(failed) >= MIGRATE_ATTEMPTS:
                logs = self.ex.run(
                    Command(
                        ("docker", "service", "logs", "--raw", "--tail", "20", name),
                        mutates=False,
                        check=False,
                        description=f"logs of {name}",
                    )
                )
                tail = (logs.stdout + logs.stderr).strip().splitlines()[-5:]
                raise NotReady(
                    f"migrating the database for {version} failed {len(failed)} times: {failed[-1].get('Error', '')}"
                    + ("\n" + "\n".join(tail) if tail else ""),
                    hint=f"pipeline logs {self.env.name} --service db",
                )
            return None

        poll.until(
            done,
            timeout,
            lambda: NotReady(f"{name}: not complete after {timeout:.0f} s", hint=f"docker service ps {name}"),
            max_delay=RELEASE_POLL,
        )

    def deploy_track(
        self,
        track: TrackName,
        version: str,
        faults: Faults | None = None,
        labels: dict[str, str] | None = None,
        timeout: float = 300.0,
    ) -> None:
        self.deploy_tracks([TrackPlan(track, version, faults, labels)], timeout=timeout)

    def deploy_tracks(self, plans: list[TrackPlan], timeout: float = 300.0) -> None:
        """Start every planned track at once (one migration per new version) and wait until all are healthy."""
        images = {plan.version: self.require_version(plan.version) for plan in plans}
        self.wait_services([self.service("db"), self.service("cache")], timeout=120)
        stable = self.track_labels("stable").get("pipeline.version")
        schema = self.migrations_of(image_ref(self.env.image.registry, self.env.image.name, stable)) if stable else None
        for version in dict.fromkeys(p.version for p in plans if p.track != "baseline" and p.version != stable):
            if (
                schema is not None
                and self.migrations_of(image_ref(self.env.image.registry, self.env.image.name, version)) == schema
            ):
                self.say(f"migrations: {version} has stable's migration files ({schema[:12]}): nothing to migrate")
                continue
            self.migrate(version, images[version])
        self._ensure_flags()
        started: list[tuple[TrackPlan, str, set[str], bool]] = []
        for plan in plans:
            spec = self.app_spec(plan.track, plan.version, images[plan.version], replicas=plan.replicas, faults=plan.faults)
            before = self.task_ids(spec.name) if self._inspect(spec.name) is not None else set()
            started.append((plan, spec.name, before, self._ensure_service(spec)))
        for plan, name, before, changed in started:
            # unchanged: the running tasks are the release; otherwise only new tasks count
            self.wait_update(
                name, plan.version, timeout=timeout, ignore=before if changed else set(), settle=plan.track == "stable"
            )
            if plan.labels:
                self.label_track(plan.track, plan.labels)

    def edge_at(self) -> tuple[Executor, str]:
        """The executor whose engine runs an edge, and its container (this target's own, on one node)."""
        return self.ex, self.edge_name

    def readiness(self, tracks: tuple[str, ...]) -> list[TaskReadiness]:
        """Every task of the tracks, asked from the edge for the app's readiness path (one exec)."""
        if self.ex.dry_run:
            return []
        pairs = [f"{track}={self.track_service(track)}" for track in tracks]
        ex, container = self.edge_at()
        command = docker.exec_(
            container,
            ["edge-ready", str(self.env.app.port), self.env.app.readiness_path, *pairs],
            mutates=False,
            description=f"ask the {', '.join(tracks)} tasks for {self.env.app.readiness_path}",
        )
        result = ex.run(command)
        if not result.ok:
            raise NotReady(f"the edge could not probe readiness: {result.stderr.strip()[:200]}", hint="make up ENV=…")
        probes = []
        for line in result.stdout.splitlines():
            track, _, rest = line.partition("\t")
            address, _, rest = rest.partition("\t")
            code, _, body = rest.partition("\t")
            if track and address:
                probes.append(TaskReadiness(track, address, int(code) if code.isdigit() else 0, body.strip()))
        if any(not p.ready for p in probes):  # name the tasks that are not ready (only then: it costs more reads)
            ids = self._task_addresses(tuple(dict.fromkeys(p.track for p in probes if not p.ready)))
            probes = [
                p if p.ready or p.task not in ids else TaskReadiness(p.track, ids[p.task], p.status, p.body) for p in probes
            ]
        return probes

    def _task_addresses(self, tracks: tuple[str, ...]) -> dict[str, str]:
        """Address -> "task-id (address)" for the running tasks of the tracks."""
        ids: list[str] = []
        for track in tracks:
            result = self.ex.run(docker.service_ps(self.track_service(track)))
            for line in result.stdout.splitlines():
                row = json.loads(line) if line.strip() else {}
                if row.get("DesiredState") == "Running" and row.get("ID"):
                    ids.append(row["ID"])
        if not ids:
            return {}
        result = self.ex.run(
            Command(("docker", "inspect", *ids), mutates=False, check=False, description="read the tasks' addresses")
        )
        found: dict[str, str] = {}
        for task in json.loads(result.stdout or "[]") if result.ok else []:
            for attachment in task.get("NetworksAttachments") or []:
                for address in attachment.get("Addresses") or []:
                    found[address.split("/")[0]] = f"{task.get('ID', '')[:12]} ({address.split('/')[0]})"
        return found

    def track_labels(self, track: TrackName) -> dict[str, str]:
        info = self._inspect(self.track_service(track)) or {}
        labels: dict[str, str] = info.get("Spec", {}).get("Labels", {}) or {}
        return labels

    def label_track(self, track: TrackName, add: dict[str, str], remove: tuple[str, ...] = ()) -> None:
        """Labels of the track's service (not of its tasks: nothing restarts)."""
        name = self.track_service(track)
        present = self.track_labels(track) if remove else {}
        argv = ["docker", "service", "update", "--detach", "--quiet"]
        for key, value in sorted(add.items()):
            argv += ["--label-add", f"{key}={value}"]
        for key in remove:
            if key in present:
                argv += ["--label-rm", key]
        if len(argv) == 5:
            return
        self.ex.run(Command((*argv, name), description=f"label {name}"))

    def remove_track(self, track: TrackName, wait: bool = True) -> None:
        """Empty a track: no tasks, and no deploy or warm marks left on it. ``wait=False``: the tasks
        are told to stop (they drain at weight 0) and this returns."""
        name = self.track_service(track)
        current = self._inspect(name)
        if current is None:
            return
        labels = current.get("Spec", {}).get("Labels", {}) or {}
        marks = tuple(k for k in (DEPLOY_LABEL, WARM_LABEL) if k in labels)
        argv = ["docker", "service", "update", "--detach", "--quiet", "--replicas", "0"]
        for key in marks:
            argv += ["--label-rm", key]
        self.ex.run(Command((*argv, name), description=f"empty the {track} track"))
        if wait and not self.ex.dry_run:
            poll.until(
                lambda: True if self._replicas().get(name, (0, 0))[0] == 0 else None,
                self.env.app.stop_grace_seconds + 30,
                lambda: NotReady(f"{name}: tasks still running after scaling to 0", hint=f"docker service ps {name}"),
            )

    def scale_track(self, track: TrackName, replicas: int) -> None:
        """More (or fewer) tasks of the running version; waits until they are healthy."""
        name = self.track_service(track)
        self.ex.run(docker.service_scale(name, replicas))
        self.wait_services([name], timeout=180)

    # --- canary operations --------------------------------------------------------
    def renew_lease(self, until: float | None) -> None:
        self.edge.renew_lease(until)

    def lease(self) -> float | str | None:
        return self.edge.lease()

    def send_command(self, command: str) -> None:
        self.edge.send_command(command)

    def take_command(self) -> str | None:
        return self.edge.take_command()

    def clear_command(self) -> None:
        self.edge.clear_command()

    def log_reader(self) -> Callable[[int], bytes]:
        return self.edge.log_reader()

    def log_size(self) -> int:
        return self.edge.log_size()

    def promote(self, version: str, previous: str | None) -> None:
        """The canary's own tasks become stable, in one reload that swaps the slots; the previous
        release keeps running, warm, on the other slot (``revert_to_previous`` swaps back).

        A canary smaller than stable is **handed over**: its slot is told to grow to stable's size,
        and the swap leaves the previous release the share the new tasks cannot carry yet (1 of 2
        tasks: 50 %, what that task carried at the last step); ``settle`` takes that share to 0 once
        every task of the new stable answers the readiness path. With no previous release to hand
        over to, the canary is scaled (and ready) before the swap. A canary whose tasks are gone (an
        orphan) is promoted the old way: a rolling update of stable."""
        canary = self.track_service("canary")
        labels = self.track_labels("canary")
        replicas = self._replicas()
        running = replicas.get(canary, (0, 0))[0]
        if labels.get("pipeline.version") != version or (running == 0 and not self.ex.dry_run):
            self._promote_by_update(version, previous)
            return
        want = max(self.env.tracks.stable.replicas, running)
        old_running = replicas.get(self.track_service("stable"), (0, 0))[0]
        if running < want and previous and (old_running > 0 or self.ex.dry_run):
            self.ex.run(docker.service_scale(canary, want))  # the new tasks start while the swap is in force
            share = max(1, min(99, round(100 * (want - running) / want)))
            self.swap_slots(Weights(share), lease_until=time.time() + HANDOVER_LEASE)
        else:
            if running < want:
                self.scale_track("canary", want)
                self._await_ready("canary", want)
            self.swap_slots(Weights(0))
        marks = {"pipeline.track": "stable", **({PREVIOUS_LABEL: previous} if previous else {})}
        self.label_track("stable", marks, (DEPLOY_LABEL,))
        if previous:
            self.label_track("canary", {"pipeline.track": "canary", WARM_LABEL: "previous"})
        else:
            self.remove_track("canary")

    def _promote_by_update(self, version: str, previous: str | None) -> None:
        self.deploy_track("stable", version)
        self.label_track("stable", {PREVIOUS_LABEL: previous} if previous else {})
        self.set_weights(Weights(0))
        if previous:
            self.deploy_track("canary", previous, faults=self.env.tracks.stable.faults, labels={WARM_LABEL: "previous"})
        else:
            self.remove_track("canary")

    def _await_ready(self, track: str, tasks: int) -> None:
        """Until ``tasks`` tasks of the track answer the readiness path (bounded), and the edge's DNS
        cache has seen them."""
        if self.ex.dry_run:
            return
        timeout = self.env.canary.readiness_timeout_seconds
        gap: list[str | None] = [None]

        def ready() -> bool | None:
            gap[0] = readiness_gap(self.readiness((track,)), track, tasks, self.env.app.readiness_path)
            return True if gap[0] is None else None

        def late() -> Exception:
            return NotReady(f"{track} tasks not ready after {timeout:g} s: {gap[0]}", hint=f"pipeline logs {self.env.name}")

        poll.until(ready, timeout, late, max_delay=RELEASE_POLL)
        time.sleep(self.env.edge.dns_ttl_seconds)

    def swap_slots(self, weights: Weights, lease_until: float | None = None) -> None:
        """Stable and canary swap services, with new weights, in one reload of the edge."""
        swapped = self.slots().swapped()
        self.edge.set_weights(weights, lease_until if lease_until is not None else time.time() + 600, swapped)
        self._slots = swapped

    def settle(self, probes: list[TaskReadiness] | None = None) -> bool:
        """After a hand-over: once every task of the new stable runs and has answered the readiness
        path for a DNS TTL (the edge resolves them by then), the previous release's share goes to 0.
        True when the promotion is settled (all traffic on stable). ``probes``: the controller's
        fresh answer of the tasks (else they are probed here); with them, a new stable that is not
        all ready yet costs one read of the services, not a read of the edge as well."""
        # without probes, look at the edge first (a settled promotion needs no probe); with them,
        # only once they say the new stable is ready
        handed = None if probes is not None else self._handed_over()
        if handed is False:
            return True
        name = self.track_service("stable")
        running, desired = self._replicas().get(name, (0, 0))
        if running < desired:
            probes = []
        elif probes is None:
            probes = self.readiness(("stable",))
        if not probes or readiness_gap(probes, "stable", desired, self.env.app.readiness_path) is not None:
            self._ready_since = None
            return False
        if handed is None and not self._handed_over():  # settled already (or never a hand-over)
            return True
        now = time.monotonic()
        if self._ready_since is None:
            self._ready_since = now
        if now - self._ready_since < self.env.edge.dns_ttl_seconds:
            return False
        self.set_weights(Weights(0))
        self._ready_since = None
        return True

    def _handed_over(self) -> bool:
        """Does the previous release (warm, on the canary's slot) still carry a share?"""
        weights = self.weights()
        handed = weights is not None and weights.canary > 0 and self.track_labels("canary").get(WARM_LABEL) == "previous"
        if not handed:
            self._ready_since = None
        return handed

    def revert_to_previous(self, previous: str) -> None:
        """Back to the previous release in one step. While it is warm (the bake after a promotion) that
        is one reload that swaps the slots back: its running tasks take all traffic, nothing starts.
        Otherwise a rolling update of stable to it."""
        labels = self.track_labels("canary")
        running = self._replicas().get(self.track_service("canary"), (0, 0))[0]
        warm = labels.get(WARM_LABEL) == "previous" and labels.get("pipeline.version") == previous
        if warm and (running > 0 or self.ex.dry_run):
            self.swap_slots(Weights(0))
            self.label_track("stable", {"pipeline.track": "stable"}, (WARM_LABEL,))
            self.label_track("canary", {"pipeline.track": "canary"})
            self.remove_track("canary", wait=False)  # drops its deploy mark; the failed release drains at weight 0
            return
        if warm and running == 0:
            self.label_track("canary", {}, (WARM_LABEL,))
        self.deploy_track("stable", previous)
        self.set_weights(Weights(0))
        self.remove_track("canary")

    # --- weights ----------------------------------------------------------------
    def set_weights(self, weights: Weights, lease_until: float | None = None) -> None:
        """Split traffic; a canary weight above 0 is held until ``lease_until`` (None: until changed)."""
        self.edge.set_weights(weights, lease_until, self.slots())

    def weights(self) -> Weights | None:
        return self.edge.weights()

    def _edge_running(self) -> bool:
        return self.edge.running()

    # --- the deploy lock (a swarm config: creating it is atomic) ------------------
    @property
    def lock_name(self) -> str:
        return self.service("lock")

    def read_lock(self) -> LockInfo | None:
        result = self.ex.run(
            Command(
                ("docker", "config", "inspect", "--format", "{{json .Spec.Data}}", self.lock_name),
                mutates=False,
                check=False,
                description="read the deploy lock",
            )
        )
        if not result.ok:
            return None
        return LockInfo.from_json(base64.b64decode(json.loads(result.stdout)).decode())

    def acquire_lock(self, info: LockInfo) -> None:
        argv = ["docker", "config", "create", "--label", f"{LABEL}={self.env.name}", self.lock_name, "-"]
        result = self.ex.run(Command(tuple(argv), stdin=info.to_json(), check=False, description="take the deploy lock"))
        if result.ok:
            return
        held = self.read_lock()
        if held is None:
            raise NotReady(f"could not take the deploy lock: {result.stderr.strip()}", hint="retry")
        stale = " The holder's process is gone: the lock is stale." if held.alive() is False else ""
        raise Locked(
            f"{self.env.name} is locked by {held.describe()}.{stale}",
            hint=f"wait for it, or break it: pipeline lock break {self.env.name}",
        )

    def release_lock(self) -> None:
        self.ex.run(Command(("docker", "config", "rm", self.lock_name), check=False, description="release the deploy lock"))

    # --- status -------------------------------------------------------------------
    def status(self) -> Status:
        replicas = self._replicas()
        tracks: dict[str, TrackStatus] = {}
        services: dict[str, ServiceStatus] = {}
        track_labels: dict[str, dict[str, str]] = {}
        self._slots = None  # read afresh: another process (the running controller) may have swapped them
        slots = self.slots()
        for name, (running, desired) in sorted(replicas.items()):
            part = name.removeprefix(self.stack + "-")
            if part.startswith("app-"):
                slot = part.removeprefix("app-")
                track = slots.track_of(slot) or slot  # a slot of no track (left from another pair) shows as itself
                info = self._inspect(name) or {}
                labels = info.get("Spec", {}).get("Labels", {}) or {}
                track_labels[track] = labels
                update = (info.get("UpdateStatus") or {}).get("State", "")
                version = labels.get("pipeline.version") if desired else None
                tracks[track] = TrackStatus(track, version, desired, running, update, service=name)
            else:
                services[part] = ServiceStatus(part, desired, running)
        tracks = {t: tracks.get(t, TrackStatus(t, None, 0, 0)) for t in ALL_TRACKS} | tracks
        edge_running = self._edge_running()
        weights = self.weights() if edge_running else None
        lock = self.read_lock()
        lease = self.edge.lease() if edge_running else None
        return Status(
            self.env.name,
            self.kind,
            self.url,
            edge_running,
            weights,
            tracks,
            services,
            canary_state=canary_state(tracks["canary"], track_labels.get("canary", {}), weights, lock, lease),
            lock=lock.as_dict() if lock else None,
            lease=lease,
        )

    # --- down and logs -------------------------------------------------------------
    def down(self, volumes: bool = False) -> None:
        names = sorted(self._replicas())
        if names:
            self.ex.run(docker.service_rm(names))
        self.ex.run(docker.container_rm(self.edge_name))
        self.ex.run(docker.container_rm(self.prometheus_name))
        self.ex.run(docker.container_rm(self.alertmanager_name))
        self._until_gone(
            lambda: self.ex.run(docker.network_inspect(self.network)).ok, lambda: self.ex.run(docker.network_rm(self.network))
        )
        if volumes:
            for volume in ("db-data", "edge-conf", "edge-logs", *WATCHER_VOLUMES):
                self._remove_volume(self.service(volume))
            self.ex.run(Command(("rm", "-rf", str(self.flag_delivery().directory)), check=False, description="remove the flags"))
            for config in ("secrets", "lock"):
                self.ex.run(
                    Command(("docker", "config", "rm", self.service(config)), check=False, description=f"remove {config}")
                )
            names = self.ex.run(docker.secret_ls(f"pipeline.stack={self.stack}")).stdout.split()
            if names:
                self.ex.run(docker.secret_rm(sorted(names)))

    def _remove_volume(self, name: str) -> None:
        inspect = Command(("docker", "volume", "inspect", name), mutates=False, check=False, description="read volume")
        self._until_gone(lambda: self.ex.run(inspect).ok, lambda: self.ex.run(docker.volume_rm(name)))

    def _until_gone(self, exists: Callable[[], bool], remove: Callable[[], object], timeout: float = 60.0) -> None:
        """Remove something that may still be in use by tasks that are stopping; fail loudly if it stays."""
        if self.ex.dry_run:
            remove()
            return
        deadline = time.monotonic() + timeout
        while exists():
            remove()
            if not exists():
                return
            if time.monotonic() > deadline:
                raise NotReady("could not remove an object still in use after 60 s", hint="docker ps -a; then retry `down`")
            time.sleep(1)

    def logs(self, service: str, tail: int, follow: bool) -> None:
        if service == "edge":
            command = docker.container_logs(self.edge_name, tail, follow)
        elif service.startswith("app-"):  # a track: whichever slot serves it now
            command = docker.service_logs(self.track_service(service.removeprefix("app-")), tail, follow)
        else:
            command = docker.service_logs(self.service(service), tail, follow)
        subprocess.run(list(command.argv), check=False)

    def read_logs(self, parts: Sequence[str], query: LogQuery) -> list[LogFeed]:
        """Each part's lines in the query's window, with their times: every task's of a service
        (``docker service logs``), the edge's own and its access log, Prometheus's container.
        ``parts`` empty: every part there is (a baseline during a release, Prometheus when enabled)."""
        window = window_args(query)
        present = self._replicas()
        feeds: list[LogFeed] = []
        for part in parts or LOG_PARTS:
            if part == "edge":
                command, form = self.edge.own_log(window)
                feeds.append(feed_of(self.ex.run(command), "edge", form, self.edge_name if form == "stamped" else ""))
                feeds += self.edge.access_logs(file_lines(query))
            elif part in ("prometheus", "alertmanager"):
                if parts or self.env.observability.enabled:
                    name = self.prometheus_name if part == "prometheus" else self.alertmanager_name
                    read = docker.container_log_lines(name, window)
                    feeds.append(feed_of(self.ex.run(read), part, "stamped", name))
            elif self.service_name(part) in present:
                feeds.append(feed_of(self.ex.run(docker.service_log_lines(self.service_name(part), window)), part, "service"))
            elif parts:
                feeds.append(LogFeed(part, "service", error=f"no service {self.service_name(part)} runs"))
        return feeds
