"""Prometheus's configuration for an environment: every app slot's tasks found through Docker's
DNS (``tasks.<service>``, as the edge finds them), Prometheus itself, the environment's name on
every series, its alerts sent to the environment's Alertmanager; and the rules, the repository's
files merged into one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pipeline.environment import Environment
from pipeline.observability import alertmanager, exporters

RULES_DIR = Path("observability") / "prometheus" / "rules"
CONF_DIR = "/etc/prometheus/pipeline"  # a volume the pipeline writes (the image makes it Prometheus's)
DATA_DIR = "/var/lib/prometheus/data"
PORT = 9090  # inside the container
# every slot an app track can run in (pipeline/edge: blue, green; the baseline; an environment made
# before slots: stable, canary); a name with no task resolves to nothing and is no target
APP_SLOTS = ("blue", "green", "baseline", "stable", "canary")


def render_config(env: Environment, app_port: int) -> str:
    """prometheus.yml for ``env`` (its stack's names, its scrape interval)."""
    every = f"{env.observability.scrape_seconds}s"
    config: dict[str, Any] = {
        "global": {
            "scrape_interval": every,
            "evaluation_interval": every,
            "external_labels": {"environment": env.name},
        },
        "rule_files": [f"{CONF_DIR}/rules.yml"],
        # the environment's Alertmanager (pipeline/observability/alertmanager.py), by its name on the network
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"{alertmanager.host(env)}:{alertmanager.PORT}"]}]}]},
        "scrape_configs": [
            {
                "job_name": "app",
                "dns_sd_configs": [
                    {
                        "names": [f"tasks.{env.stack}-app-{slot}" for slot in APP_SLOTS],
                        "type": "A",
                        "port": app_port,
                        "refresh_interval": "5s",
                    }
                ],
                "relabel_configs": [
                    # the slot the task runs in, from the name it was found by
                    {
                        "source_labels": ["__meta_dns_name"],
                        "regex": f"tasks\\.{env.stack}-app-(.+)",
                        "target_label": "slot",
                    }
                ],
            },
            {"job_name": "prometheus", "static_configs": [{"targets": [f"127.0.0.1:{PORT}"]}]},
            *exporters.scrape_jobs(env.stack),
        ],
    }
    return yaml.safe_dump(config, sort_keys=False)


def render_rules(root: Path) -> str:
    """Every rule file of the repository as one (their groups in file order)."""
    groups: list[Any] = []
    for path in sorted((root / RULES_DIR).glob("*.yml")):
        groups += (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("groups") or []
    return yaml.safe_dump({"groups": groups}, sort_keys=False)


def command(env: Environment) -> list[str]:
    """The container's arguments: the configuration, the samples' volume, the retention."""
    return [
        f"--config.file={CONF_DIR}/prometheus.yml",
        f"--storage.tsdb.path={DATA_DIR}",
        f"--storage.tsdb.retention.time={env.observability.retention}",
        "--web.enable-lifecycle",
        f"--web.listen-address=0.0.0.0:{PORT}",
        "--log.format=json",  # as every part of the stack logs (pipeline logs merges them)
    ]
