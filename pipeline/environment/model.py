"""The typed model of an environment. Unknown keys are rejected everywhere."""

from __future__ import annotations

import math
import re
from itertools import pairwise
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from pipeline.environment import kinds
from pipeline.environment.base import Strict
from pipeline.environment.chaos import Chaos
from pipeline.environment.ecs import Ecs
from pipeline.environment.observability import Observability
from pipeline.environment.perf import Perf
from pipeline.environment.swarm import Swarm
from pipeline.environment.vm import Vm

Port = Annotated[int, Field(ge=1, le=65535)]
Share = Annotated[float, Field(ge=0.0, le=1.0)]


class Target(Strict):
    """Where the environment runs."""

    kind: str = Field(default="local", description=f"the kind of target: one of {', '.join(kinds.names())}")
    stack: str = Field(default="", description="prefix of every object the target creates")

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        misfit = kinds.unknown(value)
        if misfit is not None:
            raise PydanticCustomError("target_kind", "{message}", {"message": misfit.message, "hint": misfit.hint})
        return value

    @field_validator("stack")
    @classmethod
    def _stack_name(cls, value: str) -> str:
        if value and not re.fullmatch(r"[a-z][a-z0-9-]{0,30}", value):
            raise ValueError("must be lowercase letters, digits and '-', starting with a letter")
        return value


class Sticky(Strict):
    """How the edge picks a track for a request: per request, or sticky per user."""

    by: Literal["request", "cookie", "header"] = "request"
    name: str = ""

    @model_validator(mode="after")
    def _name_needed(self) -> Sticky:
        if self.by != "request" and not re.fullmatch(r"[A-Za-z0-9_-]+", self.name):
            raise ValueError(f"sticky by {self.by} needs a name (letters, digits, '-', '_')")
        return self


class Edge(Strict):
    """The nginx edge in front of the tracks."""

    bind: Literal["127.0.0.1", "0.0.0.0"] = "127.0.0.1"
    port: Port = 8080
    publish: Literal["container", "ingress"] = Field(
        default="container",
        description="container: an edge container on the overlay, published on `bind` only "
        "(works without IPVS); ingress: a swarm service behind the routing mesh",
    )
    dns_ttl_seconds: Annotated[int, Field(ge=1, le=60)] = 1
    sticky: Sticky = Sticky()
    max_body_mb: Annotated[int, Field(ge=1, le=1024)] = 2
    retries: Annotated[int, Field(ge=1, le=5)] = 3


class Image(Strict):
    """How images are built and where they are pushed."""

    name: str = "refapp"
    registry: str = "127.0.0.1:5000"
    base: str | None = Field(
        default=None,
        description="a public base image (e.g. debian:bookworm-slim) for machines that can "
        "pull; null builds the base locally with debootstrap",
    )
    suite: str = "bookworm"

    @field_validator("name")
    @classmethod
    def _image_name(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9]+([._/-][a-z0-9]+)*", value):
            raise ValueError("must be a lowercase image name such as 'refapp'")
        return value


class Faults(Strict):
    """The app's fault knobs, off by default; used to build bad releases on purpose.

    ``paths`` and ``methods`` narrow the error and latency faults (to some endpoints, to
    writes); ``latency_share`` adds the latency to that share of requests only;
    ``after_seconds`` holds every fault (readiness too) back until the task has run that
    long. Lists may also be given as one comma-separated string (``--fault paths=/a,/b``).
    """

    error_rate: Share = 0.0
    latency_ms: Annotated[int, Field(ge=0, le=60_000)] = 0
    latency_share: Share = 1.0
    paths: list[str] = Field(default_factory=list, description="path prefixes, e.g. /api/notes; empty: every path")
    methods: list[Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]] = Field(
        default_factory=list, description="e.g. [POST] for writes only; empty: every method"
    )
    after_seconds: Annotated[float, Field(ge=0.0, le=86_400.0)] = 0.0
    readiness_fail: bool = False
    exit_at_start: bool = False

    @field_validator("paths", "methods", mode="before")
    @classmethod
    def _comma_list(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, str):
            value = [item.strip() for item in value.split(",") if item.strip()]
        if info.field_name == "methods" and isinstance(value, list):
            value = [item.upper() if isinstance(item, str) else item for item in value]
        return value

    @field_validator("paths")
    @classmethod
    def _path_prefixes(cls, value: list[str]) -> list[str]:
        for path in value:
            if not re.fullmatch(r"/[^\s,?#]*", path):
                raise ValueError(f"'{path}' is not a path prefix such as /api/notes (no query, no spaces)")
        return value

    def as_env(self) -> dict[str, str]:
        return {
            "FAULT_ERROR_RATE": repr(self.error_rate),
            "FAULT_LATENCY_MS": str(self.latency_ms),
            "FAULT_LATENCY_SHARE": repr(self.latency_share),
            "FAULT_PATHS": ",".join(self.paths),
            "FAULT_METHODS": ",".join(self.methods),
            "FAULT_AFTER_SECONDS": repr(self.after_seconds),
            "FAULT_READINESS_FAIL": "1" if self.readiness_fail else "0",
            "FAULT_EXIT_AT_START": "1" if self.exit_at_start else "0",
        }


