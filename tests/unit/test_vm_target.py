"""The vm target's own logic: the model, SSH error classes, the play recap, the commands."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from pipeline import edge
from pipeline.commands import Command, Result
from pipeline.commands.ansible import inventory, playbook, recap
from pipeline.commands.ssh import Login, classify
from pipeline.edge import Weights, parse_weights
from pipeline.environment import load_environment, load_file
from pipeline.errors import (
    AcmeRefused,
    ConfigError,
    DomainUnresolved,
    HostConfigFailed,
    SshKeyRejected,
    VmUnreachable,
)
from pipeline.project import Project
from pipeline.targets.vm import VmTarget, track_ports
from pipeline.targets.vmlocal import LocalVmHost
from pipeline.testing import FakeExecutor

ROOT = Path(__file__).resolve().parents[2]


def project(tmp_path: Path) -> Project:
    return Project(root=ROOT, state=tmp_path / "state")


def login(tmp_path: Path) -> Login:
    return Login("127.0.0.1", 22022, "admin", tmp_path / "id", tmp_path / "known_hosts", tmp_path)


def test_vm_local_loads_with_its_own_ports() -> None:
    env = load_environment(ROOT, "vm-local")
    assert env.target.kind == "vm" and env.vm is not None and env.vm.local is not None
    assert env.stack.startswith("pl-vm")
    ports = {env.vm.ssh.port, env.vm.ports.http, env.vm.ports.https, env.edge.port}
    assert len(ports) == 4
    # never the ci or local edge ports, never the dev ranges
    assert not ports & {8080, 18080} and not any(18300 <= p <= 18399 or 22300 <= p <= 22399 for p in ports)
    assert env.vm.acme.ca_root == "pebble"


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "environments" / "v" / "env.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(body)
    return path


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("target: {kind: vm}\nvm: {domain: not_a_domain}\n", "vm.domain"),
        ("target: {kind: vm}\nvm: {acme: {server: 'http://plain/dir'}}\n", "vm.acme.server"),
        ("target: {kind: vm}\nvm: {acme: {ca_root: pebble}}\n", "vm"),
        ("target: {kind: vm}\nvm: {hosts: ['10.0.0.1'], local: {}}\n", "vm"),
        ("target: {kind: vm}\nvm: {local: {container: other}}\n", "vm.local.container"),
        ("target: {kind: vm}\nvm: {ssh: {user: 'Root Admin'}}\n", "vm.ssh.user"),
    ],
)
def test_bad_vm_sections_are_one_line_with_the_key_path(tmp_path: Path, body: str, needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_file(write(tmp_path, body), "v", tmp_path)
    assert needle in err.value.message
    assert "\n" not in err.value.message


def test_kind_vm_without_a_vm_section_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="vm: missing"):
        load_file(write(tmp_path, "target: {kind: vm}\ncanary: {compare_with: stable}\n"), "v", tmp_path)
    env = load_environment(ROOT, "vm-local").model_copy(update={"vm": None})  # past the model: the target refuses too
    with pytest.raises(ConfigError, match="vm: missing"):
        VmTarget(env, FakeExecutor(), project(tmp_path), lambda _: None)


@pytest.mark.parametrize(
    ("stderr", "kind", "code"),
    [
        ("admin@127.0.0.1: Permission denied (publickey).", SshKeyRejected, 61),
        ("ssh: connect to host 127.0.0.1 port 22022: Connection refused", VmUnreachable, 60),
        ("ssh: connect to host 10.9.9.9 port 22: Connection timed out", VmUnreachable, 60),
    ],
)
def test_ssh_failures_are_classified(tmp_path: Path, stderr: str, kind: type, code: int) -> None:
    error = classify(login(tmp_path), Result(255, "", stderr))
    assert isinstance(error, kind)
    assert error.exit_code == code
    assert error.hint


def test_a_working_ssh_probe_is_no_error(tmp_path: Path) -> None:
    assert classify(login(tmp_path), Result(0)) is None


def test_inventory_and_playbook_commands(tmp_path: Path) -> None:
    host = yaml.safe_load(inventory(login(tmp_path)))["all"]["children"]["vm"]["hosts"]["127.0.0.1"]
    assert (host["ansible_port"], host["ansible_user"], host["ansible_connection"]) == (22022, "admin", "ssh")
    common = host["ansible_ssh_common_args"]
    assert "StrictHostKeyChecking=accept-new" in common and "BatchMode=yes" in common
    run = playbook(ROOT, "site.yml", tmp_path / "inv", tmp_path / "vars.json", check=True)
    assert run.argv[-1].endswith("playbooks/site.yml") and "--check" in run.argv
    assert run.env["ANSIBLE_STDOUT_CALLBACK"] == "json"
    assert run.mutates is False  # --check changes nothing: a dry run still runs it


def test_recap_counts_changes_and_names_the_failed_task() -> None:
    out = {
        "plays": [
            {
                "tasks": [
                    {"task": {"name": "nginx : Install nginx"}, "hosts": {"h": {"changed": False}}},
                    {
                        "task": {"name": "certbot : Obtain the certificate"},
                        "hosts": {"h": {"failed": True, "msg": "non-zero return code"}},
                    },
                ]
            }
        ],
        "stats": {"h": {"ok": 30, "changed": 2, "failures": 1, "unreachable": 0}},
    }
    found = recap("[WARNING]: something\n" + json.dumps(out))
    assert (found.ok, found.changed, found.failed) == (30, 2, 1)
    assert not found.success
    assert found.failures == ["certbot : Obtain the certificate on h: non-zero return code"]
    clean = recap(json.dumps({"plays": [], "stats": {"h": {"ok": 39, "changed": 0, "failures": 0, "unreachable": 0}}}))
    assert clean.success and clean.changed == 0


def target(tmp_path: Path, ex: FakeExecutor) -> VmTarget:
    env = load_environment(ROOT, "vm-local")
    return VmTarget(env, ex, project(tmp_path), lambda _: None)


class FakeMachine:
    """A machine of this test's own: the target must take every host-specific value from it."""

    login_user = "ops"
    url = "https://fake.example:9443"
    address = "192.0.2.7"
    acme_server = "https://acme.fake.example/directory"
    https_root: Path | None = Path("/fake/root.pem")
    boot_seconds = 0.0

    def __init__(self) -> None:
        self.events: list[str] = []

    def check(self) -> None:
        self.events.append("check")

    def provision(self) -> None:
        self.events.append("provision")

    def playbook_variables(self) -> dict[str, object]:
        return {"common_ssh_port": 2201, "common_firewall_extra": [], "redis_systemd_overrides": {}, "certbot_server_ca": ""}

    def down(self, volumes: bool, empty_tracks: Callable[[], None]) -> None:
        self.events.append(f"down volumes={volumes}")


