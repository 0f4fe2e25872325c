"""The one exception tree of the pipeline, mapped to exit codes.

::

    PipelineError                 (1)  base; never raised directly
    +-- UserError                 (2)  the user's mistake: one line and a hint
    |   +-- ConfigError           (2)  bad or missing env file, bad value, unknown key
    |   +-- UnknownEnvironment    (3)  no environments/<name>/env.yaml
    |   +-- UnknownVersion        (4)  the release does not exist in the registry
    |   +-- PortTaken             (5)  the edge port is held by something else
    |   +-- EngineUnavailable     (6)  no Docker engine and none can be installed
    |   +-- Locked                (7)  another deploy holds the environment
    |   +-- NothingToDo           (8)  e.g. promote with no canary running
    +-- ExternalError             (10) a third-party command failed (wrapped where it enters)
    |   +-- CommandFailed         (10)
    |   +-- NotReady              (11) the stack did not become healthy / smoke failed
    +-- DeployOutcome                  a deploy that ran but did not go through
        +-- RolledBack            (20)
        +-- Aborted               (21)
        +-- DeployFailed          (22)
    UserError: ChaosInvalid (40), UnknownExperiment (41), ChaosForbidden (42)
    ChaosOutcome                       a chaos run that did not hold
        +-- ChaosDeviated         (43)
        +-- ChaosAborted          (44)

Anything else escaping to the CLI is our bug: exit 70 with a request to report it.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_BUG = 70


class PipelineError(Exception):
    """Base of every error the pipeline raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} (hint: {self.hint})"


class UserError(PipelineError):
    exit_code = 2


class ConfigError(UserError):
    exit_code = 2


class UnknownEnvironment(UserError):
    exit_code = 3


class UnknownVersion(UserError):
    exit_code = 4


class PortTaken(UserError):
    exit_code = 5


class EngineUnavailable(UserError):
    exit_code = 6


class Locked(UserError):
    exit_code = 7


class NothingToDo(UserError):
    exit_code = 8


class ExternalError(PipelineError):
    exit_code = 10


class CommandFailed(ExternalError):
    exit_code = 10


class NotReady(ExternalError):
    exit_code = 11


class DeployOutcome(PipelineError):
    exit_code = 22


class RolledBack(DeployOutcome):
    exit_code = 20


class Aborted(DeployOutcome):
    exit_code = 21


class DeployFailed(DeployOutcome):
    exit_code = 22


EXIT_CODES: dict[int, str] = {
    0: "ok",
    2: "invalid input: bad env file, bad value, unknown key or flag",
    3: "unknown environment",
    4: "unknown version (not in the registry)",
    5: "edge port already taken",
    6: "Docker engine missing and not installable",
    7: "environment locked by another deploy",
    8: "nothing to do (e.g. no canary running)",
    10: "an external command failed",
    11: "stack not ready / smoke check failed",
    20: "deploy rolled back",
    21: "deploy aborted",
    22: "deploy failed",
    70: "internal error (a bug in the pipeline)",
}


# --- the chaos harness (40-44) ---------------------------------------------------


class ChaosInvalid(UserError):
    """An experiment that does not validate (Chaos Toolkit's validation, or ours)."""

    exit_code = 40


class UnknownExperiment(UserError):
    exit_code = 41


class ChaosForbidden(UserError):
    """The environment's env.yaml does not allow chaos."""

    exit_code = 42


class ChaosOutcome(PipelineError):
    """A chaos run that ran but did not hold."""

    exit_code = 43


class ChaosDeviated(ChaosOutcome):
    """A hypothesis deviated, a fault was not confirmed, or acknowledged writes were lost."""

    exit_code = 43


class ChaosAborted(ChaosOutcome):
    """The run's error budget was spent: the experiment was interrupted and rolled back."""

    exit_code = 44


EXIT_CODES.update(
    {
        40: "chaos: an experiment does not validate",
        41: "chaos: unknown experiment",
        42: "chaos: the environment does not allow chaos",
        43: "chaos: a hypothesis deviated, a fault was not confirmed or writes were lost",
        44: "chaos: error budget spent, experiment aborted and rolled back",
    }
)
