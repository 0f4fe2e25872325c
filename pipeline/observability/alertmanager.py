"""Alertmanager's configuration for an environment: every alert Prometheus fires goes to one
route, grouped per alert and track, posted to ``observability.webhook`` (Alertmanager's webhook
body: https://prometheus.io/docs/alerting/latest/configuration/#webhook_config) and repeated
only every ``observability.alert_repeat``; a page for a track silences that track's warning
about the same thing. With no webhook the alerts are kept and shown (its UI and API on
127.0.0.1), sent nowhere."""

from __future__ import annotations

from typing import Any

import yaml

from pipeline.environment import Environment

CONF_DIR = "/etc/alertmanager/pipeline"  # a volume the pipeline writes (the image makes it Alertmanager's)
DATA_DIR = "/var/lib/prometheus/alertmanager"
PORT = 9093  # inside the container
# the first notification of a new group waits this long for its siblings (one post per burst);
# part of the alert latency (docs/benchmarks.md: fault to webhook)
GROUP_WAIT = "5s"
GROUP_INTERVAL = "30s"
# a paging alert on a track makes its warnings about the same track noise
INHIBIT = (("TrackFailing", "TrackErrorRateHigh"),)


def host(env: Environment) -> str:
    """Its container's name on the environment's network (what Prometheus sends alerts to)."""
    return f"{env.stack}-alertmanager"


def render_config(env: Environment) -> str:
    """alertmanager.yml for ``env``."""
    watch = env.observability
    receiver: dict[str, Any] = {"name": "webhook" if watch.webhook else "shown-only"}
    if watch.webhook:
        receiver["webhook_configs"] = [{"url": watch.webhook, "send_resolved": True}]
    config: dict[str, Any] = {
        "route": {
            "receiver": receiver["name"],
            "group_by": ["alertname", "environment", "track"],
            "group_wait": GROUP_WAIT,
            "group_interval": GROUP_INTERVAL,
            "repeat_interval": watch.alert_repeat,
        },
        "inhibit_rules": [
            {
                "source_matchers": [f'alertname="{page}"'],
                "target_matchers": [f'alertname="{warning}"'],
                "equal": ["environment", "track"],
            }
            for page, warning in INHIBIT
        ],
        "receivers": [receiver],
    }
    return yaml.safe_dump(config, sort_keys=False)


def command(env: Environment) -> list[str]:
    """The container's arguments: the configuration, the state's volume, no HA cluster."""
    return [
        f"--config.file={CONF_DIR}/alertmanager.yml",
        f"--storage.path={DATA_DIR}",
        f"--web.listen-address=0.0.0.0:{PORT}",
        # one Alertmanager per environment: no gossip port, no peers to look for
        "--cluster.listen-address=",
        "--log.format=json",  # as every part of the stack logs (pipeline logs merges them)
    ]
