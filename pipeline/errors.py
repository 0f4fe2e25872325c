"""The one exception tree of the pipeline, mapped to exit codes.

::

    PipelineError                 (1)  base; never raised directly
    +-- UserError                 (2)  the user's mistake: one line and a hint
    |   +-- ConfigError           (2)  bad or missing env file, bad value, unknown key
    |   +-- MissingPart           (2)  the kind has no such part (e.g. flags on ecs)
    |   +-- UnknownEnvironment    (3)  no environments/<name>/env.yaml
    |   +-- UnknownVersion        (4)  the release does not exist in the registry
    |   +-- PortTaken             (5)  the edge port is held by something else
    |   +-- EngineUnavailable     (6)  no Docker engine and none can be installed
    |   +-- Locked                (7)  another deploy holds the environment
    |   +-- NothingToDo           (8)  e.g. promote with no canary running
    |   +-- SecretMissing         (9)  a secret the app declares (app.secrets) has no value set
    |   +-- WorkflowInvalid       (80) .github/: a workflow, dependabot.yml or a called make target is wrong
    |   +-- CloudCredentialsMissing (81) no AWS credentials or no region
    |   +-- WrongAccount          (82) identity guard: the caller's account is not env.yaml's account_id
    |   +-- ForeignSwarm          (65) identity guard: a swarm node belongs to another swarm
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
    |   +-- VmUnreachable         (60) kinds vm, swarm: no SSH answer from the host
    |   +-- SshKeyRejected        (61) kinds vm, swarm: the host refused the SSH key
    |   +-- AcmeRefused           (62) kind vm: the ACME server refused (or did not answer) certbot
    |   +-- DomainUnresolved      (63) kind vm: the domain does not resolve to the host
    |   +-- HostConfigFailed      (64) kinds vm, swarm: the playbook failed (nginx is never reloaded untested)
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

Anything else escaping to the CLI is our bug: exit 70 with a request to report it; Ctrl-C is 130.
``EXIT_TABLE`` at the end is the one table of the codes, with the few deliberate shares and why
(tests/unit/test_exit_codes.py holds the README, ``--help`` and this tree to it).
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_BUG = 70
EXIT_INTERRUPTED = 130  # Ctrl-C outside a canary run (the shell's 128 + SIGINT)


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


class MissingPart(UserError):
    """The environment's kind has no such part (flags on ecs, a certificate on local): refused before anything runs."""


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


class SecretMissing(UserError):
    """A name under ``app.secrets`` has no value in the environment yet (``pipeline secrets set``)."""

    exit_code = 9


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


class ForeignSwarm(UserError):
    """A node of a ``kind: swarm`` environment belongs to another swarm (identity guard)."""

    exit_code = 65


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


# --- the one table of exit codes ------------------------------------------------------


@dataclass(frozen=True)
class ExitCode:
    """One exit code: what it means and the errors that exit with it (none: not an error)."""

    code: int
    meaning: str
    raised_by: tuple[type[PipelineError], ...] = ()
    shared_because: str = ""  # why several errors exit with this code on purpose
    listed: bool = True  # in ``pipeline --help`` and the README's table

    @property
    def name(self) -> str:
        return self.raised_by[-1].__name__ if self.raised_by else {EXIT_OK: "ok", EXIT_BUG: "bug"}.get(self.code, "")


_OUTCOME_BASE = "the base class of a family exits like its default member"