def test_the_target_takes_its_hosts_values_from_the_machine_it_is_given(tmp_path: Path) -> None:
    """vm-local's env (vm.local set) with an injected machine: nothing of the stand-in is used."""
    ex = FakeExecutor()
    machine = FakeMachine()
    t = VmTarget(load_environment(ROOT, "vm-local"), ex, project(tmp_path), lambda _: None, machine=machine)
    assert t.machine is machine
    assert t.url == "https://fake.example:9443" and t.status().url == "https://fake.example:9443"
    assert t.login.user == "ops" and ex.calls[-1].argv[-3] == "ops@127.0.0.1"
    assert t.tls_endpoint() == ("192.0.2.7", 18443, "vm-local.pl-vm.test")
    variables = t.variables()
    assert variables["certbot_server"] == "https://acme.fake.example/directory"
    assert variables["common_ssh_port"] == 2201 and variables["common_ssh_allow_users"] == ["ops", "deploy"]
    t.renew_certificate()
    assert "--server https://acme.fake.example/directory " in ex.calls[-1].argv[-1]
    assert not any(c.argv[0] == "docker" for c in ex.calls), "the stand-in VM was touched"
    t.check()
    t.down(volumes=True)
    assert machine.events == ["check", "down volumes=True"]


def test_weights_go_through_the_validating_apply_script(tmp_path: Path) -> None:
    ex = FakeExecutor()
    t = target(tmp_path, ex)
    t.set_weights(Weights(25), lease_until=2_000_000_000.0)
    lease, apply = ex.calls[-2], ex.calls[-1]
    assert lease.argv[-1].endswith("sudo tee /etc/nginx/pipeline/lease >/dev/null")
    assert "2000000000" in lease.argv[-1]
    assert apply.argv[0] == "ssh" and apply.argv[-1] == "sudo pl-nginx-apply split.conf"
    assert parse_weights(apply.stdin or "") == Weights(25)