class Track(Strict):
    """One track (stable or canary) of the app."""

    replicas: Annotated[int, Field(ge=0, le=50)] = 2
    faults: Faults = Faults()


class Tracks(Strict):
    stable: Track = Track(replicas=2)
    canary: Track = Track(replicas=1)


#: A name under ``app.secrets``: an environment variable name, short enough for a Swarm secret's name.
SECRET_NAME_MAX = 40
SECRET_NAME = re.compile(rf"[A-Z][A-Z0-9_]{{0,{SECRET_NAME_MAX - 1}}}")
#: Variables every kind sets in the app's environment itself (besides APP_*): no app secret takes their names.
PIPELINE_VARIABLES = frozenset({"DATABASE_URL", "DATABASE_PASSWORD", "REDIS_URL", "DJANGO_SECRET_KEY", "FORWARDED_ALLOW_IPS"})


class App(Strict):
    """How the app's services run."""

    endpoint_mode: Literal["dnsrr", "vip"] = Field(
        default="dnsrr", description="dnsrr where the kernel has no IPVS; vip on real clusters"
    )
    port: Port = 8000
    stop_grace_seconds: Annotated[int, Field(ge=1, le=300)] = 20
    drain_seconds: Annotated[int, Field(ge=0, le=60)] = 3
    env: dict[str, str] = Field(default_factory=dict)
    secrets: list[str] = Field(
        default_factory=list,
        description="names of the app's own secrets (set with `pipeline secrets set ENV NAME`); each task reads "
        "NAME from the file NAME_FILE names (/run/secrets/NAME), never from its environment",
    )
    upload_max_bytes: Annotated[int, Field(ge=1, le=1 << 30)] = Field(default=1_048_576, description="at most 1 GiB")
    upload_max_files: Annotated[int, Field(ge=1, le=100)] = 5
    readiness_path: str = Field(
        default="/readyz",
        description="the app's readiness endpoint: no task gets canary traffic before it answers 200 there",
    )
    max_tasks: Annotated[int, Field(ge=1, le=500)] = Field(
        default=20,
        description="the most app tasks the environment may run at once during a release (stable + canary + baseline)",
    )

    @field_validator("readiness_path")
    @classmethod
    def _readiness_path(cls, value: str) -> str:
        if not re.fullmatch(r"/[A-Za-z0-9._~/-]{0,200}", value) or "//" in value or "/../" in f"{value}/":
            raise ValueError(f"'{value}' is not a path such as /readyz (letters, digits, '/', '.', '_', '-', '~')")
        return value

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", key):
                raise ValueError(f"'{key}' is not an environment variable name (A-Z, 0-9, _)")
        return value

    @field_validator("secrets")
    @classmethod
    def _secret_names(cls, value: list[str]) -> list[str]:
        seen: set[str] = set()
        for name in value:
            if not SECRET_NAME.fullmatch(name):
                raise ValueError(
                    f"'{name}' is not a secret name (an environment variable name: A-Z, 0-9, _, "
                    f"starting with a letter, at most {SECRET_NAME_MAX} characters)"
                )
            if name in seen:
                raise ValueError(f"'{name}' is listed twice")
            if name in PIPELINE_VARIABLES or name.startswith("APP_") or name.endswith("_FILE"):
                raise ValueError(
                    f"'{name}' is a name the pipeline sets itself (APP_*, {', '.join(sorted(PIPELINE_VARIABLES))}, *_FILE)"
                )
            seen.add(name)
        return value

    @model_validator(mode="after")
    def _secrets_apart_from_env(self) -> App:
        for name in self.secrets:
            for key in (name, f"{name}_FILE"):
                if key in self.env:
                    raise ValueError(
                        f"secrets: {name} is a secret, but app.env sets {key} too (which would win is a guess); "
                        "remove it from app.env"
                    )
        return self


