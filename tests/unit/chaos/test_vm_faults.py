"""The VM faults confirm themselves: an action that silently did nothing raises ActivityFailed."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from chaoslib.exceptions import ActivityFailed

from chaosstack.vm import actions, probes
from chaosstack.vm.probes import ServedCertificate
from pipeline.commands import Command, Result
from pipeline.testing import FakeExecutor

VM = {"pipeline_env": "vm-local"}  # environments/vm-local: kind vm, chaos allowed
NOW = 2_000_000_000.0
DAY = 86_400.0


def host(fake: FakeExecutor, answer: Callable[[str], Result]) -> list[str]:
    """Answer every SSH command by its remote script; return the scripts run."""
    scripts: list[str] = []

    def respond(command: Command) -> Result:
        scripts.append(command.argv[-1])
        return answer(command.argv[-1])

    fake.on("ssh", result=respond)
    return scripts


def certificate(days: float, fingerprint: str = "a", trusted: bool = True) -> ServedCertificate:
    return ServedCertificate(fingerprint, NOW + days * DAY, trusted)


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("chaosstack.vm.actions.time.time", lambda: NOW)
    monkeypatch.setattr("chaosstack.vm.probes.time.time", lambda: NOW)


# --- kill an instance -------------------------------------------------------------------


def test_kill_instance_is_confirmed_when_the_process_is_gone(fake: FakeExecutor) -> None:
    killed: list[str] = []

    def answer(script: str) -> Result:
        if "list-units" in script:
            return Result(0, "refapp-canary@8101.service 4242 0\n")
        if "systemctl kill" in script:
            killed.append(script)
            return Result(0)
        if script.startswith("sudo kill -0"):
            return Result(1 if killed else 0)
        return Result(0)

    host(fake, answer)
    out = actions.kill_instance("canary", configuration=VM)
    assert killed == ["sudo systemctl kill --signal=SIGKILL refapp-canary@8101.service"]
    assert out["confirmed"] is True and (out["unit"], out["pid"]) == ("refapp-canary@8101.service", 4242)


def test_kill_instance_that_did_nothing_fails(fake: FakeExecutor) -> None:
    host(fake, lambda s: Result(0, "refapp-stable@8001.service 77 0\n") if "list-units" in s else Result(0))
    with pytest.raises(ActivityFailed, match=r"process 77 of refapp-stable@8001\.service gone: not so"):
        actions.kill_instance("stable", configuration=VM)


def test_kill_instance_without_an_instance_fails_and_kills_nothing(fake: FakeExecutor) -> None:
    scripts = host(fake, lambda s: Result(0, "refapp-canary@8101.service 0 3\n" if "list-units" in s else ""))
    with pytest.raises(ActivityFailed, match="no running instance on the canary track"):
        actions.kill_instance("canary", configuration=VM)
    assert not any("systemctl kill" in s for s in scripts)


def test_vm_faults_refuse_a_local_environment(fake: FakeExecutor) -> None:
    with pytest.raises(ActivityFailed, match="for kind vm"):
        actions.kill_instance("canary", configuration={"pipeline_env": "ci"})
    assert not fake.calls


# --- the certificate ------------------------------------------------------------------------


def served_sequence(monkeypatch: pytest.MonkeyPatch, *served: ServedCertificate | None) -> None:
    queue = list(served)
    monkeypatch.setattr(actions, "served_certificate", lambda _stack: queue.pop(0) if len(queue) > 1 else queue[0])
    monkeypatch.setattr(probes, "served_certificate", lambda _stack: queue.pop(0) if len(queue) > 1 else queue[0])


def test_expire_certificate_is_confirmed_by_what_nginx_serves(fake: FakeExecutor, monkeypatch: pytest.MonkeyPatch) -> None:
    scripts = host(fake, lambda s: Result(0, "notAfter=...\n"))
    served_sequence(monkeypatch, certificate(1500, "ca"), certificate(1.99, "stand-in", trusted=False))
    out = actions.expire_certificate(2, configuration=VM)
    assert out["confirmed"] is True and out["served"] == "stand-in" and out["served_before"] == "ca"
    assert any("-days 2" in s and "subjectAltName=DNS:vm-local.pl-vm.test" in s for s in scripts)


def test_expire_certificate_that_nginx_never_serves_fails(fake: FakeExecutor, monkeypatch: pytest.MonkeyPatch) -> None:
    host(fake, lambda s: Result(0))
    served_sequence(monkeypatch, certificate(1500, "ca"))  # nginx was not reloaded: still the CA's
    with pytest.raises(ActivityFailed, match="expires within 2 day"):
        actions.expire_certificate(2, configuration=VM)


@pytest.mark.parametrize("days", [0, 30, 90])
def test_expire_certificate_outside_the_renewal_window_is_refused(fake: FakeExecutor, days: int) -> None:
    with pytest.raises(ActivityFailed, match="1-29"):
        actions.expire_certificate(days, configuration=VM)
    assert not fake.mutating()


def test_renewal_is_seen_only_when_a_trusted_new_certificate_is_served(
    fake: FakeExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chaosstack._stack import Stack

    Stack.from_configuration(VM).injected("expire_certificate", served="stand-in")
    served_sequence(
        monkeypatch,
        certificate(1.9, "stand-in", trusted=False),  # not yet
        certificate(1.9, "other", trusted=False),  # someone else's self-signed: not a renewal
        certificate(1800, "renewed"),
    )
    assert probes.certificate_renewed(30, timeout=5, configuration=VM) >= 0.0


def test_a_renewal_that_never_comes_fails_the_probe(fake: FakeExecutor, monkeypatch: pytest.MonkeyPatch) -> None:
    from chaosstack._stack import Stack

    Stack.from_configuration(VM).injected("expire_certificate", served="stand-in")
    served_sequence(monkeypatch, certificate(1.9, "stand-in", trusted=False))
    with pytest.raises(ActivityFailed, match="trusted certificate"):
        probes.certificate_renewed(30, timeout=3, configuration=VM)


# --- recovery ------------------------------------------------------------------------------


def test_recovery_needs_a_new_process_for_the_killed_unit(fake: FakeExecutor, monkeypatch: pytest.MonkeyPatch) -> None:
    from chaosstack._stack import Stack

    Stack.from_configuration(VM).injected("kill_instance", unit="refapp-canary@8101.service", pid=4242)
    monkeypatch.setattr("chaosstack.edge.probes.answers", lambda *a, **k: True)
    pids = iter(["4242", "4242", "5151"])
    host(fake, lambda s: Result(0, f"refapp-canary@8101.service {next(pids)} 1\n") if "list-units" in s else Result(0))
    assert probes.wait_recovered("canary", timeout=10, configuration=VM) >= 0.0


def test_an_instance_that_stays_down_is_not_recovered(fake: FakeExecutor, monkeypatch: pytest.MonkeyPatch) -> None:
    from chaosstack._stack import Stack

    Stack.from_configuration(VM).injected("kill_instance", unit="refapp-stable@8001.service", pid=77)
    monkeypatch.setattr("chaosstack.edge.probes.answers", lambda *a, **k: True)
    host(fake, lambda s: Result(0, "refapp-stable@8002.service 78 0\n") if "list-units" in s else Result(0))
    with pytest.raises(ActivityFailed, match="stable track's 2 instance"):
        probes.wait_recovered("stable", timeout=3, configuration=VM)