def test_status_reads_the_host_in_one_ssh_call(tmp_path: Path) -> None:
    labels = json.dumps({"pipeline.version": "abc123"})
    answer = "\n".join(
        [
            "track stable 2",
            f"labels stable {labels}",
            "track canary 0",
            "labels canary ",
            "service nginx active",
            "service postgresql active",
            "service redis-server failed",
            'split # pipeline-weights: {"canary": 0, "stable": 100}',
            "lease ",
            "lock ",
        ]
    )
    ex = FakeExecutor().on("ssh", result=Result(0, answer))
    status = target(tmp_path, ex).status()
    assert len(ex.calls) == 1
    assert status.tracks["stable"].version == "abc123" and status.tracks["stable"].health == "healthy"
    assert status.tracks["canary"].version is None and status.canary_state == "idle"
    assert status.edge_running and status.weights == Weights(0)
    assert status.services["redis-server"].running == 0
    assert status.url == "http://127.0.0.1:18082"


def test_playbook_failures_map_to_distinct_exit_codes(tmp_path: Path) -> None:
    t = target(tmp_path, FakeExecutor())
    from pipeline.commands.ansible import Recap

    def failure(message: str) -> Exception:
        return t._failure(Recap(3, 0, 1, 0, [message]), "")

    nx = failure("certbot : Obtain the certificate on h: DNS problem: NXDOMAIN looking up A for x.test")
    assert isinstance(nx, DomainUnresolved) and nx.exit_code == 63
    refused = failure("certbot : Obtain the certificate on h: non-zero return code")
    assert isinstance(refused, AcmeRefused) and refused.exit_code == 62
    other = failure("nginx : Write nginx.conf (tested before it is put in place) on h: failed to validate")
    assert isinstance(other, HostConfigFailed) and other.exit_code == 64


def test_the_stand_in_vm_runs_without_privileged_and_publishes_on_loopback_only(tmp_path: Path) -> None:
    env = load_environment(ROOT, "vm-local")
    host = LocalVmHost(env, FakeExecutor(), project(tmp_path), lambda _: None)
    run: Command = host.run_command("pl-vm/host:x", tmp_path / "id_ed25519")
    argv = list(run.argv)
    assert "--privileged" not in argv
    for flag in ("--cgroupns=private", "SYS_ADMIN"):
        assert flag in argv
    assert argv.count("--tmpfs") == 2
    published = [argv[i + 1] for i, a in enumerate(argv) if a == "--publish"]
    assert published and all(p.startswith("127.0.0.1:") for p in published)
    assert any(p.endswith(":22") for p in published)
    assert argv[argv.index("--name") + 1].startswith("pl-vm")


def test_track_ports_do_not_overlap() -> None:
    assert track_ports("stable", 2) == [8001, 8002]
    assert not set(track_ports("stable", 50)) & set(track_ports("canary", 50))


@pytest.mark.parametrize(
    ("output", "kind"),
    [
        ("  Detail: DNS problem: NXDOMAIN looking up A for vm-local.pl-vm.test\n", DomainUnresolved),
        ("An unexpected error occurred:\nConnection refused\n", AcmeRefused),
    ],
)
def test_a_failed_renewal_is_classified_and_keeps_the_certificate(tmp_path: Path, output: str, kind: type) -> None:
    ex = FakeExecutor().on("ssh", result=Result(1, output))
    t = target(tmp_path, ex)
    with pytest.raises(kind) as err:
        t.renew_certificate(force=True)
    assert "kept" in (err.value.hint or "")
    script = ex.calls[-1].argv[-1]
    assert "--server https://acme.pl-vm.test:14000/dir" in script and "--no-random-sleep-on-renew" in script
    assert "--force-renewal" in script and "--nginx" not in script