class Thresholds(Strict):
    """Analysis thresholds of one canary step."""

    max_error_rate: Share = 0.01
    max_p95_ms: Annotated[float, Field(gt=0)] = 500.0
    max_p99_ms: Annotated[float, Field(gt=0)] = 1000.0
    max_error_rate_ratio: Annotated[float, Field(ge=1.0)] = 2.0
    error_alpha: Annotated[float, Field(gt=0.0, lt=1.0)] = Field(
        default=0.01,
        description="an error rate over its limit fails only when that is significant at this level (binomial test)",
    )
    max_latency_ratio: Annotated[float, Field(ge=1.0)] = 1.5
    min_latency_delta_ms: Annotated[float, Field(ge=0.0)] = Field(
        default=10.0, description="a latency difference smaller than this never fails a relative check"
    )
    min_requests: Annotated[int, Field(ge=0)] = 20
    mann_whitney_alpha: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.05
    latency_confidence: Annotated[float, Field(gt=0.0, lt=1.0)] = Field(
        default=0.95,
        description="a latency check fails a step only when the canary is slower than its limit at this confidence "
        "(a quantile test, strictly between 0 and 1)",
    )
    effect_size_tolerance: Annotated[float, Field(ge=0.0, le=1.0)] = 0.2


class Canary(Strict):
    """The canary policy: traffic steps, how long each is held, and its analysis."""

    steps: list[Annotated[int, Field(ge=1, le=100)]] = Field(default_factory=lambda: [5, 25, 50])
    compare_with: Literal["baseline", "stable"] = Field(
        default="baseline",
        description="baseline: the canary is judged against the stable version started afresh beside it, with the same "
        "task count and the same share of traffic (both equally cold); stable: against the stable track itself",
    )
    readiness_timeout_seconds: Annotated[float, Field(gt=0, le=900)] = Field(
        default=60.0, description="how long the canary's tasks may take to answer app.readiness_path before it is rolled back"
    )
    step_seconds: Annotated[float, Field(gt=0, le=3600)] = 10.0
    max_step_extensions: Annotated[int, Field(ge=0, le=10)] = Field(
        default=2,
        description="how many more step_seconds a step may be held for lack of data (it moves on as soon as there "
        "is enough); still too little data after that rolls the canary back",
    )
    latency_windows: Annotated[int, Field(ge=2, le=5)] = Field(
        default=2,
        description="consecutive fresh holds of a step a latency check must fail in before the canary is rolled "
        "back (at least 2: a latency failure must persist); error checks always act at once",
    )
    bake_seconds: Annotated[float, Field(ge=0, le=86_400)] = 60.0
    synthetic_rps: Annotated[int, Field(ge=0, le=1000)] = Field(
        default=0, description="requests/s of k6 traffic sent to the edge on 127.0.0.1 during the walk; 0 = off"
    )
    thresholds: Thresholds = Thresholds()
    perf_gate_at: Annotated[int, Field(ge=1, le=100)] | None = Field(
        default=None,
        description="run the relative perf gate (canary vs stable, k6) once this step's weight is held; "
        "a failed gate rolls the canary back",
    )
    metrics: Literal["edge", "prometheus", "both"] = Field(
        default="edge",
        description="what the canary is judged on: edge, the edge's access log (what users saw); prometheus, "
        "the app's metrics in the stack's Prometheus (observability.enabled); both: judged on the edge's log, "
        "and Prometheus's request counts must agree with it per track and window (sources_agree)",
    )
    metrics_tolerance: Annotated[float, Field(gt=0, le=1)] = Field(
        default=0.1,
        description="with metrics: both, how far the two request counts of a track over a window may be apart, "
        "as a share of the larger: |edge - prometheus| <= max(tolerance * n, 2 * n * scrape_seconds / window "
        "seconds, 5), n = the larger count (pipeline/analysis/combined.py)",
    )

    @field_validator("steps")
    @classmethod
    def _increasing(cls, value: list[int]) -> list[int]:
        if not value:
            raise ValueError("needs at least one step")
        if any(b <= a for a, b in pairwise(value)):
            raise ValueError(f"weights must strictly increase, got {value}")
        return value

    @model_validator(mode="after")
    def _gate_at_a_step(self) -> Canary:
        if self.perf_gate_at is not None and self.perf_gate_at not in self.steps:
            raise ValueError(f"perf_gate_at {self.perf_gate_at} is not one of the steps {self.steps}")
        if self.compare_with == "baseline" and self.steps[-1] > 50:
            raise ValueError(
                f"steps: {self.steps[-1]} % is more than 50: with compare_with: baseline the canary and its baseline "
                "each take a step's weight (drop the steps above 50, promotion follows the last step, "
                "or set compare_with: stable)"
            )
        return self

    @property
    def tracks_judged(self) -> tuple[str, ...]:
        """The tracks a release starts beside stable: the canary, and its baseline when the policy has one."""
        return ("canary", "baseline") if self.compare_with == "baseline" else ("canary",)

    def release_tasks(self, stable: int, canary: int) -> int:
        """Tasks of the canary (and of its baseline) for the whole walk, started before any traffic: enough that
        no task carries more of the traffic at the last step than a stable task carried before the release."""
        need = math.ceil(max(stable, 1) * self.steps[-1] / 100)
        return max(1, canary, min(need, max(stable, 1)))


