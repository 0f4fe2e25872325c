"""A Chaos Toolkit control: stop the experiment when a fault is not confirmed or the error budget is spent.

Declared in an experiment (or passed with ``--control-file``) as a python control on
``chaosstack.controls.safeguard``. After every activity it checks:

- an action of this extension that failed means its fault did not take effect (or took
  effect wrongly): the run is interrupted, and the rollbacks play;
- the edge's failed requests since the experiment began (``PIPELINE_CHAOS_STARTED``,
  epoch seconds) above the budget (``PIPELINE_CHAOS_ERROR_BUDGET``, a count; unset or
  negative = no budget): interrupted, rollbacks play.
"""

from __future__ import annotations

import os
from typing import Any

from chaoslib.exceptions import InterruptExecution

from chaosstack._stack import Stack

__all__ = ["after_activity_control", "failed_since"]

BUDGET_VAR = "PIPELINE_CHAOS_ERROR_BUDGET"
STARTED_VAR = "PIPELINE_CHAOS_STARTED"
OFFSET_VAR = "PIPELINE_CHAOS_LOG_OFFSET"


def failed_since(stack: Stack, started: float) -> int:
    """Failed requests (5xx, and 499: the client gave up) the edge logged since ``started``."""
    offset = int(os.environ.get(OFFSET_VAR, "0") or 0)  # the log's size when the experiment began
    source = stack.edge_source(8 << 20, offset=offset)
    source.pull()
    return sum(1 for r in source.records if r.ts >= started and (r.failed or r.status == 499))


def after_activity_control(
    context: dict[str, Any],
    state: Any,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """Interrupt on an unconfirmed fault of ours, or when the run's error budget is spent."""
    provider = context.get("provider", {}) if isinstance(context, dict) else {}
    ours = str(provider.get("module", "")).startswith("chaosstack.")
    if context.get("type") == "action" and ours and isinstance(state, dict) and state.get("status") == "failed":
        raise InterruptExecution(f"fault not confirmed: {context.get('name')}: {state.get('exception', [''])[-1:]}")
    budget = int(os.environ.get(BUDGET_VAR, "-1") or -1)
    started = float(os.environ.get(STARTED_VAR, "0") or 0)
    if budget < 0 or started <= 0:
        return
    failed = failed_since(Stack.from_configuration(configuration), started)
    if failed > budget:
        raise InterruptExecution(f"error budget spent: {failed} failed requests > {budget}")