def pebble_files(tmp_path: Path) -> None:
    pebble = tmp_path / "state" / "vm" / "vm-local" / "pebble"
    pebble.mkdir(parents=True, exist_ok=True)
    (pebble / "api-ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")


def nginx_conf_and_variables(tmp_path: Path, **override: object) -> tuple[str, dict]:
    """playbooks/roles/nginx/templates/nginx.conf.j2 with the variables the target passes."""
    import jinja2

    role = ROOT / "playbooks" / "roles" / "nginx"
    pebble_files(tmp_path)
    variables = yaml.safe_load((role / "defaults" / "main.yml").read_text())
    variables.update(target(tmp_path, FakeExecutor()).variables())
    variables.update(override)
    loader = jinja2.Environment(loader=jinja2.FileSystemLoader(str(role / "templates")), undefined=jinja2.StrictUndefined)
    return loader.get_template("nginx.conf.j2").render(ansible_managed="managed", **variables), variables


def rendered_nginx_conf(tmp_path: Path) -> str:
    """nginx.conf as nginx reads it: split.conf's first content and pin.conf inlined where included."""
    conf, variables = nginx_conf_and_variables(tmp_path)
    conf = conf.replace("include /etc/nginx/pipeline/split.conf;", variables["nginx_split_initial"])
    return conf.replace("include /etc/nginx/pipeline/pin.conf;", variables["nginx_route_maps"])


def test_every_nginx_variable_the_vm_config_reads_is_defined(tmp_path: Path) -> None:
    """Each $pl_* the log format, headers and proxy read is set by a map or the split: nginx -t
    refuses an unknown variable, and a shared log format once changed under the vm target."""
    conf = rendered_nginx_conf(tmp_path)
    used = set(re.findall(r"\$(pl_\w+)", conf))
    defined = set(re.findall(r"(?:map|split_clients)\s+\S+\s+\$(pl_\w+)\s*\{", conf))
    assert used and used <= defined, f"read but never set: {sorted(used - defined)}"


def test_the_vm_nginx_honours_a_track_pin_only_with_the_token(tmp_path: Path) -> None:
    t = target(tmp_path, FakeExecutor())
    conf = rendered_nginx_conf(tmp_path)
    token = t.track_pin_token()
    assert token == edge.pin_token(t.secrets()["django_secret_key"])
    assert f'"{token}" 1;' in conf and '"1:canary" canary;' in conf
    assert "map $pl_route $pl_upstream" in conf
    assert 'proxy_set_header X-Pipeline-Token "";' in conf  # the secret never reaches the app


# --- issue 17: nothing from env.yaml reaches a unit, a shell line or the inventory raw ------------------


@pytest.mark.parametrize(
    "server",
    [
        'https://acme.example/dir --post-hook "touch /tmp/pwned"',
        "https://acme.example/dir\nExecStartPre=/bin/touch /tmp/pwned",
        "https://acme.example/d%n",
        "https://acme.example/dir'x",
        "https://acme.example/dir?x=$HOME",
        "https://acme.example:0/dir",
        "https://acme..example/dir",
        "https:///dir",
    ],
)
def test_a_hostile_acme_server_is_refused_with_its_key_path(tmp_path: Path, server: str) -> None:
    body = yaml.safe_dump({"target": {"kind": "vm"}, "vm": {"acme": {"server": server}}})
    with pytest.raises(ConfigError) as err:
        load_file(write(tmp_path, body), "v", tmp_path)
    assert "vm.acme.server" in err.value.message and "\n" not in err.value.message
    assert err.value.hint