class Environment(Strict):
    """Everything about one environment."""

    name: str = ""
    target: Target = Target()
    edge: Edge = Edge()
    image: Image = Image()
    tracks: Tracks = Tracks()
    app: App = App()
    canary: Canary = Canary()
    perf: Perf = Perf()
    chaos_allowed: bool = False
    ecs: Ecs | None = None  # kind: ecs (pipeline/environment/ecs.py)
    chaos: Chaos = Chaos()
    observability: Observability = Observability()
    vm: Vm | None = Field(default=None, description="kind: vm only: hosts, SSH, domain, ACME (pipeline/environment/vm.py)")
    swarm: Swarm | None = Field(
        default=None, description="kind: swarm only: nodes, edge nodes, virtual IP (pipeline/environment/swarm.py)"
    )

    @model_validator(mode="after")
    def _fits_its_kind(self) -> Environment:
        """Its kind's section and no other kind's, and only what the kind can do (``kinds.misfits``)."""
        present = [key for key in kinds.sections() if getattr(self, key) is not None]
        found = kinds.misfits(
            self.target.kind, present, self.canary.compare_with, bool(self.app.secrets), self.observability.enabled
        )
        if found:
            first = found[0]
            raise PydanticCustomError(
                "target_kind", "{key}: {message}", {"key": first.key, "message": first.message, "hint": first.hint}
            )
        return self

    @model_validator(mode="after")
    def _metrics_read(self) -> Environment:
        """``canary.metrics`` names a Prometheus only where the stack runs one."""
        if self.canary.metrics != "edge" and not self.observability.enabled:
            raise PydanticCustomError(
                "canary_metrics",
                "{key}: {message}",
                {
                    "key": "canary.metrics",
                    "message": f"{self.canary.metrics} reads the stack's Prometheus, but observability.enabled is false",
                    "hint": "set observability.enabled: true (kind local), or canary.metrics: edge",
                },
            )
        return self

    @model_validator(mode="after")
    def _ports_apart(self) -> Environment:
        if self.swarm is not None and self.swarm.replica_port == self.edge.port:
            raise PydanticCustomError(
                "swarm",
                "{key}: {message}",
                {
                    "key": "swarm.replica_port",
                    "message": f"{self.swarm.replica_port} is edge.port: the relay on each edge node takes that port",
                    "hint": "give the edge replicas a port of their own (the default is 18080)",
                },
            )
        return self

    @model_validator(mode="after")
    def _release_fits(self) -> Environment:
        size = self.canary.release_tasks(self.tracks.stable.replicas, self.tracks.canary.replicas)
        judged = self.canary.tracks_judged
        total = self.tracks.stable.replicas + size * len(judged)
        if total > self.app.max_tasks:
            parts = " + ".join(f"{t} {size}" for t in judged)
            raise ValueError(
                f"app.max_tasks: a release needs stable {self.tracks.stable.replicas} + {parts} = {total} app tasks, "
                f"more than app.max_tasks {self.app.max_tasks} (lower tracks.canary.replicas, raise app.max_tasks, "
                "or set canary.compare_with: stable)"
            )
        return self

    @property
    def stack(self) -> str:
        return self.target.stack or f"pl-{self.name}"
