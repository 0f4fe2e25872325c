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
    |   +-- VmUnreachable         (60) kind vm: no SSH answer from the host
    |   +-- SshKeyRejected        (61) kind vm: the host refused the SSH key
    |   +-- AcmeRefused           (62) kind vm: the ACME server refused (or did not answer) certbot
    |   +-- DomainUnresolved      (63) kind vm: the domain does not resolve to the host
    |   +-- HostConfigFailed      (64) kind vm: the playbook failed (nginx is never reloaded untested)
    +-- DeployOutcome                  a deploy that ran but did not go through
        +-- RolledBack            (20)
        +-- Aborted               (21)
        +-- DeployFailed          (22)

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
    60: "vm: host unreachable over SSH",
    61: "vm: SSH key refused by the host",
    62: "vm: the ACME server refused certbot",
    63: "vm: the domain does not resolve to the host",
    64: "vm: the playbook failed on the host",
    70: "internal error (a bug in the pipeline)",
}
