"""End-to-end: the vm target on vm-local (a systemd container over SSH + pebble).

Own fixture, not the Swarm `ci` stack: from nothing (`down --volumes`, then `up`), a
second `up` with changed=0, the host verified with testinfra over SSH, a canary deploy and
a rollback under k6 load, the perf gate's compare through the VM's nginx, a forced certificate
renewal under HTTPS load, and the vm chaos experiments.
PIPELINE_E2E_VM_ENV runs it on another vm environment (e.g. a developer's dev-vm).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket as sockets
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.commands.k6 import BackgroundLoad, Summary, run_command
from pipeline.environment import load_environment

from .conftest import pipeline, ssh_as_admin

ROOT = Path(__file__).resolve().parents[2]
ENV = os.environ.get("PIPELINE_E2E_VM_ENV", "vm-local")
CONF = load_environment(ROOT, ENV)
assert CONF.vm is not None and CONF.vm.local is not None
VM = CONF.vm
STATE = ROOT / ".pipeline" / "vm" / ENV
BASE = f"http://127.0.0.1:{CONF.edge.port}"
HTTPS = f"https://{VM.domain}:{VM.ports.https}"

pytestmark = pytest.mark.e2e


def ssh(script: str, check: bool = True) -> str:
    return ssh_as_admin(STATE, VM.ssh.port, script, check)


@pytest.fixture(scope="module")
def vm() -> Iterator[dict[str, Any]]:
    """From nothing: whatever an earlier run left is removed, then `up` (timed)."""
    pipeline("down", ENV, "--volumes", check=False, timeout=300)
    started = time.monotonic()
    first = pipeline("up", ENV, timeout=1800)
    yield {"first": first.stdout + first.stderr, "seconds": time.monotonic() - started}
    if not os.environ.get("PIPELINE_E2E_KEEP"):
        pipeline("down", ENV, "--volumes", check=False, timeout=300)


@pytest.fixture(scope="module")
def releases(vm: dict[str, Any]) -> tuple[str, str]:
    """This commit, built twice (two tags), the first one released straight to stable."""
    first = pipeline("build", "--env", ENV, timeout=1800).stdout.strip()
    second = pipeline("build", "--env", ENV, "--suffix", "vm2", timeout=900).stdout.strip()
    pipeline("deploy", ENV, "--version", first, "--track", "stable", timeout=900)
    return first, second


def test_up_from_nothing_issues_a_certificate_and_verifies_https(vm: dict[str, Any]) -> None:
    assert "changed=" in vm["first"] and "failed=0" in vm["first"]
    assert f"https: {HTTPS} verified against the ACME CA's root" in vm["first"]


def test_a_second_up_changes_nothing(vm: dict[str, Any]) -> None:
    again = pipeline("up", ENV, timeout=1200)
    assert re.search(r"changed=0\b", again.stdout + again.stderr), again.stdout + again.stderr


SSLYZE = ROOT / ".venv-tls" / "bin" / "sslyze"  # its own venv (requirements/tls.lock)
# what a scan of vm-local may still report: the chain ends in pebble's throw-away root
TEST_CA_ONLY = {"certificate_path_validation"}


def test_tls_is_mozilla_intermediate_as_sslyze_sees_it(vm: dict[str, Any]) -> None:
    """sslyze against the VM's nginx on 127.0.0.1 (with the domain as SNI): compliant with Mozilla's
    intermediate profile (protocols, ciphers, curves, 90-day certificate) but for the test CA's trust path."""
    root = STATE / "pebble" / "issuing-root.pem"
    target = f"{VM.domain}:{VM.ports.https}{{127.0.0.1}}"
    argv = [str(SSLYZE), "--mozilla_config=intermediate", f"--certinfo_ca_file={root}", target]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    out = result.stdout
    assert "COMPLIANCE AGAINST" in out and 'Checking results against Mozilla\'s "intermediate"' in out, out + result.stderr
    verdict = out[out.index("COMPLIANCE AGAINST") :]
    print(verdict)
    issues = dict(re.findall(r"^\s*\* (\w+): (.*)$", verdict, re.M))
    assert "OK - Compliant." in verdict or "FAILED - Not compliant." in verdict, verdict
    assert set(issues) <= TEST_CA_ONLY, issues


