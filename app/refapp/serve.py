"""Production entry point: ``python3 -m refapp.serve``.

1. ``FAULT_EXIT_AT_START=1`` -> log why and exit 3 at once.
2. Validate every environment variable -> on error, one JSON line naming the
   variable(s) and exit 2.
3. Set Django up and run uvicorn in this process (h11, asyncio loop, no
   access log: the app logs requests itself).

Graceful shutdown: the first SIGTERM (or SIGINT) marks the process as draining
(/readyz answers 503, responses carry ``Connection: close``) while it keeps
serving for ``APP_DRAIN_SECONDS``, so an edge proxy with a short DNS TTL stops
routing to it; then uvicorn stops accepting, finishes in-flight requests (up to
``GRACEFUL_TIMEOUT_SECONDS``) and the process exits 0. A second SIGTERM or
SIGINT exits immediately with code 1.

Exit codes: 0 clean shutdown, 1 forced by a second signal, 2 bad configuration,
3 FAULT_EXIT_AT_START (uvicorn also uses 3 when it cannot bind the port).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from types import FrameType

import uvicorn

from refapp import logging as app_logging
from refapp import tracing
from refapp.config import AppConfig, ConfigError, load_config, parse_bool, parse_log_level
from refapp.state import DRAIN

EXIT_OK = 0
EXIT_FORCED = 1
EXIT_BAD_CONFIG = 2
EXIT_FAULT_AT_START = 3
GRACEFUL_TIMEOUT_SECONDS = 20
HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _emit(event: str, level: int = logging.INFO, **fields: object) -> None:
    app_logging.emit(event, level, logger_name="refapp.serve", **fields)


def preflight(env: Mapping[str, str]) -> AppConfig | int:
    """Apply FAULT_EXIT_AT_START and validate the environment.

    Returns the config, or the exit code to stop with (after logging why).
    """
    try:
        exit_at_start = parse_bool(env.get("FAULT_EXIT_AT_START", ""))
    except ValueError as exc:
        _emit(
            "config_invalid",
            logging.ERROR,
            variable="FAULT_EXIT_AT_START",
            error=f"FAULT_EXIT_AT_START: {exc}",
            errors={"FAULT_EXIT_AT_START": str(exc)},
        )
        return EXIT_BAD_CONFIG
    if exit_at_start:
        _emit(
            "fault_exit_at_start",
            logging.ERROR,
            reason="FAULT_EXIT_AT_START=1: exiting on purpose before serving",
            exit_code=EXIT_FAULT_AT_START,
        )
        return EXIT_FAULT_AT_START
    try:
        return load_config(env)
    except ConfigError as exc:
        _emit(
            "config_invalid",
            logging.ERROR,
            variable=exc.variable,
            error=str(exc),
            errors=exc.errors,
        )
        return EXIT_BAD_CONFIG


class DrainingServer(uvicorn.Server):
    """A ``uvicorn.Server`` whose first SIGTERM/SIGINT starts a drain period.

    uvicorn (>= 0.29) installs ``handle_exit`` for SIGINT/SIGTERM with
    ``signal.signal`` in ``capture_signals`` and, after shutting down, re-raises
    every captured signal so the process dies of it. Here:

    * ``handle_exit`` on the first signal only marks the process draining and
      sets a deadline; ``on_tick`` (called every 0.1 s by uvicorn's main loop)
      sets ``should_exit`` once the deadline passes, and uvicorn then shuts down
      gracefully as usual;
    * a second signal exits at once (``os._exit``), whatever is in flight;
    * ``capture_signals`` does not re-raise the signal afterwards, so a drained
      shutdown ends with exit code 0.
    """

    def __init__(self, config: uvicorn.Config, drain_seconds: float) -> None:
        super().__init__(config)
        self.drain_seconds = drain_seconds
        self.drain_deadline: float | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Route SIGTERM/SIGINT to :meth:`handle_exit` while serving; restore after."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        originals = {sig: signal.signal(sig, self.handle_exit) for sig in HANDLED_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """First signal: start draining. Second signal: exit immediately."""
        name = signal.Signals(sig).name
        if self.drain_deadline is not None or self.should_exit:
            _emit("forced_exit", logging.WARNING, signal=name, exit_code=EXIT_FORCED)
            sys.stderr.flush()
            os._exit(EXIT_FORCED)
        DRAIN.start()
        self.drain_deadline = time.monotonic() + self.drain_seconds
        _emit("drain_started", signal=name, drain_seconds=self.drain_seconds)

    async def on_tick(self, counter: int) -> bool:
        """Turn an expired drain period into uvicorn's normal graceful exit."""
        if self.drain_deadline is not None and not self.should_exit and time.monotonic() >= self.drain_deadline:
            _emit("drain_finished", in_flight_connections=len(self.server_state.connections))
            self.should_exit = True
        result: bool = await super().on_tick(counter)
        return result


def build_server(config: AppConfig) -> DrainingServer:
    """Create the uvicorn server for ``refapp.asgi:application``."""
    uv_config = uvicorn.Config(
        app="refapp.asgi:application",
        host=config.host,
        port=config.port,
        loop="asyncio",
        http="h11",
        ws="none",
        lifespan="off",  # Django's ASGI handler does not implement lifespan
        access_log=False,
        log_config=None,  # keep our JSON logging
        server_header=False,
        proxy_headers=True,
        forwarded_allow_ips=config.forwarded_allow_ips,
        timeout_graceful_shutdown=GRACEFUL_TIMEOUT_SECONDS,
    )
    return DrainingServer(uv_config, drain_seconds=config.drain_seconds)


def main() -> int:
    """Run the server with the process environment; return the exit code."""
    try:
        level = parse_log_level(os.environ.get("APP_LOG_LEVEL", "") or "INFO")
    except ValueError:
        level = "INFO"  # preflight reports the bad value
    app_logging.configure(level)
    checked = preflight(os.environ)
    if isinstance(checked, int):
        return checked
    config = checked
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refapp.settings")

    import django

    django.setup()
    from refapp.asgi import application  # noqa: F401 - fail fast on import errors
    from refapp.warmup import warm_up

    warm_seconds = warm_up()

    active_faults = {
        name: value
        for name, value in (
            ("FAULT_ERROR_RATE", config.fault_error_rate),
            ("FAULT_LATENCY_MS", config.fault_latency_ms),
            ("FAULT_READINESS_FAIL", config.fault_readiness_fail),
        )
        if value
    }
    _emit(
        "startup",
        version=config.version,
        commit=config.commit,
        track=config.track,
        build_time=config.build_time,
        host=config.host,
        port=config.port,
        drain_seconds=config.drain_seconds,
        warmup_seconds=round(warm_seconds, 3),
        pid=os.getpid(),
        faults=active_faults,
    )
    if active_faults:
        _emit("faults_active", logging.WARNING, faults=active_faults)
    server = build_server(config)
    server.run()
    tracing.shutdown()  # the spans still batched go out before the process ends
    _emit("shutdown_complete", exit_code=EXIT_OK, drained=DRAIN.is_draining)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
