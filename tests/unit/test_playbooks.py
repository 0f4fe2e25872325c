"""Static checks of playbooks/: the roles keep their shape and their promises."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[2] / "playbooks" / "roles"
NAMES = ["common", "nginx", "certbot", "app", "postgresql", "redis", "docker", "swarm", "keepalived", "haproxy"]


@pytest.mark.parametrize("role", NAMES)
def test_every_role_has_prefixed_commented_defaults_tasks_and_handlers(role: str) -> None:
    defaults_text = (ROLES / role / "defaults" / "main.yml").read_text()
    defaults = yaml.safe_load(defaults_text)
    assert defaults, role
    assert all(key.startswith(f"{role}_") for key in defaults), f"{role}: unprefixed default"
    assert defaults_text.count("\n# ") >= 1, f"{role}: defaults are not commented"
    tasks = yaml.safe_load((ROLES / role / "tasks" / "main.yml").read_text())
    assert tasks and all("name" in t for t in tasks)
    assert yaml.safe_load((ROLES / role / "handlers" / "main.yml").read_text())


def test_certbot_always_names_the_server_and_never_rewrites_nginx() -> None:
    tasks = (ROLES / "certbot" / "tasks" / "main.yml").read_text()
    assert "'--webroot'" in tasks and "'--server', certbot_server" in tasks
    assert "'--no-random-sleep-on-renew'" in tasks
    assert "--nginx" not in tasks.replace("never --nginx", "")
    timer = (ROLES / "certbot" / "templates" / "pl-certbot-renew.service.j2").read_text()
    assert "--server {{ certbot_server | systemd_arg }}" in timer and "--no-random-sleep-on-renew" in timer


def test_nginx_configuration_is_validated_before_any_reload() -> None:
    tasks = (ROLES / "nginx" / "tasks" / "main.yml").read_text()
    assert "validate: nginx -t -q -c %s" in tasks
    handlers = (ROLES / "nginx" / "handlers" / "main.yml").read_text()
    assert "nginx -t -q && systemctl reload nginx" in handlers
    hook = (ROLES / "certbot" / "files" / "pl-cert-deploy").read_text()
    assert hook.index("nginx -t") < hook.index("systemctl reload nginx")


def test_sshd_hardening_is_keys_only_without_root() -> None:
    conf = (ROLES / "common" / "templates" / "sshd-hardening.conf.j2").read_text()
    for line in ("PermitRootLogin no", "PasswordAuthentication no", "PubkeyAuthentication yes"):
        assert line in conf


# --- issue 17: values reach units and env files quoted; secrets stay in 0600 files --------------------

PLAYBOOKS = ROLES.parent


def filters() -> dict:
    """playbooks/filter_plugins/systemd.py, as Ansible loads it."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("pl_systemd_filters", PLAYBOOKS / "filter_plugins" / "systemd.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.FilterModule().filters())


def render(role: str, template: str, **variables: object) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(ROLES / role / "templates")), undefined=jinja2.StrictUndefined)
    env.filters.update(filters())
    env.filters["quote"] = __import__("shlex").quote  # Ansible's own quote filter is shlex.quote
    defaults = yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text())
    return env.get_template(template).render(ansible_managed="managed", **{**defaults, **variables})


def exec_start_args(unit: str) -> list[str]:
    """ExecStart='s words as systemd splits them (double quotes, backslash escapes; %% and $$)."""
    import shlex

    lines = [line for line in unit.splitlines() if line.startswith("ExecStart")]
    assert len(lines) == 1, lines
    return [w.replace("%%", "%").replace("$$", "$") for w in shlex.split(lines[0].partition("=")[2])]


HOSTILE_SERVER = 'https://acme.example/dir --post-hook "touch /tmp/pwned" $HOME %n'