@pytest.mark.parametrize(
    "server",
    [
        "https://acme-v02.api.letsencrypt.org/directory",
        "https://acme.pl-vm.test:14000/dir",
        "https://10.0.0.5/acme/acme/directory",
    ],
)
def test_real_acme_directories_and_vm_locals_pebble_validate(server: str) -> None:
    from pipeline.environment.vm import Acme

    assert Acme(server=server).server == server


@pytest.mark.parametrize(
    ("section", "needle"),
    [
        ({"ssh": {"key": "/tmp/k ansible_connection=local"}}, "vm.ssh.key"),
        ({"ssh": {"key": "/tmp/k\nansible_connection=local"}}, "vm.ssh.key"),
        ({"ssh": {"key": "-oProxyCommand=sh"}}, "vm.ssh.key"),
        ({"acme": {"email": "a@b.example --post-hook x"}}, "vm.acme.email"),
        ({"hosts": ["10.0.0.1 ansible_connection=local"]}, "vm.hosts"),
    ],
)
def test_paths_and_names_that_reach_the_inventory_are_checked(tmp_path: Path, section: dict, needle: str) -> None:
    body = yaml.safe_dump({"target": {"kind": "vm"}, "vm": section})
    with pytest.raises(ConfigError) as err:
        load_file(write(tmp_path, body), "v", tmp_path)
    assert needle in err.value.message and "\n" not in err.value.message


