"""The spine on the real engine: up from nothing, deploy, smoke, split, second version, status."""

from __future__ import annotations

import base64
import json
import math
import subprocess
import time
import urllib.parse
import urllib.request
from typing import Any

import pytest

from pipeline.environment import load_environment
from tests.e2e.conftest import APP_SECRETS, ENV, ROOT, http, pipeline, set_app_secret, status, wait_for

pytestmark = pytest.mark.e2e


def test_up_from_nothing_gives_data_services_and_an_edge(stack: Any) -> None:
    current = status()
    assert current["edge"]["running"] is True
    assert current["services"]["db"]["running"] == 1
    assert current["services"]["cache"]["running"] == 1
    assert current["weights"] == {"stable": 100, "canary": 0, "baseline": 0}
    assert http("/edge/healthz").status == 200


def test_up_again_changes_nothing(stack: Any) -> None:
    dry = pipeline("up", ENV, "--dry-run")
    planned = [line for line in dry.stdout.splitlines() if line.startswith("docker ")]
    assert not [p for p in planned if " service create " in p or " service update " in p or " run " in p], planned


def test_the_engines_api_and_its_cli_read_the_same_services(stack: Any) -> None:
    """The local target reads services through the engine's API; the CLI it falls back to agrees."""
    from pipeline.commands.executor import SubprocessExecutor
    from pipeline.project import Project
    from pipeline.targets.local import LocalTarget

    target = LocalTarget(load_environment(ROOT, ENV), SubprocessExecutor(), Project.discover(), lambda _m: None)
    through_api = target._replicas()
    assert target.reads.available and through_api
    names = sorted(through_api)
    spec = target._inspect(names[0])
    assert spec is not None and spec["Spec"]["Name"] == names[0]
    target.reads._off = True  # from here on the CLI, as on an engine the API cannot reach
    assert target._replicas() == through_api
    cli_spec = target._inspect(names[0])
    assert cli_spec is not None and cli_spec["Spec"] == spec["Spec"]


def test_deploy_current_commit_and_smoke_through_the_edge(release: str) -> None:
    deployed = pipeline("deploy", ENV, "--version", release, "--track", "stable", "--json")
    report = json.loads(deployed.stdout)
    assert all(check["ok"] for check in report["smoke"]), report["smoke"]
    current = status()
    assert current["tracks"]["stable"]["version"] == release
    assert current["tracks"]["stable"]["running"] == 2
    assert current["tracks"]["stable"]["health"] == "healthy"
    version = http("/version")
    assert version.status == 200
    assert version.json()["version"] == release
    assert version.json()["track"] == "stable"
    assert version.headers["x-app-version"] == release
    assert "app;dur=" in version.headers["server-timing"]
    created = http("/api/notes", "POST", {"title": "e2e", "body": "written through the edge"})
    assert created.status == 201
    note = http(f"/api/notes/{created.json()['id']}")
    assert note.status == 200
    assert note.json()["body"] == "written through the edge"
    assert http("/readyz").status == 200


def _docker(*args: str, check: bool = True) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, timeout=60).stdout


def _stable_tasks() -> tuple[str, list[str]]:
    service = _docker(
        "service",
        "ls",
        "--filter",
        f"label=pipeline.env={ENV}",
        "--filter",
        "label=pipeline.track=stable",
        "--format",
        "{{.Name}}",
    ).split()[0]
    containers = _docker("ps", "--filter", f"label=com.docker.swarm.service.name={service}", "--format", "{{.ID}}").split()
    return service, containers


def test_the_apps_own_secret_is_a_file_in_every_task_and_in_no_spec(release: str) -> None:
    """app.secrets: the value set on stdin reaches each task as /run/secrets/NAME (NAME_FILE names it),
    readable by the app's user only, and is in no service spec and no task's environment."""
    name = load_environment(ROOT, ENV).app.secrets[0]
    value = APP_SECRETS[name]
    service, containers = _stable_tasks()
    assert len(containers) == 2
    for container in containers:
        assert _docker("exec", container, "cat", f"/run/secrets/{name}") == value
        assert _docker("exec", container, "printenv", f"{name}_FILE").strip() == f"/run/secrets/{name}"
        assert value not in _docker("exec", container, "env")
        assert _docker("exec", container, "stat", "-c", "%a %u", f"/run/secrets/{name}").split()[0] == "400"
    assert value not in _docker("service", "inspect", service)
    listed = json.loads(pipeline("secrets", "list", ENV, "--json").stdout)["secrets"][0]
    assert listed["set"] is True and service in listed["newest"]["used_by"]