def test_the_acme_server_is_one_quoted_argument_of_the_renewal_unit() -> None:
    unit = render("certbot", "pl-certbot-renew.service.j2", certbot_server=HOSTILE_SERVER)
    args = exec_start_args(unit)
    assert args[args.index("--server") + 1] == HOSTILE_SERVER
    assert "--post-hook" not in args
    plain = render("certbot", "pl-certbot-renew.service.j2", certbot_server="https://acme-v02.api.letsencrypt.org/directory")
    assert len(unit.splitlines()) == len(plain.splitlines())


def test_a_newline_never_reaches_a_unit() -> None:
    from ansible.errors import AnsibleFilterError

    with pytest.raises(AnsibleFilterError):
        render("certbot", "pl-certbot-renew.service.j2", certbot_server="https://a.example/d\nExecStartPre=/bin/sh")
    with pytest.raises(AnsibleFilterError):
        render("app", "common.env.j2", app_common_env={"GREETING": "hi\nLD_PRELOAD=/tmp/x.so"})
    with pytest.raises(AnsibleFilterError):
        render("app", "common.env.j2", app_common_env={"A=B": "x"})


def test_env_file_values_mean_the_same_to_systemd_and_to_a_shell(tmp_path: Path) -> None:
    """The EnvironmentFile's double-quote rules are the shell's: sourcing it gives back each value."""
    import subprocess

    values = {"DATABASE_URL": "postgres://u:p@127.0.0.1/db", "ODD": "a b \"c\" $HOME `id` \\ %n 'q'", "EMPTY": ""}
    env_file = tmp_path / "common.env"
    env_file.write_text(render("app", "common.env.j2", app_common_env=values))
    lines = [line for line in env_file.read_text().splitlines() if line and not line.startswith("#")]
    assert len(lines) == len(values)
    for name, value in values.items():
        out = subprocess.run(
            ["sh", "-c", f'set -a; . "$1"; printf %s "${name}"', "sh", str(env_file)],
            capture_output=True,
            text=True,
            check=True,
        )
        assert out.stdout == value, name
    track = render("app", "track.env.j2", app_version="abc", app_track_env={"APP_FAULT_DELAY_MS": "0 X=1"})
    assert 'APP_FAULT_DELAY_MS="0 X=1"' in track and 'APP_VERSION="abc"' in track


def tasks_of(path: Path) -> list[dict]:
    return [t for t in yaml.safe_load(path.read_text()) or [] if isinstance(t, dict)]


def test_no_secret_is_a_task_argument_or_environment() -> None:
    """The migration reads /etc/refapp/common.env on the host (like the units); nothing says no_log: false."""
    release = tasks_of(ROLES / "app" / "tasks" / "release.yml")
    migrate = next(t for t in release if "Migrate" in t["name"])
    assert "environment" not in migrate
    argv = migrate["ansible.builtin.command"]["argv"]
    assert argv[0] == "systemd-run" and "--property=EnvironmentFile=/etc/refapp/common.env" in argv
    assert "--uid={{ app_user }}" in argv
    for path in ROLES.glob("*/*/*.yml"):
        text = path.read_text()
        assert "no_log: false" not in text, path
        assert 'environment: "{{ app_common_env' not in text, path
    for path in (ROLES / "app" / "tasks" / "main.yml", ROLES / "postgresql" / "tasks" / "main.yml"):
        for task in tasks_of(path):
            body = json.dumps(task)
            if "common.env" in body or "password" in body:
                assert task.get("no_log") is True, task["name"]


def test_the_firewall_opens_the_roles_ssh_port() -> None:
    rules = render("common", "nftables.conf.j2", common_ssh_port=2222)
    line = next(line for line in rules.splitlines() if "tcp dport {" in line)
    assert line.strip() == "tcp dport { 2222, 80, 443 } accept"
    default = render("common", "nftables.conf.j2")
    assert "tcp dport { 22, 80, 443 }" in default


