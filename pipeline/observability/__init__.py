"""Observability of an environment: Prometheus in its stack (``observability:``), its configuration
rendered from the environment and the rules shipped in observability/prometheus/rules; and its logs,
every part's lines as records merged in time order (``logs``, behind ``pipeline logs``)."""
