"""The ``chaos`` section of env.yaml: how the chaos harness loads and guards a run."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class Chaos(BaseModel):
    """Settings of ``pipeline chaos run`` (whether chaos is allowed at all is ``chaos_allowed``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    load_rps: Annotated[int, Field(ge=1, le=500)] = Field(
        default=20, description="k6 requests/s sent to the edge on 127.0.0.1 during each experiment"
    )
    error_budget: Annotated[int, Field(ge=0, le=100_000)] = Field(
        default=100, description="failed requests per experiment after which it is aborted and rolled back"
    )
    failed_share_budget: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        default=0.005,
        description="share of a run's requests that may fail (0.005: 0.5 %); above it an experiment's score is "
        "capped at the share that did not fail (what users saw counts: a run never reads 100 % while it failed them)",
    )
    hypothesis_seconds: Annotated[float, Field(ge=0.5, le=60)] = Field(
        default=2.0, description="the steady-state hypothesis is checked this often during the method"
    )
    experiment_timeout: Annotated[int, Field(ge=30, le=1800)] = Field(
        default=600, description="seconds an experiment may take before it is stopped"
    )
    experiments: list[str] = Field(
        default_factory=list, description="experiments `pipeline chaos run ENV` runs without names; empty = all"
    )