EXIT_TABLE: tuple[ExitCode, ...] = (
    ExitCode(EXIT_OK, "ok"),
    ExitCode(
        2,
        "invalid input: bad env file, bad value, unknown key or flag",
        (UserError, MissingPart, ConfigError),
        "a bad env file, or a command the environment's kind cannot do, is invalid input; a usage error exits 2 too",
    ),
    ExitCode(3, "unknown environment", (UnknownEnvironment,)),
    ExitCode(4, "unknown version (not in the registry)", (UnknownVersion,)),
    ExitCode(5, "edge port already taken", (PortTaken,)),
    ExitCode(6, "Docker engine missing and not installable", (EngineUnavailable,)),
    ExitCode(7, "environment locked by another deploy", (Locked,)),
    ExitCode(8, "nothing to do (e.g. no canary running)", (NothingToDo,)),
    ExitCode(9, "a secret the app declares (app.secrets) is not set", (SecretMissing,)),
    ExitCode(10, "an external command failed", (ExternalError, CommandFailed), _OUTCOME_BASE),
    ExitCode(11, "stack not ready / smoke check failed", (NotReady,)),
    ExitCode(20, "deploy rolled back", (RolledBack,)),
    ExitCode(21, "deploy aborted", (Aborted,)),
    ExitCode(22, "deploy failed", (DeployOutcome, DeployFailed), _OUTCOME_BASE),
    ExitCode(30, "gate failed: a threshold was crossed", (GateOutcome, GateFailed), _OUTCOME_BASE),
    ExitCode(31, "gate error: script error, k6 crash or a threshold on a metric never emitted", (GateError,)),
    ExitCode(32, "unknown perf script", (UnknownScript,)),
    ExitCode(33, "environment unreachable (its edge does not answer)", (Unreachable,)),
    ExitCode(40, "chaos: an experiment does not validate", (ChaosInvalid,)),
    ExitCode(41, "chaos: unknown experiment", (UnknownExperiment,)),
    ExitCode(42, "chaos: the environment does not allow chaos", (ChaosForbidden,)),
    ExitCode(
        43,
        "chaos: a hypothesis deviated, a fault was not confirmed or writes were lost",
        (ChaosOutcome, ChaosDeviated),
        _OUTCOME_BASE,
    ),
    ExitCode(44, "chaos: error budget spent, experiment aborted and rolled back", (ChaosAborted,)),
    ExitCode(50, "invalid flag definition", (FlagsError,)),
    ExitCode(51, "flag file is not valid JSON", (FlagsNotJson,)),
    ExitCode(52, "unknown flag or variant", (UnknownFlag,)),
    ExitCode(53, "flag value of the wrong type", (FlagValueInvalid,)),
    ExitCode(54, "rollout percentages do not add up to 100", (RolloutInvalid,)),
    ExitCode(60, "vm, swarm: host unreachable over SSH", (VmUnreachable,)),
    ExitCode(61, "vm, swarm: SSH key refused by the host", (SshKeyRejected,)),
    ExitCode(62, "vm: the ACME server refused certbot", (AcmeRefused,)),
    ExitCode(63, "vm: the domain does not resolve to the host", (DomainUnresolved,)),
    ExitCode(64, "vm, swarm: the playbook failed on the host", (HostConfigFailed,)),
    ExitCode(65, "swarm: a node belongs to another swarm (identity guard)", (ForeignSwarm,)),
    ExitCode(EXIT_BUG, "internal error (a bug in the pipeline)"),
    ExitCode(80, "a workflow, dependabot.yml or a make target the workflows call is invalid", (WorkflowInvalid,)),
    ExitCode(81, "AWS credentials or region missing", (CloudCredentialsMissing,)),
    ExitCode(82, "wrong AWS account (identity guard)", (WrongAccount,)),
    ExitCode(83, "Pulumi CLI missing", (PulumiUnavailable,)),
    ExitCode(84, "environment has no Pulumi program", (NoProgram,)),
    ExitCode(85, "a possible secret in the tree or the git history, not allowed by .secrets.baseline", (SecretFound,)),
    ExitCode(EXIT_INTERRUPTED, "interrupted (Ctrl-C)", listed=False),
)

# code -> meaning, as ``pipeline --help`` lists them
EXIT_CODES: dict[int, str] = {e.code: e.meaning for e in EXIT_TABLE if e.listed}