def test_secrets_on_the_host_are_readable_by_their_owners_only(vm: dict[str, Any]) -> None:
    from datetime import datetime

    from pipeline.edge import pin_token

    token = pin_token(json.loads((STATE / "secrets.json").read_text())["django_secret_key"])
    assert token in ssh("sudo cat /etc/nginx/pipeline/pin.conf")
    assert ssh("sudo stat -c '%U:%G %a' /etc/nginx/pipeline/pin.conf").strip() == "root:www-data 640"
    assert token not in ssh("cat /etc/nginx/nginx.conf")  # world-readable: no secret in it
    assert ssh("sudo stat -c '%U %a' /etc/refapp/common.env").strip() == "root 600"
    text = ssh("sudo openssl x509 -in /etc/nginx/pipeline/tls/fullchain.pem -noout -dates")
    dates = {k: datetime.strptime(" ".join(v.split()), "%b %d %H:%M:%S %Y %Z") for k, v in re.findall(r"(\w+)=(.*)", text)}
    assert (dates["notAfter"] - dates["notBefore"]).days <= 90, text  # Let's Encrypt's lifetime, not pebble's 5 years


def test_the_host_with_testinfra(releases: tuple[str, str]) -> None:
    import testinfra

    host = testinfra.get_host(
        f"ssh://admin@127.0.0.1:{VM.ssh.port}",
        ssh_identity_file=str(STATE / "id_ed25519"),
        ssh_extra_args=f"-o UserKnownHostsFile={STATE / 'known_hosts'} -o StrictHostKeyChecking=accept-new -o BatchMode=yes",
        sudo=True,
    )
    for unit in ("nginx", "postgresql", "redis-server", "pl-split-watchdog", "refapp-stable@8001", "refapp-stable@8002"):
        assert host.service(unit).is_running, unit
    assert host.service("nginx").is_enabled
    assert host.service("pl-certbot-renew.timer").is_running
    # SSH hardening in force (sshd's effective configuration)
    effective = host.check_output("sshd -T")
    assert "permitrootlogin no" in effective and "passwordauthentication no" in effective
    assert "kbdinteractiveauthentication no" in effective
    # the certificate nginx serves: for the domain, from the ACME CA, valid for more than a day
    cert = "/etc/nginx/pipeline/tls/fullchain.pem"
    assert f"DNS:{VM.domain}" in host.check_output(f"openssl x509 -in {cert} -noout -ext subjectAltName")
    assert "Pebble" in host.check_output(f"openssl x509 -in {cert} -noout -issuer")
    assert host.run(f"openssl x509 -in {cert} -noout -checkend 86400").rc == 0
    # only the expected ports listen; everything but SSH/HTTP/HTTPS/operator on loopback only
    public = {22, 80, 443, 8080}
    for socket in host.socket.get_listening_sockets():
        if not socket.startswith("tcp://"):
            continue
        address, _, port = socket.removeprefix("tcp://").rpartition(":")
        if address not in ("127.0.0.1", "::1", "[::1]"):
            assert int(port) in public, f"{socket} listens beyond loopback"
    # the firewall drops anything else
    assert "policy drop" in host.check_output("nft list chain inet filter input")


def _load(name: str, rate: int, seconds: int) -> BackgroundLoad:
    """k6 through the VM's nginx, bounded in time (the canary needs min_requests per step)."""
    summary = ROOT / ".pipeline" / "k6" / f"{ENV}-{name}.json"
    summary.parent.mkdir(parents=True, exist_ok=True)
    return BackgroundLoad(ROOT / "perf" / "load.js", BASE, rate, seconds, summary, paths="/api/notes?limit=5,/version")


def test_cookies_over_https_through_the_vm_nginx_are_secure(releases: tuple[str, str]) -> None:
    """nginx tells the app the request came over TLS (X-Forwarded-Proto from its address only):
    every cookie the login page sets over HTTPS carries `Secure`."""
    context = ssl.create_default_context(cafile=str(STATE / "pebble" / "issuing-root.pem"))
    raw = sockets.create_connection(("127.0.0.1", VM.ports.https), timeout=20)
    conn = http.client.HTTPConnection(VM.domain, VM.ports.https, timeout=20)
    conn.sock = context.wrap_socket(raw, server_hostname=VM.domain)  # the domain's certificate, checked
    try:
        conn.request("GET", "/accounts/login/")
        response = conn.getresponse()
        cookies = response.headers.get_all("Set-Cookie") or []
    finally:
        conn.close()
    assert response.status == 200 and cookies, (response.status, cookies)
    assert all("; secure" in cookie.lower() for cookie in cookies), cookies


