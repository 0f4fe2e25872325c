"""The exporters Prometheus scrapes besides the app, from Debian's packages in one image
(images/exporters): nginx's stub_status on the edge, PostgreSQL, Redis, the host, and mtail turning
the edge's JSON access log into per-track counts and latency histograms (images/exporters/edge.mtail).

Each is a swarm service of its own on the stack's network, published nowhere: Prometheus reaches
it by its name (``<stack>-exporter-<name>``) and this module gives both sides, the services'
commands and the scrape jobs, from one table, so they cannot disagree."""

from __future__ import annotations

from dataclasses import dataclass, field

# the edge's stub_status listener (pipeline/edge.py): on the stack's network only, never published
STATUS_PATH = "/edge/stub_status"
EDGE_STATUS_PORT = 8082  # pipeline/edge.py's listener for it (tests/unit/test_exporters.py holds the two equal)
EDGE_LOG_DIR = "/var/log/nginx/pipeline"  # the edge-logs volume, read-only in mtail's task
HOST_ROOT = "/host"  # the host's / in the node exporter's task, read-only


@dataclass(frozen=True)
class Exporter:
    """One exporter: its job name in Prometheus, its port, its command; what its task needs mounted."""

    name: str
    port: int
    command: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    mounts: tuple[str, ...] = ()  # ``--mount`` values ({logs}: the edge-logs volume's name)
    db_password: bool = False  # the database password's secret mounted (as the app's)


def service(stack: str, exporter: Exporter) -> str:
    return f"{stack}-exporter-{exporter.name}"


def table(stack: str, db_user: str, db_name: str, password_file: str) -> tuple[Exporter, ...]:
    """Every exporter of ``stack``'s observability; ``password_file``: where the db password's secret is mounted."""
    listen = "--web.listen-address=0.0.0.0:{port}"
    return (
        Exporter(
            "edge",
            9113,
            (
                "/usr/bin/prometheus-nginx-exporter",
                f"-nginx.scrape-uri=http://{stack}-edge:{EDGE_STATUS_PORT}{STATUS_PATH}",
                f"-web.listen-address=0.0.0.0:{9113}",
            ),
        ),
        Exporter(
            "edge-log",
            3903,
            (
                "/usr/bin/mtail",
                "--progs=/etc/mtail/pipeline/edge.mtail",
                f"--logs={EDGE_LOG_DIR}/access.json",
                "--port=3903",
                "--logtostderr",
            ),
            mounts=(f"type=volume,src={{logs}},dst={EDGE_LOG_DIR},readonly",),
        ),
        Exporter(
            "postgres",
            9187,
            ("/usr/bin/prometheus-postgres-exporter", listen.format(port=9187), "--log.format=json"),
            env={
                "DATA_SOURCE_URI": f"{stack}-db:5432/{db_name}?sslmode=disable",
                "DATA_SOURCE_USER": db_user,
                "DATA_SOURCE_PASS_FILE": password_file,
            },
            db_password=True,
        ),
        Exporter(
            "redis",
            9121,
            ("/usr/bin/prometheus-redis-exporter", f"-redis.addr=redis://{stack}-cache:6379", "-web.listen-address=:9121"),
        ),
        Exporter(
            "host",
            9100,
            (
                "/usr/bin/prometheus-node-exporter",
                f"--path.rootfs={HOST_ROOT}",
                listen.format(port=9100),
                "--log.format=json",
            ),
            mounts=(f"type=bind,src=/,dst={HOST_ROOT},readonly",),  # no rslave: this host's / is a private mount
        ),
    )


def scrape_jobs(stack: str) -> list[dict[str, object]]:
    """Prometheus's scrape jobs for the exporters of ``stack`` (the job name is the exporter's)."""
    return [
        {"job_name": e.name, "static_configs": [{"targets": [f"{service(stack, e)}:{e.port}"]}]} for e in table(stack, "", "", "")
    ]
