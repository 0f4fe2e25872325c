"""The nginx edge: its configuration, the traffic split and reading the split back.

Two files live in the edge's config volume (``/etc/nginx/pipeline``):
``nginx.conf`` (rendered once per ``up``) and ``split.conf`` (rewritten on every
weight change and applied with a graceful reload). ``split.conf`` starts with a
``# pipeline-weights: {...}`` line, so the weights are read back from the edge itself.

On the local target ``split.conf`` also holds the **slots**: the app runs in two services
(``app-blue`` and ``app-green``) and a ``# pipeline-slots: {...}`` line with its
``map $pl_route $pl_backend`` block says which one is the stable track and which the
canary. A promotion swaps them, with the weights, in one graceful reload: the canary's
tasks, already running and judged, become stable; nothing restarts.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.environment import Environment
from pipeline.errors import UserError

CONF_DIR = "/etc/nginx/pipeline"
LOG_PATH = "/var/log/nginx/pipeline/access.json"
EDGE_PORT = 8080
#: where an edge replica of the swarm kind takes requests from the relay on an edge node (PROXY protocol)
EDGE_RELAY_PORT = 8081
# nginx's stub_status for Prometheus's exporter: a listener on the stack's network, never published
EDGE_STATUS_PORT = 8082
WEIGHTS_MARK = "# pipeline-weights: "
SLOTS_MARK = "# pipeline-slots: "
# A request may pick its track with PIN_TRACK_HEADER only when it also carries the
# environment's secret PIN_TOKEN_HEADER (the perf gate's canary-vs-stable run); the public cannot.
PIN_TRACK_HEADER = "X-Pipeline-Track"
PIN_TOKEN_HEADER = "X-Pipeline-Token"

LOG_FORMAT = (
    '{"time":"$time_iso8601","msec":$msec,"track":"$pl_route","method":"$request_method",'
    '"uri":"$uri","status":$status,"upstream_addr":"$upstream_addr",'
    '"upstream_status":"$upstream_status","request_time":$request_time,'
    '"upstream_response_time":"$upstream_response_time",'
    '"upstream_connect_time":"$upstream_connect_time","bytes_sent":$bytes_sent,'
    '"request_length":$request_length,"request_id":"$request_id",'
    '"version":"$upstream_http_x_app_version","pinned":"$pl_pin_ok","traceparent":"$http_traceparent"}'
)


@dataclass(frozen=True)
class Weights:
    """Shares of traffic (percent) for the canary and its baseline; the rest is stable's."""

    canary: int = 0
    baseline: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.canary <= 100:
            raise UserError(f"canary weight {self.canary} is out of range", hint="a weight is 0 to 100 percent")
        if not 0 <= self.baseline <= 100 - self.canary:
            raise UserError(
                f"baseline weight {self.baseline} does not fit beside canary {self.canary}",
                hint="canary and baseline together are at most 100 percent",
            )

    @property
    def stable(self) -> int:
        return 100 - self.canary - self.baseline

    def as_dict(self) -> dict[str, int]:
        return {"stable": self.stable, "canary": self.canary, "baseline": self.baseline}


@dataclass(frozen=True)
class Slots:
    """Which service (``<stack>-app-<slot>``) serves the stable track and which the canary.

    The baseline always has its own service. Environments made before slots keep their
    services' names: their slots are ``stable`` and ``canary`` (``LEGACY_SLOTS``), swapped
    like any other pair."""

    stable: str = "blue"
    canary: str = "green"

    def __post_init__(self) -> None:
        if self.stable == self.canary or not all(s in SLOT_NAMES for s in (self.stable, self.canary)):
            raise UserError(f"slots {self.stable}/{self.canary} are not two of {', '.join(SLOT_NAMES)}", hint="pipeline up")

    def of(self, track: str) -> str:
        """The slot (service suffix) of a track."""
        if track == "stable":
            return self.stable
        if track == "canary":
            return self.canary
        return track

    def track_of(self, slot: str) -> str | None:
        """The track a slot serves now (None: not an app slot of this pair)."""
        if slot == self.stable:
            return "stable"
        if slot == self.canary:
            return "canary"
        return "baseline" if slot == "baseline" else None

    def swapped(self) -> Slots:
        return Slots(self.canary, self.stable)

    def as_dict(self) -> dict[str, str]:
        return {"stable": self.stable, "canary": self.canary}