def test_a_hostile_key_path_stays_one_value_in_the_inventory(tmp_path: Path) -> None:
    """Even a path the model would refuse cannot make a host variable of its own."""
    import subprocess

    from pipeline.commands.ansible import ansible_bin

    hostile = Login("127.0.0.1", 22022, "admin", Path("/tmp/k ansible_connection=local"), tmp_path / "kh", tmp_path)
    path = tmp_path / "inventory.yml"
    path.write_text(inventory(hostile))
    out = subprocess.run(
        [ansible_bin("ansible-inventory"), "--list", "-i", str(path)],
        capture_output=True,
        text=True,
        check=True,
        env={"ANSIBLE_INVENTORY_UNPARSED_FAILED": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    host = json.loads(out.stdout)["_meta"]["hostvars"]["127.0.0.1"]
    assert host["ansible_connection"] == "ssh"
    assert host["ansible_ssh_private_key_file"] == "/tmp/k ansible_connection=local"
    assert json.loads(out.stdout)["vm"]["hosts"] == ["127.0.0.1"]


def recap_json() -> str:
    return json.dumps({"plays": [], "stats": {"h": {"ok": 3, "changed": 0, "failures": 0, "unreachable": 0}}})


def test_ssh_is_checked_before_every_playbook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ex = FakeExecutor().on("ansible-playbook", result=Result(0, recap_json()))
    pebble_files(tmp_path)
    t = target(tmp_path, ex)
    monkeypatch.setattr(t, "require_version", lambda version: f"img:{version}")
    monkeypatch.setattr(t, "release_archive", lambda version, image: tmp_path / f"{version}.tar.gz")
    monkeypatch.setattr(t, "track_labels", lambda track: {})
    monkeypatch.setattr(t, "_write_labels", lambda track, labels: None)
    t.apply()
    t.deploy_track("canary", "abc123")
    runs = [i for i, c in enumerate(ex.calls) if "ansible-playbook" in c.argv[0]]
    assert len(runs) == 2
    for before, i in zip([-1, *runs[:-1]], runs, strict=True):
        between = ex.calls[before + 1 : i]
        assert any(c.argv[0] == "ssh" and c.argv[-1] == "true" for c in between), "no SSH probe before the playbook"


def test_an_unreachable_host_stops_a_release_before_ansible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ex = FakeExecutor().on("ssh", result=Result(255, "", "ssh: connect to host 127.0.0.1 port 22022: Connection refused"))
    t = target(tmp_path, ex)
    monkeypatch.setattr(t, "require_version", lambda version: f"img:{version}")
    monkeypatch.setattr(t, "release_archive", lambda version, image: tmp_path / f"{version}.tar.gz")
    with pytest.raises(VmUnreachable):
        t.deploy_track("stable", "abc123")
    assert not any("ansible-playbook" in c.argv[0] for c in ex.calls)


def test_an_app_env_value_with_a_newline_is_refused_on_a_vm(tmp_path: Path) -> None:
    env = load_environment(ROOT, "vm-local")
    env = env.model_copy(update={"app": env.app.model_copy(update={"env": {"GREETING": "hi\nLD_PRELOAD=/tmp/x.so"}})})
    t = VmTarget(env, FakeExecutor(), project(tmp_path), lambda _: None)
    with pytest.raises(ConfigError) as err:
        t.check()
    assert "app.env.GREETING" in err.value.message and "\n" not in err.value.message


def test_a_real_vms_firewall_opens_its_ssh_port_and_pebble_gets_no_stapling(tmp_path: Path) -> None:
    local = target(tmp_path, FakeExecutor())
    pebble_files(tmp_path)
    variables = local.variables()
    assert variables["common_ssh_port"] == 22 and variables["nginx_ocsp_stapling"] is False
    env = load_environment(ROOT, "aws-vm")
    remote_vm = VmTarget(env, FakeExecutor(), project(tmp_path), lambda _: None)
    variables = remote_vm.variables()
    assert variables["common_ssh_port"] == env.vm.ssh.port if env.vm else False
    assert variables["nginx_ocsp_stapling"] is True


def test_pebble_issues_certificates_for_lets_encrypts_90_days(tmp_path: Path) -> None:
    host = LocalVmHost(load_environment(ROOT, "vm-local"), FakeExecutor(), project(tmp_path), lambda _: None)
    config = host.pebble_config("172.17.0.1")["pebble"]
    assert config["certificateValidityPeriod"] == 90 * 86400
    assert config["ocspResponderURL"] == ""


def test_the_track_pin_token_is_not_in_the_world_readable_nginx_conf(tmp_path: Path) -> None:
    conf, _ = nginx_conf_and_variables(tmp_path)
    token = target(tmp_path, FakeExecutor()).track_pin_token()
    assert token not in conf and "include /etc/nginx/pipeline/pin.conf;" in conf
    tasks = yaml.safe_load((ROOT / "playbooks" / "roles" / "nginx" / "tasks" / "main.yml").read_text())
    pin = next(t for t in tasks if t.get("ansible.builtin.copy", {}).get("dest") == "/etc/nginx/pipeline/pin.conf")
    copy = pin["ansible.builtin.copy"]
    assert (copy["owner"], copy["group"], copy["mode"]) == ("root", "{{ nginx_user }}", "0640")
    assert copy["content"] == "{{ nginx_route_maps }}" and pin["no_log"] is True
    write_conf = next(t for t in tasks if t.get("ansible.builtin.template", {}).get("dest") == "/etc/nginx/nginx.conf")
    assert tasks.index(pin) < tasks.index(write_conf), "nginx.conf is tested with pin.conf in place"


# Mozilla's intermediate profile (ssl-config.mozilla.org, version 5.7)
MOZILLA_INTERMEDIATE_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"
)


def test_nginx_tls_is_mozillas_intermediate_profile(tmp_path: Path) -> None:
    conf = rendered_nginx_conf(tmp_path)
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in conf
    assert "ssl_ecdh_curve X25519:prime256v1:secp384r1;" in conf  # not OpenSSL's default X448/secp521r1
    assert f"ssl_ciphers {MOZILLA_INTERMEDIATE_CIPHERS};" in conf
    assert "ssl_prefer_server_ciphers off;" in conf and "ssl_session_tickets off;" in conf
    assert "ssl_stapling" not in conf  # vm-local: pebble runs no OCSP responder


def test_ocsp_stapling_where_the_ca_offers_it(tmp_path: Path) -> None:
    conf, _ = nginx_conf_and_variables(tmp_path, nginx_ocsp_stapling=True, nginx_resolver="127.0.0.53")
    assert "ssl_stapling on;" in conf and "ssl_stapling_verify on;" in conf
    assert "resolver 127.0.0.53 valid=300s;" in conf
