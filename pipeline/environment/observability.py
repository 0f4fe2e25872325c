"""``observability:`` in env.yaml: Prometheus in the environment's stack (scraping every app task,
with the rules of observability/prometheus/rules), how often it scrapes, how long it keeps, where
its alerts go; and where the app's traces go (OTLP over HTTP, any kind)."""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from pipeline.environment.base import Strict

Port = Annotated[int, Field(ge=1, le=65535)]
RETENTION = re.compile(r"[1-9][0-9]{0,4}(h|d|w)")
REPEAT = re.compile(r"[1-9][0-9]{0,4}(m|h|d)")


class Observability(Strict):
    enabled: bool = Field(default=False, description="Prometheus in the stack, scraping every app task (kind local)")
    scrape_seconds: Annotated[int, Field(ge=1, le=300)] = Field(
        default=15, description="how often every target is scraped and the rules evaluated"
    )
    retention: str = Field(default="7d", description="how long samples are kept: a number and h, d or w (7d, 48h, 4w)")
    port: Port = Field(default=9090, description="Prometheus's HTTP API and UI, published on 127.0.0.1 only")
    webhook: str = Field(
        default="", description="where Alertmanager posts firing alerts (an http or https URL); empty: alerts only shown"
    )
    otlp_endpoint: str = Field(
        default="",
        description="where the app's tasks send their traces, OTLP over HTTP (http://otel-collector:4318: the app "
        "posts to <url>/v1/traces); empty: no export, tracing off",
    )
    alertmanager_port: Port = Field(default=9093, description="Alertmanager's HTTP API and UI, published on 127.0.0.1 only")
    alert_repeat: str = Field(
        default="4h", description="how often an alert that keeps firing is posted again: a number and m, h or d (30m, 4h)"
    )

    @field_validator("alert_repeat")
    @classmethod
    def _repeat(cls, value: str) -> str:
        if not REPEAT.fullmatch(value):
            raise ValueError(f"'{value}' is not a duration (a number and m, h or d: 30m, 4h, 1d)")
        return value

    @model_validator(mode="after")
    def _ports(self) -> Observability:
        if self.enabled and self.alertmanager_port == self.port:
            raise PydanticCustomError(
                "ports",
                "alertmanager_port: {port} is observability.port too",
                {"port": self.port, "hint": "give Prometheus and Alertmanager a port each"},
            )
        return self

    @field_validator("retention")
    @classmethod
    def _retention(cls, value: str) -> str:
        if not RETENTION.fullmatch(value):
            raise ValueError(f"'{value}' is not a duration Prometheus keeps samples for (a number and h, d or w: 7d, 48h)")
        return value

    @field_validator("webhook")
    @classmethod
    def _webhook(cls, value: str) -> str:
        if value and not _is_http_url(value):
            raise ValueError(f"'{value}' is not an http(s) URL (http://127.0.0.1:9099/alerts)")
        return value

    @field_validator("otlp_endpoint")
    @classmethod
    def _otlp_endpoint(cls, value: str) -> str:
        if value and not _is_http_url(value):
            raise ValueError(f"'{value}' is not an http(s) URL (http://otel-collector:4318)")
        return value

    def app_env(self, environment: str) -> dict[str, str]:
        """What the app's tasks are told about traces: none of it without an endpoint (tracing off);
        with one, the OpenTelemetry SDK's own variables: the endpoint and the environment's name."""
        if not self.otlp_endpoint:
            return {}
        return {
            "OTEL_EXPORTER_OTLP_ENDPOINT": self.otlp_endpoint,
            "OTEL_RESOURCE_ATTRIBUTES": f"deployment.environment.name={environment}",
        }


def _is_http_url(value: str) -> bool:
    """An http or https URL with a host and no blank in it."""
    try:
        parts = urlsplit(value)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:  # a port that is not a number, an unclosed [IPv6
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and port_ok and not any(c.isspace() for c in value)
