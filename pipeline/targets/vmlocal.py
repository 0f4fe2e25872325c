"""vm-local: a stand-in for a rented VM and for Let's Encrypt, on this machine.

* The VM: a systemd container (``images/vm``, built FROM the project's base image) with
  OpenSSH, run without --privileged (``--cap-add SYS_ADMIN --cgroupns=private --tmpfs /run
  --tmpfs /run/lock``, plus NET_ADMIN for its own nftables firewall). Its SSH, HTTP, HTTPS
  and operator ports are published on 127.0.0.1 only; the login is key only, with a key
  pair generated into ``.pipeline/vm/<env>/`` (never committed).
* The ACME server: Debian's ``pebble`` (installed with apt when missing) with its API on
  the Docker bridge's gateway (the VM reaches it as ``acme.pl-vm.test`` through
  ``--add-host ...:host-gateway``) and ``pebble-challtestsrv`` answering DNS for the
  environment's domain only, with 127.0.0.1: pebble validates HTTP-01 on the VM's
  published HTTP port. Pebble's API certificate comes from a small CA made here.

Everything is read first and only made when missing, so a second ``up`` changes nothing.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline import poll
from pipeline.build.images import _dir_digest, ensure_base
from pipeline.commands import Command, docker
from pipeline.commands.executor import Executor
from pipeline.engine import apt_install, can_install
from pipeline.environment import Environment
from pipeline.environment.vm import LocalVm, Vm
from pipeline.errors import ConfigError, EngineUnavailable, NotReady
from pipeline.ports import port_free
from pipeline.project import Project

Say = Callable[[str], None]
ACME_HOST = "acme.pl-vm.test"
LOGIN_USER = "admin"
OPERATOR_PORT = 8080
# Let's Encrypt's certificate lifetime (pebble's default is five years): renewal windows,
# the expiry chaos experiment and a scanner's lifespan check see what production sees.
CERTIFICATE_DAYS = 90


def state_dir(project: Project, env: Environment) -> Path:
    """The environment's folder in the state dir (key pair, known_hosts, inventory); not created here."""
    return project.state / "vm" / env.name


def make_state_dir(project: Project, env: Environment) -> Path:
    """The environment's folder, created readable by this user only (never under a dry run)."""
    path = state_dir(project, env)
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def key_path(project: Project, env: Environment) -> Path:
    vm = _vm(env)
    if vm.ssh.key:
        return Path(vm.ssh.key).expanduser()
    return state_dir(project, env) / "id_ed25519"


def _vm(env: Environment) -> Vm:
    if env.vm is None:
        raise ConfigError(f"environments/{env.name}/env.yaml: vm: missing", hint="kind: vm needs a vm: section")
    return env.vm


def container_name(env: Environment, local: LocalVm) -> str:
    return local.container or env.stack


def acme_server(local: LocalVm) -> str:
    return f"https://{ACME_HOST}:{local.pebble.port}/dir"


