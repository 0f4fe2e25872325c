from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pipeline.edge import FRESH_SLOTS, LOG_FORMAT, Weights, parse_weights, render_nginx_conf, render_split
from pipeline.environment import load_environment
from pipeline.environment.model import Edge, Environment, Sticky
from pipeline.errors import UserError

ROOT = Path(__file__).resolve().parents[2]
ENV = load_environment(ROOT, "local")


@pytest.mark.parametrize("canary", [0, 1, 5, 50, 99, 100])
def test_split_round_trips_through_the_file(canary: int) -> None:
    text = render_split(ENV, Weights(canary))
    assert parse_weights(text) == Weights(canary)


def test_split_shapes() -> None:
    assert "canary" not in render_split(ENV, Weights(0)).split("\n", 2)[2]
    five = render_split(ENV, Weights(5))
    assert "5% canary;" in five and "* stable;" in five
    assert 'split_clients "$request_id" $pl_track' in five
    full = render_split(ENV, Weights(100))
    assert "* canary;" in full and "stable;" not in full.split("\n", 2)[2]


def test_sticky_by_header_falls_back_to_request_id() -> None:
    env = Environment(name="x", edge=Edge(sticky=Sticky(by="header", name="X-User-Id")))
    text = render_split(env, Weights(10))
    assert "map $http_x_user_id $pl_split_key" in text
    assert '"" $request_id;' in text
    assert 'split_clients "$pl_split_key"' in text
    cookie = Environment(name="x", edge=Edge(sticky=Sticky(by="cookie", name="uid")))
    assert "map $cookie_uid $pl_split_key" in render_split(cookie, Weights(10))


@pytest.mark.parametrize("bad", [-1, 101])
def test_weight_out_of_range(bad: int) -> None:
    with pytest.raises(UserError):
        Weights(bad)


def test_nginx_conf_resolves_tasks_through_docker_dns_and_retries() -> None:
    conf = render_nginx_conf(ENV)
    assert "resolver 127.0.0.11 valid=1s" in conf
    assert "proxy_pass http://$pl_backend:8000;" in conf
    split = render_split(ENV, Weights(0), FRESH_SLOTS)  # which service serves a track is in the split
    assert "canary pl-local-app-green;" in split and "default pl-local-app-blue;" in split
    assert "proxy_next_upstream error timeout http_502;" in conf
    assert "proxy_next_upstream_tries 3;" in conf
    assert "client_max_body_size 2m;" in conf
    assert "include /etc/nginx/pipeline/split.conf;" in conf
    assert conf.count("{") == conf.count("}")


def test_access_log_is_json_with_the_fields_analysis_needs() -> None:
    sample = re.sub(r"\$[a-z_]+", "0", LOG_FORMAT)
    record = json.loads(sample)
    for field in (
        "time",
        "track",
        "upstream_addr",
        "status",
        "upstream_status",
        "request_time",
        "upstream_response_time",
        "bytes_sent",
        "request_id",
        "version",
        "traceparent",
    ):
        assert field in record


def test_the_edge_passes_the_clients_own_address_never_a_forwarded_header() -> None:
    """The app trusts X-Forwarded-For from the edge (its sign-in throttle counts per address): a
    client that sends its own X-Forwarded-For must not choose the address the app sees."""
    conf = render_nginx_conf(ENV)
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in conf
    assert "$proxy_add_x_forwarded_for" not in conf


def test_a_split_with_a_baseline_gives_it_the_canarys_share() -> None:
    text = render_split(ENV, Weights(25, 25))
    assert "25% canary;" in text and "25% baseline;" in text and "* stable;" in text
    assert parse_weights(text) == Weights(25, 25)
    both = render_split(ENV, Weights(50, 50))
    assert "50% canary;" in both and "* baseline;" in both and "stable" not in both.split("split_clients", 1)[1]
    assert parse_weights(render_split(ENV, Weights(0))) == Weights(0, 0)
    assert parse_weights('# pipeline-weights: {"canary": 10, "stable": 90}\n') == Weights(10, 0)  # an older edge's file


def test_a_replica_behind_relays_believes_the_client_address_only_from_them() -> None:
    plain = render_nginx_conf(ENV)
    assert "proxy_protocol" not in plain and "set_real_ip_from" not in plain  # one node: the edge is the first hop
    relayed = render_nginx_conf(ENV, relay_from=["10.0.0.12", "10.0.0.13"])
    assert "listen 8080 default_server;" in relayed  # the node's own reads (docker exec) stay plain
    assert "listen 8081 proxy_protocol;" in relayed
    assert "set_real_ip_from 10.0.0.12;" in relayed and "set_real_ip_from 10.0.0.13;" in relayed
    assert "real_ip_header proxy_protocol;" in relayed
    # the app is told the client's address, never a header the client sent
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in relayed
    assert relayed.count("{") == relayed.count("}")
    with pytest.raises(ValueError):
        render_nginx_conf(ENV, relay_from=["10.0.0.12; include /etc/passwd"])


# what would keep a client's W3C trace context from the app: nginx passes every request header on
# unless told otherwise (proxy_pass_request_headers off, a header set to "" or replaced, a module's clear)
_STRIPS_TRACE_CONTEXT = re.compile(
    r"proxy_pass_request_headers\s+off|proxy_set_header\s+(traceparent|tracestate)\b|more_clear_input_headers",
    re.IGNORECASE,
)


def _passes_trace_context(conf: str) -> bool:
    return "proxy_pass " in conf and not _STRIPS_TRACE_CONTEXT.search(conf)


def test_every_edge_passes_the_clients_traceparent_to_the_app(tmp_path: Path) -> None:
    """The app continues a trace that a client (or a proxy in front) began: the edge of every kind
    forwards ``traceparent`` and ``tracestate`` as they came, and logs the traceparent beside its
    request id (the app's server span carries that request id too)."""
    from tests.unit.test_vm_target import rendered_nginx_conf

    single = render_nginx_conf(ENV)  # local
    relayed = render_nginx_conf(load_environment(ROOT, "swarm-local"), relay_from=["10.0.0.12"])  # swarm's replicas
    vm = rendered_nginx_conf(tmp_path)
    for conf in (single, relayed, vm):
        assert _passes_trace_context(conf)
        assert "proxy_set_header X-Request-ID $request_id;" in conf
    # the check itself sees each way a header is kept back
    for stripping in ("proxy_pass_request_headers off;", 'proxy_set_header traceparent "";', "proxy_set_header TraceState x;"):
        assert not _passes_trace_context(single.replace("proxy_http_version 1.1;", f"proxy_http_version 1.1;\n{stripping}"))
    # the swarm kind's relay in front of its edge replicas (haproxy, mode http) changes no header
    relay = (ROOT / "playbooks" / "roles" / "haproxy" / "templates" / "haproxy.cfg.j2").read_text()
    assert "mode http" in relay and not re.search(r"(del|set|replace)-header", relay)
    record = json.loads(re.sub(r"\$[a-z_]+", "0", LOG_FORMAT))
    assert record["traceparent"] == "0" and '"traceparent":"$http_traceparent"' in LOG_FORMAT