def test_canary_deploy_and_rollback_under_load(releases: tuple[str, str]) -> None:
    first, second = releases
    load = _load("canary", rate=30, seconds=400)
    try:
        deploy = pipeline("deploy", ENV, "--version", second, timeout=900, check=False)
        assert deploy.returncode == 0, deploy.stdout + deploy.stderr
        current = pipeline("status", ENV, "--json").stdout
        assert f'"version": "{second}"' in current
        back = pipeline("rollback", ENV, timeout=600, check=False)
        assert back.returncode == 0, back.stdout + back.stderr
        assert f'"version": "{first}"' in pipeline("status", ENV, "--json").stdout
    finally:
        summary = load.stop()
    assert summary is not None and summary.requests > 100
    print(f"canary+rollback under load: {summary}")
    assert summary.failed == 0, summary


def test_compare_pins_each_track_through_the_vm_nginx(releases: tuple[str, str]) -> None:
    """The perf gate's canary-vs-stable run on a VM: nginx honours the track pin with the token."""
    _, second = releases
    pipeline("deploy", ENV, "--version", second, "--track", "canary", timeout=900)
    try:
        run = pipeline("gate", "perf", ENV, "--script", "compare", "--json", check=False, timeout=300)
        data = json.loads(run.stdout)
        assert run.returncode == 0, data["lines"]
        # 30 requests/s shared by instance: 2 stable at 20/s, 1 canary at 10/s, for 10 s
        assert data["tracks"]["canary"]["requests"] >= 80 and data["tracks"]["stable"]["requests"] >= 160
        assert all(c["passed"] for c in data["relative"])
    finally:
        pipeline("canary", "abort", ENV, check=False, timeout=300)
    assert json.loads(pipeline("status", ENV, "--json").stdout)["tracks"]["canary"]["version"] is None


def test_forced_renewal_under_https_load(releases: tuple[str, str]) -> None:
    cert = "/etc/nginx/pipeline/tls/fullchain.pem"
    before = ssh(f"sudo openssl x509 -in {cert} -noout -serial")
    summary_path = ROOT / ".pipeline" / "k6" / f"{ENV}-renewal.json"
    summary_path.unlink(missing_ok=True)
    command = run_command(
        ROOT / "perf" / "https.js",
        summary_path,
        {"BASE_URL": HTTPS, "HOST": VM.domain, "IP": "127.0.0.1", "RATE": "20", "DURATION": "40s"},
    )
    root = STATE / "pebble" / "issuing-root.pem"
    k6 = subprocess.Popen(list(command.argv), env={**os.environ, "SSL_CERT_FILE": str(root)}, stdout=subprocess.DEVNULL)
    try:
        time.sleep(5)
        renewed = pipeline("cert", ENV, "--renew", "--force", "--json", timeout=300)
        assert '"renewed": true' in renewed.stdout
    finally:
        k6.wait(timeout=120)
    after = ssh(f"sudo openssl x509 -in {cert} -noout -serial")
    assert after != before, "the certificate was not renewed"
    summary = Summary.load(summary_path)
    print(f"forced renewal under HTTPS load: {summary}")
    assert summary.requests > 100
    assert summary.failed == 0, summary


def test_vm_chaos_experiments_hold_and_confirm_their_faults(releases: tuple[str, str]) -> None:
    """The vm experiments under k6 load: a canary's and a stable instance's process SIGKILLed,
    the certificate two days from expiry renewed by the timer's job; each fault confirmed."""
    before = ssh("sudo openssl x509 -in /etc/nginx/pipeline/tls/fullchain.pem -noout -serial")
    run = pipeline("chaos", "run", ENV, "--json", timeout=1200, check=False)
    report = json.loads(run.stdout)
    rows = {r["name"]: r for r in report["experiments"]}
    assert set(rows) == {"vm-kill-canary-instance", "vm-kill-stable-instance", "vm-certificate-expiry"}
    for name, row in rows.items():
        assert row["fault_confirmed"], (name, row["reason"])
        assert row["passed"], (name, row)
        assert row["time_to_recover"] is not None, name
        assert row["failed_requests"] == 0 and row["edge_failed"] == 0, (name, row)
    assert run.returncode == 0 and report["score"] == 100.0
    # the renewal really happened (the timer's job, not a forced one), and the canary is gone again
    after = ssh("sudo openssl x509 -in /etc/nginx/pipeline/tls/fullchain.pem -noout -serial")
    assert after != before
    status = json.loads(pipeline("status", ENV, "--json").stdout)
    assert status["tracks"]["canary"]["version"] is None and status["weights"]["canary"] == 0