SLOT_NAMES = ("blue", "green", "stable", "canary")
FRESH_SLOTS = Slots("blue", "green")
LEGACY_SLOTS = Slots("stable", "canary")


def upstream_host(env: Environment, track: str, slots: Slots = LEGACY_SLOTS) -> str:
    return f"{env.stack}-app-{slots.of(track)}"


def split_key(env: Environment) -> str:
    sticky = env.edge.sticky
    if sticky.by == "cookie":
        return f"$cookie_{sticky.name}"
    if sticky.by == "header":
        return "$http_" + sticky.name.lower().replace("-", "_")
    return "$request_id"


def pin_token(secret_key: str) -> str:
    """The environment's track-pin token, derived from one of its generated secrets (nothing new to store)."""
    return hmac.new(secret_key.encode(), b"pipeline track pin", hashlib.sha256).hexdigest()[:40]


def render_split(env: Environment, weights: Weights, slots: Slots | None = None) -> str:
    """The ``split_clients`` block; sticky keys fall back to the request id when absent. With ``slots``
    (the local target) also the map from a track to the service that serves it (``$pl_backend``)."""
    key = split_key(env)
    lines = [WEIGHTS_MARK + json.dumps(weights.as_dict(), sort_keys=True)]
    if slots is not None:
        lines.append(SLOTS_MARK + json.dumps(slots.as_dict(), sort_keys=True))
    lines.append("# written by the pipeline; applied with a graceful reload")
    if slots is not None:  # the edge-watchdog keeps this block as it is when it resets the weights
        lines += [
            "map $pl_route $pl_backend {",
            f"    canary {upstream_host(env, 'canary', slots)};",
            f"    baseline {upstream_host(env, 'baseline', slots)};",
            f"    default {upstream_host(env, 'stable', slots)};",
            "}",
        ]
    if key != "$request_id":
        lines += [f"map {key} $pl_split_key {{", '    "" $request_id;', f"    default {key};", "}"]
        key = "$pl_split_key"
    lines.append(f'split_clients "{key}" $pl_track {{')
    shares = [(t, w) for t, w in (("canary", weights.canary), ("baseline", weights.baseline), ("stable", weights.stable)) if w]
    for track, weight in shares[:-1]:
        lines.append(f"    {weight}% {track};")
    lines.append(f"    * {shares[-1][0]};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def parse_weights(text: str) -> Weights | None:
    for line in text.splitlines():
        if line.startswith(WEIGHTS_MARK):
            data = json.loads(line.removeprefix(WEIGHTS_MARK))
            return Weights(canary=int(data["canary"]), baseline=int(data.get("baseline", 0)))
    return None


def parse_slots(text: str) -> Slots | None:
    """The slots a ``split.conf`` names; None for a file written before slots (or by another kind)."""
    for line in text.splitlines():
        if line.startswith(SLOTS_MARK):
            data = json.loads(line.removeprefix(SLOTS_MARK))
            return Slots(stable=str(data["stable"]), canary=str(data["canary"]))
    return None


def lease_value(until: float | None) -> str:
    """The lease as written to the edge's lease file: an epoch second, or ``forever``."""
    return "forever" if until is None else f"{until:.0f}"


def parse_lease(text: str) -> float | str | None:
    """The lease file's content: an epoch second, ``"forever"``, or None when there is none."""
    text = text.strip()
    if text == "forever":
        return text
    try:
        return float(text)
    except ValueError:
        return None


def render_pin(token: str | None) -> str:
    """The maps that choose ``$pl_route``, the track that serves a request: the split's ``$pl_track``
    (split.conf), unless the request pins its track with the token. split.conf's format does not
    change with this, so an edge upgraded in place keeps its weights and its config stays valid."""
    if not token:
        return """map $host $pl_pin_ok {
        default 0;
    }
    map $pl_track $pl_route {
        default $pl_track;
    }"""
    if not token.isalnum():
        raise UserError("the track-pin token must be letters and digits", hint="it is derived by the pipeline")
    return f"""map $http_x_pipeline_token $pl_pin_ok {{
        default 0;
        "{token}" 1;
    }}
    map "$pl_pin_ok:$http_x_pipeline_track" $pl_route {{
        "1:stable" stable;
        "1:canary" canary;
        "1:baseline" baseline;
        default $pl_track;
    }}"""


def render_relay(relay_from: Sequence[str]) -> str:
    """The listener the relay (haproxy on every edge node of a swarm) reaches: the PROXY protocol
    carries the client's own address, believed only from the relays' addresses."""
    if not relay_from:
        return ""
    for address in relay_from:
        ipaddress.ip_address(address)  # ValueError: the swarm model holds node addresses to IPs
    trusted = "".join(f"\n        set_real_ip_from {address};" for address in relay_from)
    return f"""
        # requests through the relay on an edge node: its PROXY header names the client{trusted}
        real_ip_header proxy_protocol;
        listen {EDGE_RELAY_PORT} proxy_protocol;"""


def render_nginx_conf(env: Environment, token: str | None = None, relay_from: Sequence[str] = ()) -> str:
    """The edge's whole nginx.conf (the split is included from split.conf); ``relay_from``: the
    addresses of the relays in front of it (the swarm kind's edge nodes), none elsewhere."""
    ttl = env.edge.dns_ttl_seconds
    port = env.app.port
    return f"""# written by the pipeline for environment {env.name}; do not edit by hand
worker_processes auto;
pid /run/nginx.pid;
error_log /dev/stderr warn;
events {{ worker_connections 4096; }}

http {{
    log_format pl_json escape=json '{LOG_FORMAT}';
    access_log {LOG_PATH} pl_json;
    server_tokens off;
    sendfile on;
    keepalive_timeout 65;
    client_max_body_size {env.edge.max_body_mb}m;

    # Docker's embedded DNS: a track's name resolves to all its healthy tasks (dnsrr).
    resolver 127.0.0.11 valid={ttl}s ipv6=off;
    resolver_timeout 2s;

    # the weights, and which service serves each track ($pl_backend): one file, one reload
    include {CONF_DIR}/split.conf;
    {render_pin(token)}

    server {{
        listen {EDGE_PORT} default_server;{render_relay(relay_from)}
        location = /edge/healthz {{
            access_log off;
            default_type text/plain;
            return 200 "ok\\n";
        }}
        location / {{
            proxy_pass http://$pl_backend:{port};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Request-ID $request_id;
            # the edge is the first hop: the client's own address, never a header it sent (the app's
            # sign-in throttle counts failures per address, so a forged one must not reach it)
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header {PIN_TOKEN_HEADER} "";
            proxy_connect_timeout 1s;
            proxy_read_timeout 30s;
            # a connection error to one task is retried on another task of the same track
            proxy_next_upstream error timeout http_502;
            proxy_next_upstream_tries {env.edge.retries};
            proxy_next_upstream_timeout 5s;
            add_header X-Edge-Track $pl_route always;
            add_header X-Request-ID $request_id always;
        }}
    }}

    # connections and requests for the exporter (pipeline/observability/exporters.py); published nowhere
    server {{
        listen {EDGE_STATUS_PORT};
        access_log off;
        location = /edge/stub_status {{
            stub_status;
        }}
        location / {{
            return 404;
        }}
    }}
}}
"""
