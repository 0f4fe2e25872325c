"""Prometheus in an environment's stack (``observability:``): its configuration, rendered from the
environment, and the rules shipped in observability/prometheus/rules."""