def test_sshd_forwards_nothing_and_drops_dead_sessions() -> None:
    conf = render("common", "sshd-hardening.conf.j2")
    for line in ("AllowTcpForwarding no", "AllowAgentForwarding no", "X11Forwarding no", "PermitTunnel no"):
        assert line in conf.splitlines()
    assert "ClientAliveInterval 300" in conf and "ClientAliveCountMax 2" in conf


def test_ansible_lint_runs_in_the_production_profile_offline() -> None:
    config = yaml.safe_load((PLAYBOOKS / ".ansible-lint").read_text())
    assert config["profile"] == "production" and config["offline"] is True


# --- issue 18: the swarm's roles --------------------------------------------------------------------


def test_sshd_forwards_only_to_the_registry_when_asked() -> None:
    lines = render("common", "sshd-hardening.conf.j2", common_ssh_tcp_forwarding="local",
                   common_ssh_permit_open=["127.0.0.1:5000"]).splitlines()  # fmt: skip
    assert "AllowTcpForwarding local" in lines and "PermitOpen 127.0.0.1:5000" in lines
    assert "AllowStreamLocalForwarding no" in lines and "PermitTunnel no" in lines
    # anything but "local" forwards nothing (a typo never opens more)
    lines = render("common", "sshd-hardening.conf.j2", common_ssh_tcp_forwarding="yes").splitlines()
    assert "AllowTcpForwarding no" in lines and not any(line.startswith("PermitOpen") for line in lines)


def _swarm_hosts() -> dict:
    return {
        "groups": {"swarm_managers": ["m1"], "swarm_workers": ["w1", "w2"]},
        "hostvars": {"m1": {"swarm_address": "10.0.0.11"}, "w1": {"swarm_address": "10.0.0.12"},
                     "w2": {"swarm_address": "10.0.0.13"}},
    }  # fmt: skip


def test_the_swarm_firewall_guards_its_ports_and_flushes_nothing_else() -> None:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(ROLES / "swarm" / "templates")), undefined=jinja2.StrictUndefined)
    env.filters["union"] = lambda a, b: list(dict.fromkeys([*a, *b]))
    env.filters["extract"] = lambda key, mapping, attr: mapping[key][attr]
    defaults = yaml.safe_load((ROLES / "swarm" / "defaults" / "main.yml").read_text())
    table = env.get_template("pl-swarm.nft.j2").render(ansible_managed="m", **{**defaults, **_swarm_hosts()})
    assert "flush ruleset" not in table  # Docker's own rules stay
    assert "delete table inet pl_swarm" in table  # reloading replaces only this table
    assert "elements = { 10.0.0.11, 10.0.0.12, 10.0.0.13 }" in table
    assert "tcp dport { 2377, 7946, 5000 } ip saddr != @nodes drop" in table
    assert "udp dport { 7946, 4789 } ip saddr != @nodes drop" in table
    # the edge replicas' port is Docker's (forwarded to a container): filtered before Docker's DNAT
    prerouting = table[table.index("chain prerouting") :]
    assert "type filter hook prerouting priority -150" in prerouting
    assert "tcp dport 18080 ip saddr != @nodes drop" in prerouting


def test_the_relay_spreads_over_every_replica_and_never_sends_a_write_twice() -> None:
    conf = render("haproxy", "haproxy.cfg.j2", haproxy_port=8080, haproxy_replica_port=18080,
                  haproxy_replicas=["10.0.0.12", "10.0.0.13"])  # fmt: skip
    assert "bind :8080" in conf
    servers = [line.split() for line in conf.splitlines() if line.strip().startswith("server ")]
    assert [s[2] for s in servers] == ["10.0.0.12:18080", "10.0.0.13:18080"]
    assert all("backup" not in s for s in servers)  # every replica serves (a replica is not a spare)
    assert "balance roundrobin" in conf
    # the client's address reaches nginx in the PROXY protocol, the health checks' too
    assert "send-proxy-v2 check-send-proxy" in conf
    assert "option httpchk GET /edge/healthz" in conf
    # a failed connection goes to another replica; only a GET (or HEAD) is sent again once it was sent
    assert "option redispatch 1" in conf and "retries 3" in conf
    retry_on = next(line for line in conf.splitlines() if line.strip().startswith("retry-on")).split()[1:]
    assert set(retry_on) == {"conn-failure", "empty-response", "junk-response"}  # never after an answer began
    assert "http-request disable-l7-retry if !METH_GET" in conf
    assert "timeout connect 500ms" in conf