def ensure_key_pair(ex: Executor, key: Path, env: Environment) -> bool:
    """The environment's SSH key pair at ``key`` (and ``key``.pub), generated when missing; True when
    it was (re)generated, so containers that mount the old public key are made again.

    A half pair is made whole again: a fresh checkout next to an engine that still holds the
    stand-ins' containers sees Docker revive them before anything here runs, and while their key
    was bound with ``--volume`` Docker made an empty directory where the public key was missing."""
    pub = key.with_suffix(".pub")
    if key.is_file() and pub.is_file():
        return False
    if not ex.dry_run:
        for half in (key, pub):
            if half.is_dir() and not any(half.iterdir()):
                half.rmdir()  # Docker's stand-in for a missing bind source: nothing of ours in it
            elif half.is_file():
                half.unlink()  # the other half is gone: a pair is only generated whole
    ex.run(
        Command(
            ("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"pipeline-{env.name}", "-f", str(key)),
            description="generate the environment's SSH key pair",
        )
    )
    return True


def key_mount(pub: Path, user: str = LOGIN_USER) -> tuple[str, str]:
    """The ``--mount`` of the public key as a container's authorized keys: unlike ``--volume``, a
    bind whose source is missing fails the start instead of creating a directory in its place."""
    return "--mount", f"type=bind,source={pub},target=/etc/ssh/authorized_keys/{user},readonly"


def mounts_key(info: dict[str, Any], pub: Path, user: str = LOGIN_USER) -> bool:
    """Whether the inspected container ``info`` binds ``pub`` (this checkout's key) as its authorized keys."""
    target = f"/etc/ssh/authorized_keys/{user}"
    return any(
        m.get("Type") == "bind" and m.get("Destination") == target and m.get("Source") == str(pub)
        for m in info.get("Mounts") or []
    )


def host_image(ex: Executor, project: Project, env: Environment, say: Say) -> str:
    """The stand-in host's image (``images/vm``: systemd and OpenSSH on the base image), built when
    missing; the stand-in VM and the stand-in swarm nodes both run it."""
    base = ensure_base(ex, project, env, say)
    base_id = ex.run(docker.image_exists(base)).stdout.strip() or base
    ref = f"pl-vm/host:{_dir_digest(project.root / 'images' / 'vm', base_id)}"
    if ex.run(docker.image_exists(ref)).ok:
        say(f"host image: {ref} (cached)")
    else:
        say(f"host image: building {ref}")
        ex.run(docker.build(str(project.root / "images" / "vm"), ref, build_args={"BASE_IMAGE": base}))
    return ref


class LocalVmHost:
    """The stand-in VM container and the local pebble, for one environment."""

    def __init__(self, env: Environment, ex: Executor, project: Project, say: Say) -> None:
        vm = _vm(env)
        if vm.local is None:
            raise ConfigError(f"environments/{env.name}/env.yaml: vm.local: missing", hint="only vm-local has a stand-in")
        self.env = env
        self.vm = vm
        self.local = vm.local
        self.ex = ex
        self.project = project
        self.say = say
        self.dir = state_dir(project, env) if ex.dry_run else make_state_dir(project, env)
        self.name = container_name(env, self.local)
        self.pebble_dir = self.dir / "pebble"

    # --- validation --------------------------------------------------------------
    def ports(self) -> dict[str, int]:
        return {
            "vm.ssh.port": self.vm.ssh.port,
            "vm.ports.http": self.vm.ports.http,
            "vm.ports.https": self.vm.ports.https,
            "edge.port": self.env.edge.port,
        }

    def check(self) -> None:
        ports = self.ports()
        if len(set(ports.values())) != len(ports):
            raise ConfigError(
                f"environments/{self.env.name}/env.yaml: {', '.join(ports)} must all differ",
                hint="pick four free ports",
            )
        if self.running():
            return
        for key, port in ports.items():
            if not port_free("127.0.0.1", port):
                from pipeline.errors import PortTaken

                raise PortTaken(
                    f"environments/{self.env.name}/env.yaml: {key}: 127.0.0.1:{port} is taken by another program",
                    hint="free it or choose another port",
                )

    # --- the key pair ---------------------------------------------------------------
    def ensure_key(self) -> tuple[Path, bool]:
        """The key and whether it was (re)generated just now."""
        key = key_path(self.project, self.env)
        return key, ensure_key_pair(self.ex, key, self.env)

    # --- the VM container -------------------------------------------------------------
    def image(self) -> str:
        return host_image(self.ex, self.project, self.env, self.say)

    def _inspect(self) -> dict[str, object] | None:
        result = self.ex.run(docker.container_inspect(self.name))
        if not result.ok:
            return None
        found: list[dict[str, object]] = json.loads(result.stdout)
        return found[0] if found else None

    def running(self) -> bool:
        info = self._inspect()
        state = info.get("State") if info else None
        return isinstance(state, dict) and bool(state.get("Running"))

    def run_command(self, image: str, key: Path) -> Command:
        vm = self.vm
        argv = [
            "docker",
            "run",
            "--detach",
            "--name",
            self.name,
            "--hostname",
            self.name,
            "--cap-add",
            "SYS_ADMIN",
            "--cap-add",
            "NET_ADMIN",
            "--cgroupns=private",
            "--tmpfs",
            "/run",
            "--tmpfs",
            "/run/lock",
            "--restart",
            "unless-stopped",
            "--add-host",
            f"{ACME_HOST}:host-gateway",
            *key_mount(key.with_suffix(".pub")),
            "--label",
            f"pipeline.env={self.env.name}",
            "--label",
            "pipeline.role=vm",
        ]
        for port, inside in ((vm.ssh.port, 22), (vm.ports.http, 80), (vm.ports.https, 443), (self.env.edge.port, OPERATOR_PORT)):
            argv += ["--publish", f"127.0.0.1:{port}:{inside}"]
        argv.append(image)
        return Command(tuple(argv), description=f"start the stand-in VM {self.name}")

    def ensure_vm(self) -> None:
        key, fresh = self.ensure_key()
        info = self._inspect()
        if info is not None:
            state = info.get("State")
            ours = not fresh and mounts_key(info, key.with_suffix(".pub"))  # not another checkout's, not a stale key
            if isinstance(state, dict) and state.get("Running") and ours:
                self.say(f"vm {self.name}: running")
                return
            self.ex.run(docker.container_rm(self.name))
        image = self.image()
        known = self.dir / "known_hosts"
        if not self.ex.dry_run:
            known.unlink(missing_ok=True)  # a new VM has new host keys
        self.ex.run(self.run_command(image, key))

    def remove_vm(self) -> None:
        self.ex.run(docker.container_rm(self.name))
        if not self.ex.dry_run:
            (self.dir / "known_hosts").unlink(missing_ok=True)

    def gateway(self) -> str:
        result = self.ex.run(
            Command(
                ("docker", "network", "inspect", "bridge", "--format", "{{(index .IPAM.Config 0).Gateway}}"),
                mutates=False,
                check=False,
                description="read the Docker bridge's gateway",
            )
        )
        return result.stdout.strip() or "172.17.0.1"

    def bridge_subnet(self) -> str:
        result = self.ex.run(
            Command(
                ("docker", "network", "inspect", "bridge", "--format", "{{(index .IPAM.Config 0).Subnet}}"),
                mutates=False,
                check=False,
                description="read the Docker bridge's subnet",
            )
        )
        return result.stdout.strip() or "172.17.0.0/16"

    # --- pebble ---------------------------------------------------------------------------
    def pebble_root_path(self) -> Path:
        return self.pebble_dir / "issuing-root.pem"

    def api_ca_path(self) -> Path:
        return self.pebble_dir / "api-ca.pem"

    def ensure_pebble(self) -> None:
        if shutil.which("pebble") is None or shutil.which("pebble-challtestsrv") is None:
            if not can_install():
                raise EngineUnavailable("pebble is missing", hint="apt-get install pebble (Debian's ACME test server)")
            for command in apt_install("pebble"):
                self.ex.run(command)
        if self.ex.dry_run:
            if not self.pebble_dir.is_dir():
                self.say(f"(dry run) would create {self.pebble_dir} (pebble's API certificate, config and pid files)")
        else:
            self.pebble_dir.mkdir(parents=True, exist_ok=True)
        self._ensure_api_cert()
        peb = self.local.pebble
        gateway = self.gateway()
        if self._alive("challtestsrv"):
            self.say("pebble-challtestsrv: running")
        else:
            self._start(
                "challtestsrv",
                [
                    "pebble-challtestsrv",
                    "-defaultIPv4",
                    "",
                    "-defaultIPv6",
                    "",
                    "-dns01",
                    f"127.0.0.1:{peb.dns_port}",
                    "-management",
                    f"127.0.0.1:{peb.dns_management_port}",
                    "-http01",
                    "",
                    "-https01",
                    "",
                    "-tlsalpn01",
                    "",
                ],
                {},
                peb.dns_management_port,
            )
        # the domain resolves to this machine (where the VM's HTTP port is published), nothing else
        self.ex.run(
            Command(
                (
                    "curl",
                    "-fsS",
                    "-X",
                    "POST",
                    "-d",
                    json.dumps({"host": self.vm.domain, "addresses": ["127.0.0.1"]}),
                    f"http://127.0.0.1:{peb.dns_management_port}/add-a",
                ),
                description=f"challtestsrv: {self.vm.domain} -> 127.0.0.1",
            )
        )
        if self._alive("pebble"):
            self.say("pebble: running")
        else:
            config = self.pebble_config(gateway)
            if self.ex.dry_run:
                self.say(f"(dry run) would write {self.pebble_dir / 'config.json'}: {json.dumps(config)}")
            else:
                (self.pebble_dir / "config.json").write_text(json.dumps(config, indent=2))
            self._start(
                "pebble",
                ["pebble", "-config", str(self.pebble_dir / "config.json"), "-dnsserver", f"127.0.0.1:{peb.dns_port}"],
                {"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0", "PEBBLE_AUTHZREUSE": "0"},
                peb.management_port,
            )
        self.fetch_issuing_root()

    def pebble_config(self, gateway: str) -> dict[str, Any]:
        """pebble's config file: its API on the bridge's gateway, HTTP-01 on the VM's published port."""
        peb = self.local.pebble
        return {
            "pebble": {
                "listenAddress": f"{gateway}:{peb.port}",
                "managementListenAddress": f"127.0.0.1:{peb.management_port}",
                "certificate": str(self.pebble_dir / "api-cert.pem"),
                "privateKey": str(self.pebble_dir / "api-key.pem"),
                "httpPort": self.vm.ports.http,
                "tlsPort": self.vm.ports.https,
                "ocspResponderURL": "",
                "externalAccountBindingRequired": False,
                "certificateValidityPeriod": CERTIFICATE_DAYS * 86400,
            }
        }

    def _ensure_api_cert(self) -> None:
        d = self.pebble_dir
        if (d / "api-cert.pem").exists() and (d / "api-ca.pem").exists():
            return
        san = f"subjectAltName=DNS:{ACME_HOST},DNS:localhost,IP:127.0.0.1"
        for command in (
            Command(
                (
                    "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-days", "3650", "-subj", "/CN=pipeline vm-local ACME API CA",
                    "-keyout", str(d / "api-ca-key.pem"), "-out", str(d / "api-ca.pem"),
                ),
                description="make the CA of pebble's API certificate",
            ),
            Command(
                (
                    "openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", f"/CN={ACME_HOST}", "-keyout", str(d / "api-key.pem"), "-out", str(d / "api.csr"),
                ),
                description="make pebble's API key",
            ),
            Command(
                (
                    "openssl", "x509", "-req", "-in", str(d / "api.csr"), "-CA", str(d / "api-ca.pem"),
                    "-CAkey", str(d / "api-ca-key.pem"), "-CAcreateserial", "-days", "3650",
                    "-extfile", "/dev/stdin", "-out", str(d / "api-cert.pem"),
                ),
                stdin=san + "\n",
                description="sign pebble's API certificate",
            ),
        ):  # fmt: skip
            self.ex.run(command)

    def _pidfile(self, name: str) -> Path:
        return self.pebble_dir / f"{name}.pid"

    def _alive(self, name: str) -> bool:
        try:
            pid = int(self._pidfile(name).read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return False
        return b"pebble" in cmdline

    def _start(self, name: str, argv: list[str], env: dict[str, str], port: int) -> None:
        if not port_free("127.0.0.1", port):
            from pipeline.errors import PortTaken

            raise PortTaken(
                f"environments/{self.env.name}/env.yaml: vm.local.pebble: 127.0.0.1:{port} is taken by another program",
                hint="choose other vm.local.pebble ports",
            )
        log = self.project.state_path("logs", f"{self.env.name}-{name}.log")
        script = f'echo $$ > "{self._pidfile(name)}"; exec "$@"'
        self.ex.run(
            Command(
                ("sh", "-c", script, name, *argv),
                env=env,
                background=True,
                log_path=str(log),
                description=f"start {name} (log: {log})",
            )
        )
        if self.ex.dry_run:
            return
        poll.until(
            lambda: True if not port_free("127.0.0.1", port) else None,
            30,
            lambda: NotReady(f"{name} did not start within 30 s", hint=f"read {log}"),
        )

    def fetch_issuing_root(self) -> None:
        """pebble's issuing root (new at every pebble start): HTTPS is verified against it."""
        self.ex.run(
            Command(
                (
                    "curl",
                    "-fsS",
                    "--cacert",
                    str(self.api_ca_path()),
                    "-o",
                    str(self.pebble_root_path()),
                    f"https://127.0.0.1:{self.local.pebble.management_port}/roots/0",
                ),
                description="fetch pebble's issuing root",
            )
        )

    def stop_pebble(self) -> None:
        for name in ("pebble", "challtestsrv"):
            if self._alive(name):
                pid = self._pidfile(name).read_text().strip()
                self.ex.run(Command(("kill", pid), check=False, description=f"stop {name} (pid {pid})"))
                if not self.ex.dry_run:
                    time.sleep(0.5)
                    self._pidfile(name).unlink(missing_ok=True)
