"""chaosstack: the pipeline's Chaos Toolkit extension, for stacks the pipeline deployed.

Shaped like chaostoolkit-kubernetes: one package per thing, each with ``actions`` (they
change something) and ``probes`` (they read). Every action confirms that its fault took
effect and raises :class:`chaoslib.exceptions.ActivityFailed` when it did not, so a
fault that silently did nothing fails the experiment. Every function takes the
experiment's ``configuration`` and ``secrets`` as keyword arguments; the configuration
names the environment (``pipeline_env``), and only an environment whose env.yaml says
``chaos_allowed: true`` is ever touched.

::

    service/   kill_task, stop_service, start_service | replicas_healthy, wait_recovered
    edge/      kill_edge, ensure_edge_running        | answers, error_rate_within
    network/   add_latency, remove_latency, partition, heal
    stress/    burn_cpu, stop_burn
    disk/      fill_disk, free_disk
    canary/    kill_pipeline_mid_canary, abort_canary | weight_reset_within, canary_state
    data/      start_writes                           | acknowledged_writes_lost
    node/      kill_edge_replica, edges_running, lose_node, start_node, drain_node, activate_node,
               partition_node, heal_partition, stop_engine_for, start_engine | wait_rescheduled
    vm/        start_canary, stop_canary, kill_instance, expire_certificate, ... | wait_recovered, ...
    controls/  safeguard: stop on an unconfirmed fault or a spent error budget
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
