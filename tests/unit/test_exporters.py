"""The exporters beside the app: one table gives the services and the scrape jobs; mtail's program
turns lines of the edge's real log format into per-track counts and latency histograms."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import yaml

from pipeline import edge
from pipeline.environment import load_environment
from pipeline.observability import exporters, prometheus
from pipeline.testing import FakeExecutor

ROOT = Path(__file__).resolve().parents[2]
MTAIL = ROOT / "scripts" / "mtail"


def edge_line(track: str, status: int, seconds: float) -> str:
    """One access-log line in the edge's own format (pipeline/edge.py LOG_FORMAT), as nginx writes it."""
    values = {
        "time_iso8601": "2026-12-05T14:00:00+00:00", "msec": "1764943200.001", "pl_route": track,
        "request_method": "GET", "uri": "/api/notes", "status": str(status), "upstream_addr": "10.0.1.5:8000",
        "upstream_status": str(status), "request_time": f"{seconds:.3f}", "upstream_response_time": f"{seconds:.3f}",
        "upstream_connect_time": "0.000", "bytes_sent": "321", "request_length": "88", "request_id": "ab12",
        "upstream_http_x_app_version": "v1", "pl_pin_ok": "0", "http_traceparent": "",
    }  # fmt: skip
    line = re.sub(r"\$([a-z0-9_]+)", lambda m: values[m.group(1)], edge.LOG_FORMAT)
    json.loads(line)  # the format is JSON once nginx fills it in
    return line


def test_mtail_counts_each_tracks_requests_and_times_them_from_the_edge_log(tmp_path: Path) -> None:
    log = tmp_path / "access.json"
    lines = [edge_line("stable", 200, 0.012), edge_line("stable", 200, 0.020), edge_line("canary", 500, 0.3)]
    lines += [edge_line("canary", 502, 0.001)]  # no upstream answered: the edge saw it, the app never did
    log.write_text("\n".join(lines) + "\n")
    program = ROOT / "images" / "exporters" / "edge.mtail"
    done = subprocess.run(
        [str(MTAIL), "--one_shot", "--one_shot_format=json", f"--progs={program}", f"--logs={log}"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    metrics = json.loads(done.stdout)
    counts = {(v["Labels"][0], v["Labels"][1]): v["Value"]["Value"] for v in metrics["edge_requests_total"][0]["LabelValues"]}
    assert counts == {("stable", "200"): 2, ("canary", "500"): 1, ("canary", "502"): 1}
    histogram = {v["Labels"][0]: v["Value"] for v in metrics["edge_request_duration_seconds"][0]["LabelValues"]}
    assert histogram["stable"]["Count"] == 2 and round(histogram["stable"]["Sum"], 3) == 0.032
    assert histogram["stable"]["Buckets"]["0.025"] == 2 and histogram["canary"]["Buckets"]["0.5"] == 1


def test_every_exporter_is_a_service_prometheus_scrapes_by_name() -> None:
    env = load_environment(ROOT, "ci")
    jobs = {j["job_name"]: j for j in yaml.safe_load(prometheus.render_config(env, env.app.port))["scrape_configs"]}
    table = exporters.table(env.stack, "refapp", "refapp", "/run/secrets/db-password")
    assert {e.name for e in table} == {"edge", "edge-log", "postgres", "redis", "host"}
    for exporter in table:
        assert jobs[exporter.name]["static_configs"] == [{"targets": [f"pl-ci-exporter-{exporter.name}:{exporter.port}"]}]
    nginx = next(e for e in table if e.name == "edge")
    assert f"-nginx.scrape-uri=http://pl-ci-edge:{edge.EDGE_STATUS_PORT}/edge/stub_status" in nginx.command
    postgres = next(e for e in table if e.name == "postgres")
    assert postgres.env["DATA_SOURCE_PASS_FILE"] == "/run/secrets/db-password" and postgres.db_password
    assert not any("password" in part.lower() and "file" not in part.lower() for part in postgres.command)


def test_the_edge_answers_stub_status_on_a_listener_of_its_own_only() -> None:
    conf = edge.render_nginx_conf(load_environment(ROOT, "ci"))
    status_server = conf[conf.index(f"listen {edge.EDGE_STATUS_PORT};") :]
    assert "stub_status;" in status_server and "location = /edge/stub_status" in status_server
    users = conf[: conf.index(f"listen {edge.EDGE_STATUS_PORT};")]
    assert "stub_status" not in users  # never on the port users reach


def test_up_starts_each_exporter_with_its_command_and_only_postgres_gets_the_password(tmp_path: Path) -> None:
    from pipeline.commands import Result
    from pipeline.project import Project
    from pipeline.targets.local import LocalTarget

    env = load_environment(ROOT, "ci")
    fake = FakeExecutor().on("docker", "service", "inspect", result=Result(1, "", "no such service"))
    fake.on("docker", "secret", "ls", result=Result(0, "pl-ci-db-password-1\npl-ci-django-secret-key-1\npl-ci-docs-password-1\n"))
    target = LocalTarget(env, fake, Project(ROOT, tmp_path), lambda _m: None)
    target._secret_names = lambda: {"db_password": "pl-ci-db-password-1"}  # type: ignore[method-assign]
    target._ensure_exporters("127.0.0.1:5000/pipeline/exporters:abc")
    created = {c.argv[c.argv.index("--name") + 1]: c.argv for c in fake.calls if c.argv[1:3] == ("service", "create")}
    assert set(created) == {f"pl-ci-exporter-{n}" for n in ("edge", "edge-log", "postgres", "redis", "host")}
    with_secret = [name for name, argv in created.items() if "--secret" in argv]
    assert with_secret == ["pl-ci-exporter-postgres"]
    mtail = created["pl-ci-exporter-edge-log"]
    assert "type=volume,src=pl-ci-edge-logs,dst=/var/log/nginx/pipeline,readonly" in mtail
    assert not any(a == "--publish" for argv in created.values() for a in argv)  # reached on the network only