def test_edge_log_is_json_with_track_and_timings(release: str) -> None:
    http("/healthz")
    tail = subprocess.run(
        ["docker", "exec", "pl-ci-edge", "tail", "-n", "1", "/var/log/nginx/pipeline/access.json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    record = json.loads(tail)
    assert record["track"] == "stable"
    assert record["status"] == 200
    assert float(record["request_time"]) >= 0
    assert record["upstream_addr"].endswith(":8000")


def test_prometheus_scrapes_every_stable_task_and_records_its_traffic(release: str) -> None:
    """observability.enabled (ci): Prometheus in the stack finds each app task through Docker's DNS,
    scrapes its /metrics, and the per-track recording rule shows stable's traffic; the shipped
    alerting rules are loaded."""
    url = f"http://127.0.0.1:{load_environment(ROOT, ENV).observability.port}"

    def query(expr: str) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}", timeout=5) as r:
            return list(json.load(r)["data"]["result"])

    stable = status()["tracks"]["stable"]
    wait_for(
        lambda: sum(1 for r in query('up{job="app"}') if r["value"][1] == "1") >= stable["desired"],
        90,
        "every stable task scraped",
    )
    for _ in range(60):
        assert http("/api/notes?limit=1").status == 200
        time.sleep(0.05)

    def recorded() -> bool:
        rows = query('track:http_requests:rate1m{track="stable"}')
        return bool(rows) and float(rows[0]["value"][1]) > 0

    wait_for(recorded, 90, "stable's request rate recorded by the rule")
    # every exporter answers its scrape; the edge's log counts stable's requests as users saw them
    from pipeline.observability import exporters

    jobs = {e.name for e in exporters.table("", "", "", "")}
    wait_for(lambda: {r["metric"]["job"] for r in query("up == 1")} >= jobs, 90, f"every exporter scraped: {sorted(jobs)}")
    wait_for(lambda: bool(query('edge_requests_total{track="stable",status="200"} > 0')), 60, "the edge log's counts")
    assert query("nginx_up == 1") and query("pg_up == 1") and query("redis_up == 1")
    with urllib.request.urlopen(f"{url}/api/v1/rules?type=alert", timeout=5) as r:
        alerts = {rule["name"] for group in json.load(r)["data"]["groups"] for rule in group["rules"]}
    assert {"TrackErrorRateHigh", "TrackLatencyHigh", "TasksRestarting"} <= alerts
    # only this machine reaches it
    published = json.loads(subprocess.run(
        ["docker", "container", "inspect", f"{load_environment(ROOT, ENV).stack}-prometheus"],
        capture_output=True, text=True, check=True,
    ).stdout)[0]["HostConfig"]["PortBindings"]  # fmt: skip
    assert {b["HostIp"] for v in published.values() for b in v} == {"127.0.0.1"}


def test_weights_split_traffic_as_asked(release: str, second_release: str) -> None:
    pipeline("deploy", ENV, "--version", second_release, "--track", "canary")
    pipeline("weights", ENV, "--canary", "30")
    assert status()["weights"] == {"stable": 70, "canary": 30, "baseline": 0}
    n = 400
    seen = {"stable": 0, "canary": 0}
    for _ in range(n):
        r = http("/healthz")
        assert r.status == 200
        track = r.headers["x-edge-track"]
        seen[track] += 1
        assert r.headers["x-app-track"] == track
        assert r.headers["x-app-version"] == (second_release if track == "canary" else release)
    sigma = math.sqrt(n * 0.3 * 0.7)
    assert abs(seen["canary"] - 0.3 * n) < 4 * sigma, seen
    pipeline("weights", ENV, "--canary", "0")
    assert all(http("/healthz").headers["x-edge-track"] == "stable" for _ in range(100))


def test_a_failing_canary_pages_at_the_webhook_through_alertmanager(release: str, second_release: str) -> None:
    """A canary failing 30 % of its requests, held at a manual weight under load: Prometheus's
    TrackFailing fires and Alertmanager posts it to observability.webhook (the suite's receiver, a
    container on the stack's network), grouped per track; stable raises nothing. The time from the
    fault to the post is measured by `make bench-alert` (docs/benchmarks.md); here it is bounded."""
    from pipeline.build.images import base_ref
    from pipeline.observability import receiver as hook

    env = load_environment(ROOT, ENV)
    receiver = str(urllib.parse.urlsplit(env.observability.webhook).hostname)
    _docker("rm", "-f", receiver, check=False)
    labels = {"pipeline.stack": env.stack}
    subprocess.run(hook.container(env.observability.webhook, f"{env.stack}-net", base_ref(env), labels), check=True)
    try:
        pipeline("deploy", ENV, "--version", second_release, "--track", "canary", "--fault", "error_rate=0.3")
        pipeline("weights", ENV, "--canary", "30", "--hold", "300")
        faulted = time.time()
        posts: list[dict[str, Any]] = []
        deadline = faulted + 120  # bounded: at most 120 s of requests, ~20 a second, to this machine's edge
        while time.time() < deadline and not posts:
            for _ in range(20):
                http("/api/notes?limit=1", timeout=5)
                time.sleep(0.05)
            posts = hook.posts(_docker("logs", receiver), "TrackFailing")
        assert posts, "no TrackFailing alert reached the webhook in 120 s"
        body = posts[0]["body"]
        assert body["receiver"] == "webhook" and body["status"] == "firing", body
        assert body["groupLabels"] == {"alertname": "TrackFailing", "environment": ENV, "track": "canary"}, body
        assert [a["labels"]["track"] for a in body["alerts"]] == ["canary"]
        print(f"fault to webhook: {posts[0]['received'] - faulted:.1f} s")
        assert posts[0]["received"] - faulted <= 90
        # Alertmanager's own API lists it, on this machine's loopback
        with urllib.request.urlopen(f"http://127.0.0.1:{env.observability.alertmanager_port}/api/v2/alerts", timeout=5) as r:
            assert "TrackFailing" in {a["labels"]["alertname"] for a in json.load(r)}
    finally:
        pipeline("weights", ENV, "--canary", "0", check=False)
        _docker("rm", "-f", receiver, check=False)
        pipeline("deploy", ENV, "--version", second_release, "--track", "canary", check=False)  # without the fault


def test_second_version_on_stable_shows_in_status(second_release: str) -> None:
    # a secret set anew before a deploy: the deploy's tasks mount the new value
    name = load_environment(ROOT, ENV).app.secrets[0]
    rotated = set_app_secret(name, f"e2e-rotated-{second_release}")
    pipeline("deploy", ENV, "--version", second_release, "--track", "stable")
    current = status()
    assert current["tracks"]["stable"]["version"] == second_release
    assert current["tracks"]["stable"]["health"] == "healthy"
    assert http("/version").json()["version"] == second_release
    service, containers = _stable_tasks()
    assert [_docker("exec", c, "cat", f"/run/secrets/{name}") for c in containers] == [APP_SECRETS[name]] * 2
    listed = json.loads(pipeline("secrets", "list", ENV, "--json").stdout)["secrets"][0]
    assert listed["newest"]["secret"] == rotated and service in listed["newest"]["used_by"]


def test_unknown_version_exits_4_and_changes_nothing(second_release: str) -> None:
    before = status()
    result = pipeline("deploy", ENV, "--version", "0000000000ff", check=False)
    assert result.returncode == 4
    assert "not in the registry" in result.stderr
    assert "Traceback" not in result.stderr
    assert status()["tracks"] == before["tracks"]


def test_dry_run_prints_the_commands_and_changes_nothing(release: str, second_release: str) -> None:
    before = status()
    result = pipeline("deploy", ENV, "--version", release, "--track", "stable", "--dry-run")
    assert "docker service update" in result.stdout
    assert f"127.0.0.1:5000/refapp:{release}" in result.stdout
    # no generated secret appears: the services mount them as swarm secrets, and any value that
    # would be printed is masked by value (issue 17)
    assert "--secret" in result.stdout and "/run/secrets/" in result.stdout
    stack = load_environment(ROOT, ENV).stack
    raw = subprocess.run(
        ["docker", "config", "inspect", "--format", "{{json .Spec.Data}}", f"{stack}-secrets"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    values = json.loads(base64.b64decode(json.loads(raw)))
    assert values and not [k for k, v in values.items() if v in result.stdout + result.stderr]
    assert status()["tracks"] == before["tracks"]


def test_same_commit_builds_identical_app_layers(release: str) -> None:
    refs = []
    for suffix in ("repro-a", "repro-b"):
        version = pipeline("build", "--env", ENV, "--no-cache", "--no-push", "--suffix", suffix).stdout.strip()
        refs.append(f"127.0.0.1:5000/refapp:{version}")
    layers = [
        json.loads(
            subprocess.run(
                ["docker", "image", "inspect", "--format", "{{json .RootFS.Layers}}", ref],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        for ref in refs
    ]
    # the last two layers are the staged site-packages and the app's sources
    assert layers[0][-2:] == layers[1][-2:]
    subprocess.run(["docker", "rmi", *refs], capture_output=True, check=False)