def test_keepalived_checks_nginx_itself_and_tells_its_peers_by_unicast() -> None:
    conf = render("keepalived", "keepalived.conf.j2", keepalived_vip="10.0.0.100", keepalived_address="10.0.0.12",
                  keepalived_peers=["10.0.0.13"], keepalived_priority=150)  # fmt: skip
    assert 'script "/usr/local/lib/pipeline/pl-edge-alive"' in conf
    # an isolated node gives the address up at its first miss, before the peer's adverts time out
    reachable = conf[conf.index("vrrp_script pl_cluster_reachable") :]
    assert "fall 1" in reachable[: reachable.index("}")] and "pl_cluster_reachable\n" in conf[conf.index("track_script") :]
    assert "nopreempt" in conf  # a node that comes back leaves the address where it is
    assert "unicast_src_ip 10.0.0.12" in conf and "        10.0.0.13\n" in conf
    assert "10.0.0.100/24 dev eth0" in conf and "priority 150" in conf
    assert "script_user keepalived_script" in conf and "enable_script_security" in conf


def test_the_edge_check_fails_when_handed_over_or_cut_off_and_asks_nginx_otherwise(tmp_path: Path) -> None:
    import http.server
    import socket
    import threading

    class Healthz(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/edge/healthz" else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Healthz)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with socket.socket() as unused:  # a port nobody listens on: a peer that does not answer
        unused.bind(("127.0.0.1", 0))
        closed = unused.getsockname()[1]
    port = server.server_port
    maintenance = tmp_path / "edge maintenance"  # a space: the path is quoted
    healthz = f"http://127.0.0.1:{port}/edge/healthz"

    def run(template: str, **variables: object) -> int:
        script = tmp_path / template.removesuffix(".j2")
        script.write_text(render("keepalived", template, **variables))
        return subprocess.run(["bash", str(script)], capture_output=True, timeout=20).returncode

    def alive(url: str = healthz) -> int:
        return run("pl-edge-alive.j2", keepalived_check_url=url, keepalived_maintenance_file=str(maintenance))

    def reachable(gossip: int = port, peers: tuple[str, ...] = ("127.0.0.2", "127.0.0.1")) -> int:
        return run("pl-cluster-reachable.j2", keepalived_gossip_port=gossip, keepalived_cluster_peers=list(peers))

    try:
        assert alive() == 0  # nginx answers
        assert alive(url=f"http://127.0.0.1:{port}/x") == 22  # it does not: curl's exit code
        assert reachable() == 0  # a peer answers (the second)
        assert reachable(gossip=closed) == 1  # cut off from every other node
        assert reachable(peers=()) == 0  # a cluster of one: nothing to reach
        maintenance.touch()
        assert alive() == 1  # handed over for a drain
    finally:
        server.shutdown()


def test_the_swarm_playbook_prepares_forms_and_fronts_the_cluster() -> None:
    plays = yaml.safe_load((PLAYBOOKS / "swarm.yml").read_text())
    assert [p["hosts"] for p in plays] == [
        "swarm_managers:swarm_workers", "swarm_managers:swarm_workers", "swarm_registry", "swarm_edge",
    ]  # fmt: skip
    tasks = yaml.safe_load((ROLES / "swarm" / "tasks" / "main.yml").read_text())
    modules = [next(k for k in t if "." in k) for t in tasks]
    assert modules.count("community.docker.docker_swarm") == 3  # init, join managers, join workers
    assert "community.docker.docker_node" in modules  # labels from the first manager
