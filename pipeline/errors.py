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
    |   +-- WorkflowInvalid       (80) .github/: a workflow, dependabot.yml or a called make target is wrong
    |   +-- CloudCredentialsMissing (81) no AWS credentials or no region
    |   +-- WrongAccount          (82) identity guard: the caller's account is not env.yaml's account_id
    |   +-- PulumiUnavailable     (83) no Pulumi CLI on this machine
    |   +-- NoProgram             (84) the environment has no Pulumi program (Pulumi.yaml)
    |   +-- SecretFound           (85) a possible secret in the tree or history, not in .secrets.baseline
    |   +-- FlagsError            (50) invalid flag definition (schema or semantic check)
    |       +-- FlagsNotJson      (51) a flag file that is not valid JSON
    |       +-- UnknownFlag       (52) no such flag (or variant)
    |       +-- FlagValueInvalid  (53) a variant value of the wrong type
    |       +-- RolloutInvalid    (54) rollout percentages that do not add up to 100
    +-- ExternalError             (10) a third-party command failed (wrapped where it enters)
    |   +-- CommandFailed         (10)
    |   +-- NotReady              (11) the stack did not become healthy / smoke failed
    |   +-- VmUnreachable         (60) kind vm: no SSH answer from the host
    |   +-- SshKeyRejected        (61) kind vm: the host refused the SSH key
    |   +-- AcmeRefused           (62) kind vm: the ACME server refused (or did not answer) certbot
    |   +-- DomainUnresolved      (63) kind vm: the domain does not resolve to the host
    |   +-- HostConfigFailed      (64) kind vm: the playbook failed (nginx is never reloaded untested)
    +-- DeployOutcome                  a deploy that ran but did not go through
    |   +-- RolledBack            (20)
    |   +-- Aborted               (21)
    |   +-- DeployFailed          (22)
    +-- GateOutcome                    a gate that ran and did not pass
        +-- GateFailed            (30) a threshold was crossed (absolute or vs stable)
        +-- GateError             (31) the gate itself broke: script error, k6 crash,
                                       a threshold on a metric the script never emitted
    UserError subclasses of the gates:
        UnknownScript             (32) no perf/<name>.js
        Unreachable               (33) the environment's edge does not answer
    UserError subclasses of chaos: ChaosInvalid (40), UnknownExperiment (41), ChaosForbidden (42)
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


class WorkflowInvalid(UserError):
    exit_code = 80


class CloudCredentialsMissing(UserError):
    exit_code = 81


class WrongAccount(UserError):
    exit_code = 82


class PulumiUnavailable(UserError):
    exit_code = 83


class NoProgram(UserError):
    exit_code = 84


class SecretFound(UserError):
    exit_code = 85


class FlagsError(UserError):
    exit_code = 50


class FlagsNotJson(FlagsError):
    exit_code = 51


class UnknownFlag(FlagsError):
    exit_code = 52


class FlagValueInvalid(FlagsError):
    exit_code = 53


class RolloutInvalid(FlagsError):
    exit_code = 54


class ExternalError(PipelineError):
    exit_code = 10


class CommandFailed(ExternalError):
    exit_code = 10


class NotReady(ExternalError):
    exit_code = 11


class VmUnreachable(ExternalError):
    exit_code = 60


class SshKeyRejected(ExternalError):
    exit_code = 61


class AcmeRefused(ExternalError):
    exit_code = 62


class DomainUnresolved(ExternalError):
    exit_code = 63


class HostConfigFailed(ExternalError):
    exit_code = 64


class DeployOutcome(PipelineError):
    exit_code = 22


class RolledBack(DeployOutcome):
    exit_code = 20


class Aborted(DeployOutcome):
    exit_code = 21


class DeployFailed(DeployOutcome):
    exit_code = 22


class GateOutcome(PipelineError):
    exit_code = 30


class GateFailed(GateOutcome):
    exit_code = 30


class GateError(GateOutcome):
    exit_code = 31


class UnknownScript(UserError):
    exit_code = 32


class Unreachable(UserError):
    exit_code = 33


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
    30: "gate failed: a threshold was crossed",
    31: "gate error: script error, k6 crash or a threshold on a metric never emitted",
    32: "unknown perf script",
    33: "environment unreachable (its edge does not answer)",
    50: "invalid flag definition",
    51: "flag file is not valid JSON",
    52: "unknown flag or variant",
    53: "flag value of the wrong type",
    54: "rollout percentages do not add up to 100",
    60: "vm: host unreachable over SSH",
    61: "vm: SSH key refused by the host",
    62: "vm: the ACME server refused certbot",
    63: "vm: the domain does not resolve to the host",
    64: "vm: the playbook failed on the host",
    70: "internal error (a bug in the pipeline)",
    80: "a workflow, dependabot.yml or a make target the workflows call is invalid",
    81: "AWS credentials or region missing",
    82: "wrong AWS account (identity guard)",
    83: "Pulumi CLI missing",
    84: "environment has no Pulumi program",
    85: "a possible secret in the tree or the git history, not allowed by .secrets.baseline",
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
