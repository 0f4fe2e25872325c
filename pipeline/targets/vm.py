"""The ``vm`` target: one host reached over SSH, configured by Ansible (playbooks/).

On the host (see playbooks/roles): nginx with TLS from certbot (webroot; the ACME
server from the environment, always explicit), the app as systemd template units
``refapp-<track>@<port>`` (one unit per instance, release trees in
/srv/refapp/releases/<version>), PostgreSQL and Redis from Debian. The traffic split is
nginx's ``split_clients`` in /etc/nginx/pipeline/split.conf, applied by
``pl-nginx-apply`` (nginx -t first, then a graceful reload) and reset by the
``pl-split-watchdog`` unit when the pipeline's lease runs out. Track labels, the deploy
lock and the operator command live as small files in /var/lib/pipeline/.

How a release gets there: the version's image (the same one the Swarm target runs) is
read from the registry, its /opt/refapp tree (locked wheels + app) is copied out with
``docker cp`` and packed once per version into .pipeline/vm/<env>/releases/, and
playbooks/release.yml unpacks it on the host, migrates and restarts the track's
instances one at a time.

The machine the target runs on is injected (``Machine``, pipeline/targets/vm_machine.py): a rented
host, or for vm-local (``vm.local`` set) the stand-in VM container and pebble (pipeline/targets/vmlocal.py).
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import shlex
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pipeline import edge, registry
from pipeline.analysis.source import LogUnreadable
from pipeline.build.revision import check_version, image_ref
from pipeline.commands import Command, Result
from pipeline.commands.ansible import Recap, inventory, playbook, recap
from pipeline.commands.executor import Executor
from pipeline.commands.ssh import Login, classify, probe, remote
from pipeline.edge import Weights
from pipeline.environment import Environment
from pipeline.environment.model import Faults
from pipeline.environment.vm import Vm
from pipeline.errors import (
    AcmeRefused,
    ConfigError,
    DomainUnresolved,
    HostConfigFailed,
    Locked,
    NotReady,
    UnknownVersion,
)
from pipeline.observability.logs import LogFeed, LogQuery, feed_of, file_lines, source_tail
from pipeline.project import Project
from pipeline.records.lock import LockInfo
from pipeline.targets.base import (
    PREVIOUS_LABEL,
    TRACKS,
    WARM_LABEL,
    ServiceStatus,
    Status,
    TaskReadiness,
    TrackName,
    TrackPlan,
    TrackStatus,
    canary_state,
)
from pipeline.targets.vm_machine import Machine, machine_for, require_vm
from pipeline.targets.vmlocal import OPERATOR_PORT, key_path, make_state_dir, state_dir

Say = Callable[[str], None]
VERSION_LABEL = "pipeline.version"
STATE = "/var/lib/pipeline"
CONF = "/etc/nginx/pipeline"
BASE_PORT = {"stable": 8001, "canary": 8101}
APP_DB = "refapp"


def track_ports(track: str, replicas: int) -> list[int]:
    return [BASE_PORT[track] + i for i in range(replicas)]


class VmTarget:
    kind = "vm"

    def __init__(self, env: Environment, ex: Executor, project: Project, say: Say, machine: Machine | None = None) -> None:
        """``machine``: the host it runs on (default: the one env.vm asks for, see ``machine_for``)."""
        self.env = env
        self.vm: Vm = require_vm(env)
        self.ex = ex
        self.project = project
        self.say = say
        # a dry run reads what is there and creates nothing: no folder, no key, no inventory
        self.dir = state_dir(project, env) if ex.dry_run else make_state_dir(project, env)
        self.machine = machine if machine is not None else machine_for(env, ex, project, say)
        self.login = Login(
            host=self.vm.host,
            port=self.vm.ssh.port,
            user=self.machine.login_user,
            key=key_path(project, env),
            known_hosts=self.dir / "known_hosts",
            control_dir=self.dir,
        )
        self.last_recap: Recap | None = None

    # --- names ----------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self.machine.url

    def traffic_url(self) -> str:
        return self.machine.url.rstrip("/")

    @property
    def https_url(self) -> str:
        return f"https://{self.vm.domain}:{self.vm.ports.https}"

    def ports(self, track: TrackName) -> list[int]:
        return track_ports(track, getattr(self.env.tracks, track).replicas)

    # --- validation -------------------------------------------------------------------
    def check(self) -> None:
        if self.vm.ssh.key and not Path(self.vm.ssh.key).expanduser().is_file():
            raise ConfigError(
                f"environments/{self.env.name}/env.yaml: vm.ssh.key: {self.vm.ssh.key} is not a file",
                hint="point it at the private key that logs in to the host",
            )
        for key, value in self.env.app.env.items():
            if any(ord(c) < 32 or ord(c) == 127 for c in value):
                raise ConfigError(
                    f"environments/{self.env.name}/env.yaml: app.env.{key}: control characters (a newline, a tab) "
                    "cannot be in a value on a VM",
                    hint="the value lands in a systemd EnvironmentFile on the host; put it on one line",
                )
        if any(getattr(self.env.tracks, t).replicas > 50 for t in TRACKS):
            raise ConfigError("tracks: at most 50 instances per track on a VM", hint="lower tracks.*.replicas")
        self.machine.check()

    def reach(self, timeout: float = 0.0) -> None:
        """SSH answers with our key, or one line: unreachable (60) or key refused (61)."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.ex.run(probe(self.login))
            error = classify(self.login, result)
            if error is None:
                return
            if self.ex.dry_run:
                self.say(f"(dry run) {error.message}")
                return
            if time.monotonic() >= deadline:
                raise error
            time.sleep(1)

    def ssh(self, script: str, description: str, **kw: Any) -> str:
        return self.ex.run(remote(self.login, script, description, **kw)).stdout

    def read(self, script: str, description: str) -> str:
        return self.ex.run(remote(self.login, script, description, mutates=False, check=False)).stdout

    # --- up ------------------------------------------------------------------------------
    def up(self) -> None:
        self.check()
        self.machine.provision()
        self.reach(timeout=self.machine.boot_seconds)
        self.apply()
        self.verify_https()

    def config_drift(self) -> Recap:
        self.check()
        self.reach()
        return self.apply(check=True)

    def secrets(self) -> dict[str, str]:
        path = self.dir / "secrets.json"
        if path.exists():
            return dict(json.loads(path.read_text()))
        values = {
            "db_password": secrets.token_urlsafe(18),
            "django_secret_key": secrets.token_urlsafe(40),
            "docs_password": secrets.token_urlsafe(12),
        }
        if not self.ex.dry_run:
            path.touch(mode=0o600)
            path.write_text(json.dumps(values))
        return values

    def variables(self) -> dict[str, Any]:
        secret = self.secrets()
        app = self.env.app
        acme = self.vm.acme
        pub = self.login.key.with_suffix(".pub")
        common_env = {
            "APP_DRAIN_SECONDS": str(app.drain_seconds),
            "APP_UPLOAD_MAX_BYTES": str(app.upload_max_bytes),
            "APP_UPLOAD_MAX_FILES": str(app.upload_max_files),
            "DATABASE_URL": f"postgres://{APP_DB}:{secret['db_password']}@127.0.0.1:5432/{APP_DB}",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "DJANGO_SECRET_KEY": secret["django_secret_key"],
            "APP_DOCS_USER": "docs",
            "APP_DOCS_PASSWORD": secret["docs_password"],
            **self.env.observability.app_env(self.env.name),  # traces: OTLP endpoint, if any
            **app.env,
        }
        return {
            "common_deploy_keys": [pub.read_text().strip()] if pub.exists() else [],
            "common_ssh_allow_users": [self.login.user, "deploy"],
            # common_ssh_port, common_firewall_extra, redis_systemd_overrides, certbot_server_ca
            **self.machine.playbook_variables(),
            "postgresql_password": secret["db_password"],
            "nginx_domain": self.vm.domain,
            "nginx_stable_ports": self.ports("stable"),
            "nginx_canary_ports": self.ports("canary"),
            "nginx_operator_port": OPERATOR_PORT,
            "nginx_client_max_body_size": f"{self.env.edge.max_body_mb}m",
            "nginx_log_format": edge.LOG_FORMAT,
            "nginx_route_maps": edge.render_pin(edge.pin_token(secret["django_secret_key"])),
            "nginx_split_initial": edge.render_split(self.env, Weights(0)),
            # pebble names no OCSP responder; a real CA that does gets its answers stapled
            "nginx_ocsp_stapling": acme.ca_root != "pebble",
            "nginx_retries": self.env.edge.retries,
            "certbot_domain": self.vm.domain,
            "certbot_server": self.machine.acme_server,
            "certbot_email": acme.email,
            "app_common_env": common_env,
            "app_stable_ports": self.ports("stable"),
            "app_canary_ports": self.ports("canary"),
            "app_drain_seconds": app.drain_seconds,
            "app_stop_grace_seconds": app.stop_grace_seconds,
        }

    def _write_inputs(self) -> tuple[Path, Path]:
        inv = self.dir / "inventory.yml"
        variables = self.dir / "vars.json"
        if self.ex.dry_run:
            self.say(f"(dry run) would write the inventory {inv} and the playbook variables {variables} (mode 0600)")
        else:
            (self.dir / "inventory.ini").unlink(missing_ok=True)  # the old INI form: never read again
            inv.write_text(inventory(self.login))
            variables.touch(mode=0o600)
            variables.write_text(json.dumps(self.variables(), indent=1, sort_keys=True))
        return inv, variables

    def run_playbook(
        self, name: str, check: bool = False, extra: dict[str, Any] | None = None, timeout: float = 1200.0
    ) -> Result:
        """Every playbook run: SSH answers with our key first (60/61 before Ansible starts), then
        the inventory and variables are written and ``ansible-playbook`` runs."""
        self.reach()
        inv, variables = self._write_inputs()
        return self.ex.run(playbook(self.project.root, name, inv, variables, check=check, extra=extra, timeout=timeout))

    def apply(self, check: bool = False) -> Recap:
        """Run playbooks/site.yml; one line per failed task, classified (62/63/64)."""
        self.say(f"ansible: applying playbooks/site.yml to {self.login.destination}:{self.login.port}")
        result = self.run_playbook("site.yml", check=check)
        if self.ex.dry_run and not check:
            return Recap(0, 0, 0, 0, [])
        found = recap(result.stdout)
        self.last_recap = found
        if not found.success or not result.ok:
            raise self._failure(found, result.stderr)
        self.say(f"ansible: ok={found.ok} changed={found.changed} failed=0")
        return found

    def _failure(self, found: Recap, stderr: str) -> Exception:
        first = found.failures[0] if found.failures else (stderr.strip().splitlines() or ["no output"])[-1]
        first = " ".join(first.split())[:400]
        if "NXDOMAIN" in first or "DNS problem" in first or "no valid A records" in first:
            return DomainUnresolved(
                f"vm.domain: {self.vm.domain} does not resolve to the host: {first}",
                hint="point the domain's A record at the host (vm-local: pebble-challtestsrv answers it)",
            )
        if "certbot" in first.lower() or "acme" in first.lower() or "Obtain the certificate" in first:
            return AcmeRefused(
                f"vm.acme.server: the ACME server refused the certificate: {first}",
                hint="check vm.acme.server and that the host's port 80 is reachable for HTTP-01",
            )
        if found.unreachable:
            return HostConfigFailed(f"the host became unreachable during the playbook: {first}", hint="retry `up`")
        return HostConfigFailed(
            f"playbooks/site.yml failed: {first}",
            hint=f"nothing untested was reloaded; fix it and rerun `pipeline up {self.env.name}`",
        )

    def verify_https(self) -> None:
        """HTTPS on the domain answers with a certificate the ACME CA issued."""
        if self.ex.dry_run:
            return
        argv = ["curl", "-fsS", "-o", "/dev/null", "-w", "%{http_code} %{ssl_verify_result}"]
        if self.machine.address != self.vm.domain:
            argv += ["--resolve", f"{self.vm.domain}:{self.vm.ports.https}:{self.machine.address}"]
        if self.machine.https_root is not None:
            argv += ["--cacert", str(self.machine.https_root)]
        argv.append(f"{self.https_url}/edge/healthz")
        result = self.ex.run(Command(tuple(argv), mutates=False, check=False, description="verify HTTPS"))
        if not result.ok:
            raise AcmeRefused(
                f"{self.https_url} does not answer with a certificate from the ACME CA: {result.stderr.strip()}",
                hint=f"rerun `pipeline up {self.env.name}`; read certbot's log: /var/log/letsencrypt/letsencrypt.log on the host",
            )
        self.say(f"https: {self.https_url} verified against the ACME CA's root")

    # --- the certificate (probes and actions for chaos experiments and tests) --------------------
    CERT = "/etc/nginx/pipeline/tls/fullchain.pem"

    def ssh_login(self) -> Login:
        return self.login

    def tls_endpoint(self) -> tuple[str, int, str]:
        return self.machine.address, self.vm.ports.https, self.vm.domain

    def tls_trust(self) -> str | None:
        root = self.machine.https_root
        return str(root) if root is not None and self.vm.acme.ca_root == "pebble" else None

    def certificate_domain(self) -> str:
        return self.vm.domain

    def certificate_seconds_left(self) -> float | None:
        """Seconds until the certificate nginx serves expires (None: unreadable)."""
        text = self.read(
            f'sudo date -d "$(sudo openssl x509 -in {self.CERT} -noout -enddate | cut -d= -f2)" +%s',
            "read the certificate's expiry",
        )
        try:
            return float(text.strip()) - time.time()
        except ValueError:
            return None

    def renew_certificate(self, force: bool = False) -> None:
        """certbot renew with the environment's explicit server; the deploy hook tests and reloads nginx."""
        server = self.machine.acme_server
        trust = "REQUESTS_CA_BUNDLE=/etc/letsencrypt/pipeline-acme-ca.pem " if self.vm.acme.ca_root == "pebble" else ""
        result = self.ex.run(
            remote(
                self.login,
                f"sudo {trust}certbot renew --non-interactive --server {shlex.quote(server)} --no-random-sleep-on-renew"
                + (" --force-renewal" if force else "")
                + " --deploy-hook /usr/local/sbin/pl-cert-deploy 2>&1",
                "renew the certificate" + (" (forced)" if force else ""),
                timeout=300,
                check=False,
            )
        )
        if result.ok or self.ex.dry_run:
            return
        detail = " ".join(line.strip() for line in result.stdout.splitlines() if "Detail:" in line or "rror" in line)
        if "NXDOMAIN" in detail or "DNS problem" in detail:
            raise DomainUnresolved(
                f"vm.domain: {self.vm.domain} does not resolve to the host: {detail[:300]}",
                hint="point the domain's A record at the host; the certificate in use was kept",
            )
        raise AcmeRefused(
            f"vm.acme.server: certbot renew failed: {detail[:300] or result.stdout.strip()[-300:]}",
            hint="the certificate in use was kept; read /var/log/letsencrypt/letsencrypt.log on the host",
        )

    # --- releases ------------------------------------------------------------------------
    def versions(self) -> list[str]:
        return registry.tags(self.env.image.registry, self.env.image.name)

    def require_version(self, version: str) -> str:
        check_version(version)
        if not registry.answers(self.env.image.registry):
            raise NotReady(f"the registry {self.env.image.registry} does not answer", hint="run: make setup")
        if not registry.has_tag(self.env.image.registry, self.env.image.name, version):
            known = self.versions()[-5:]
            raise UnknownVersion(
                f"version '{version}' is not in the registry {self.env.image.registry}/{self.env.image.name}",
                hint=f"build it with `make build`; known: {', '.join(known) or 'none'}",
            )
        return image_ref(self.env.image.registry, self.env.image.name, version)

    def release_archive(self, version: str, image: str) -> Path:
        """The version's /opt/refapp tree, packed once (from the same image Swarm runs)."""
        releases = self.dir / "releases"
        archive = releases / f"{version}.tar.gz"
        if archive.exists():
            return archive
        if self.ex.dry_run:
            self.say(f"(dry run) would pack {version} into {archive}")
        else:
            releases.mkdir(parents=True, exist_ok=True)
        scratch = f"pl-vm-export-{self.env.name}-{version}"
        tree = releases / version
        for command in (
            Command(("docker", "rm", "-f", scratch), check=False, description="clear an old export container"),
            Command(("docker", "pull", "-q", image), description=f"pull {image}", timeout=600),
            Command(("docker", "create", "--name", scratch, image), description=f"open {version} for export"),
            Command(("rm", "-rf", str(tree)), description="clear the release tree"),
            Command(("docker", "cp", f"{scratch}:/opt/refapp", str(tree)), description=f"copy {version}'s tree out"),
            Command(("docker", "rm", "-f", scratch), description="remove the export container"),
            Command(
                ("tar", "--owner=0", "--group=0", "-czf", f"{archive}.part", "-C", str(releases), version),
                description=f"pack release {version}",
            ),
            Command(("mv", f"{archive}.part", str(archive)), description="keep the packed release"),
            Command(("rm", "-rf", str(tree)), description="remove the unpacked tree"),
        ):
            self.ex.run(command)
        return archive

    def deploy_track(
        self,
        track: TrackName,
        version: str,
        faults: Faults | None = None,
        labels: dict[str, str] | None = None,
        timeout: float = 300.0,
    ) -> None:
        image = self.require_version(version)
        archive = self.release_archive(version, image)
        track_env = (faults or getattr(self.env.tracks, track).faults).as_env()
        extra = {
            "app_track": track,
            "app_version": version,
            "app_release_archive": str(archive),
            "app_track_ports": self.ports(track),
            "app_track_env": track_env,
        }
        self.say(f"{track}: releasing {version} on {len(self.ports(track))} instance(s)")
        result = self.run_playbook("release.yml", extra=extra, timeout=timeout)
        if self.ex.dry_run:
            return
        found = recap(result.stdout)
        if not found.success or not result.ok:
            first = found.failures[0] if found.failures else result.stderr.strip()[-300:]
            raise NotReady(
                f"{track}: release {version} failed: {' '.join(first.split())[:400]}",
                hint=f"pipeline logs {self.env.name} --service app-{track}",
            )
        current = self.track_labels(track)
        current.update(labels or {})
        current[VERSION_LABEL] = version
        self._write_labels(track, current)

    def deploy_tracks(self, plans: list[TrackPlan], timeout: float = 300.0) -> None:
        """One track after another (a release on a VM has no baseline track: see ``check``)."""
        for plan in plans:
            self.deploy_track(plan.track, plan.version, plan.faults, plan.labels, timeout=timeout)
            if plan.replicas is not None and plan.replicas > getattr(self.env.tracks, plan.track).replicas:
                self.scale_track(plan.track, plan.replicas)

    def readiness(self, tracks: tuple[str, ...]) -> list[TaskReadiness]:
        """Every running instance of the tracks, asked on 127.0.0.1 of the host for the readiness path."""
        path = shlex.quote(self.env.app.readiness_path)
        script = "; ".join(
            f"for u in $(systemctl list-units --plain --no-legend --state=active 'refapp-{track}@*.service' | cut -d' ' -f1); "
            f"do p=${{u#*@}}; p=${{p%.service}}; c=$(curl -s -m 2 -o /tmp/pl-ready.body -w '%{{http_code}}' "
            f"http://127.0.0.1:$p{path} 2>/dev/null); "
            f'printf \'{track}\\t%s\\t%s\\t%s\\n\' "$p" "${{c:-0}}" '
            f"\"$(head -c 300 /tmp/pl-ready.body 2>/dev/null | tr '\\t\\n' '  ')\"; done"
            for track in tracks
            if track in BASE_PORT
        )
        probes = []
        for line in self.read(script or "true", "ask the instances for their readiness").splitlines():
            track, _, rest = line.partition("\t")
            port, _, rest = rest.partition("\t")
            code, _, body = rest.partition("\t")
            if track and port:
                probes.append(TaskReadiness(track, f"instance :{port}", int(code) if code.isdigit() else 0, body.strip()))
        return probes

    def _labels_path(self, track: str) -> str:
        return f"{STATE}/labels-{track}.json"

    def track_labels(self, track: TrackName) -> dict[str, str]:
        text = self.read(f"sudo cat {self._labels_path(track)} 2>/dev/null || true", f"read the {track} track's labels")
        try:
            data = json.loads(text) if text.strip() else {}
        except ValueError:
            data = {}
        return {str(k): str(v) for k, v in data.items()}

    def _write_labels(self, track: str, labels: dict[str, str]) -> None:
        path = self._labels_path(track)
        self.ssh(
            f"sudo install -d -m 0750 {STATE} && sudo tee {path}.new >/dev/null && sudo mv {path}.new {path}",
            f"label the {track} track",
            stdin=json.dumps(labels, sort_keys=True),
        )

    def label_track(self, track: TrackName, add: dict[str, str], remove: tuple[str, ...] = ()) -> None:
        labels = self.track_labels(track)
        labels.update(add)
        for key in remove:
            labels.pop(key, None)
        self._write_labels(track, labels)

    def _units(self, track: str) -> str:
        return f"'refapp-{track}@*.service'"

    def remove_track(self, track: TrackName, wait: bool = True) -> None:
        """Stop the track's units (systemctl waits for them either way: ``wait`` changes nothing here)."""
        self.ssh(
            f"sudo systemctl disable --now {self._units(track)} 2>/dev/null; "
            f"sudo systemctl stop {self._units(track)}; sudo rm -f {self._labels_path(track)}",
            f"empty the {track} track",
            timeout=self.env.app.stop_grace_seconds + 60,
        )

    def scale_track(self, track: TrackName, replicas: int) -> None:
        ports = track_ports(track, replicas)
        units = " ".join(f"refapp-{track}@{p}.service" for p in ports)
        waits = " ".join(str(p) for p in ports)
        script = (
            f"sudo systemctl enable --now {units} && for p in {waits}; do i=0; "
            "until curl -fsS -o /dev/null http://127.0.0.1:$p/readyz; "
            "do i=$((i+1)); [ $i -gt 120 ] && exit 1; sleep 1; done; done"
        )
        self.ssh(script, f"scale {track} to {replicas}", timeout=180)

    # --- weights, lease, operator command ---------------------------------------------------
    def set_weights(self, weights: Weights, lease_until: float | None = None) -> None:
        lease = "forever" if lease_until is None else f"{lease_until:.0f}"
        if weights.canary > 0:
            self.renew_lease(lease_until)
        self.ssh(
            "sudo pl-nginx-apply split.conf",
            f"split traffic: canary {weights.canary}% (nginx -t, then reload; lease {lease})",
            stdin=edge.render_split(self.env, weights),
        )

    def weights(self) -> Weights | None:
        return edge.parse_weights(self.read(f"sudo head -n 1 {CONF}/split.conf", "read the traffic split"))

    def renew_lease(self, until: float | None) -> None:
        self.ssh(f"echo {edge.lease_value(until)} | sudo tee {CONF}/lease >/dev/null", "renew the split's lease")

    def lease(self) -> float | str | None:
        return edge.parse_lease(self.read(f"sudo cat {CONF}/lease 2>/dev/null || true", "read the split's lease"))

    def send_command(self, command: str) -> None:
        self.ssh(f"echo {shlex.quote(command)} | sudo tee {STATE}/command >/dev/null", f"send '{command}' to the controller")

    def take_command(self) -> str | None:
        text = self.read(f"sudo cat {STATE}/command 2>/dev/null && sudo rm -f {STATE}/command || true", "read operator command")
        return text.strip() or None

    def clear_command(self) -> None:
        self.ssh(f"sudo rm -f {STATE}/command", "clear the operator command")

    def track_pin_token(self) -> str:
        """The secret that lets a request pick its track at nginx (the perf gate's compare run)."""
        return edge.pin_token(self.secrets()["django_secret_key"])

    def log_reader(self) -> Callable[[int], bytes]:
        log = "/var/log/nginx/pipeline/access.json"

        def read(offset: int) -> bytes:
            result = self.ex.run(
                remote(self.login, f"sudo tail -c +{offset + 1} {log}", "read nginx's log", mutates=False, check=False)
            )
            if not result.ok:
                raise LogUnreadable(f"{self.login.destination}: {(result.stderr or result.stdout).strip()[-200:]}")
            return result.stdout.encode()

        return read

    def log_size(self) -> int:
        text = self.read("sudo stat -c %s /var/log/nginx/pipeline/access.json 2>/dev/null || echo 0", "size of nginx's log")
        return int(text.strip() or 0)

    # --- promote / revert (as the local target) -----------------------------------------------
    def promote(self, version: str, previous: str | None) -> None:
        self.deploy_track("stable", version)
        self.label_track("stable", {PREVIOUS_LABEL: previous} if previous else {})
        self.set_weights(Weights(0))
        if previous:
            self.deploy_track("canary", previous, faults=self.env.tracks.stable.faults, labels={WARM_LABEL: "previous"})
        else:
            self.remove_track("canary")

    def settle(self, probes: list[TaskReadiness] | None = None) -> bool:
        """A vm promotion is a rolling update of stable: it is settled when ``promote`` returns."""
        return True

    def revert_to_previous(self, previous: str) -> None:
        warm = self.track_labels("canary").get(WARM_LABEL) == "previous"
        if warm:
            self.set_weights(Weights(100), lease_until=time.time() + 600)
        self.deploy_track("stable", previous)
        self.set_weights(Weights(0))
        self.remove_track("canary")

    # --- the deploy lock: a file created with noclobber (atomic) ----------------------------------
    def read_lock(self) -> LockInfo | None:
        text = self.read(f"sudo cat {STATE}/lock 2>/dev/null || true", "read the deploy lock")
        return LockInfo.from_json(text) if text.strip() else None

    def acquire_lock(self, info: LockInfo) -> None:
        result = self.ex.run(
            remote(
                self.login,
                f"sudo install -d -m 0750 {STATE} && sudo sh -c 'set -C; cat > {STATE}/lock'",
                "take the deploy lock",
                stdin=info.to_json(),
                check=False,
            )
        )
        if result.ok:
            return
        held = self.read_lock()
        if held is None:
            raise NotReady(f"could not take the deploy lock: {result.stderr.strip()}", hint="retry")
        stale = " The holder's process is gone: the lock is stale." if held.alive() is False else ""
        raise Locked(
            f"{self.env.name} is locked by {held.describe()}.{stale}",
            hint=f"wait for it, or break it: pipeline lock break {self.env.name}",
        )

    def release_lock(self) -> None:
        self.ssh(f"sudo rm -f {STATE}/lock", "release the deploy lock", check=False)

    # --- status ------------------------------------------------------------------------------
    STATUS_SCRIPT = r"""
for t in stable canary; do
  echo "track $t $(systemctl list-units --plain --no-legend --state=active "refapp-$t@*.service" | wc -l)"
  echo "labels $t $(sudo cat /var/lib/pipeline/labels-$t.json 2>/dev/null | tr -d '\n' || true)"
done
for s in nginx postgresql redis-server pl-split-watchdog; do echo "service $s $(systemctl is-active $s)"; done
echo "split $(sudo head -n 1 /etc/nginx/pipeline/split.conf 2>/dev/null)"
echo "lease $(sudo cat /etc/nginx/pipeline/lease 2>/dev/null)"
echo "lock $(sudo cat /var/lib/pipeline/lock 2>/dev/null | tr -d '\n')"
"""

    def status(self) -> Status:
        result = self.ex.run(remote(self.login, self.STATUS_SCRIPT, "read the host's state", mutates=False, check=False))
        if not result.ok:  # the host does not answer (or does not exist yet): nothing runs on it
            return Status(self.env.name, self.kind, self.url, False, None, {t: TrackStatus(t, None, 0, 0) for t in TRACKS})
        tracks: dict[str, TrackStatus] = {}
        services: dict[str, ServiceStatus] = {}
        labels: dict[str, dict[str, str]] = {}
        weights: Weights | None = None
        lease: float | str | None = None
        lock: LockInfo | None = None
        running_counts: dict[str, int] = {}
        for line in result.stdout.splitlines():
            kind, _, rest = line.partition(" ")
            if kind == "track":
                name, running, *_ = [*rest.split(), "0"]
                running_counts[name] = int(running)
            elif kind == "labels":
                name, _, body = rest.partition(" ")
                try:
                    labels[name] = json.loads(body) if body.strip() else {}
                except ValueError:
                    labels[name] = {}
            elif kind == "service":
                name, _, state = rest.partition(" ")
                services[name] = ServiceStatus(name, 1, 1 if state.strip() == "active" else 0)
            elif kind == "split":
                weights = edge.parse_weights(rest)
            elif kind == "lease":
                lease = edge.parse_lease(rest)
            elif kind == "lock" and rest.strip():
                lock = LockInfo.from_json(rest)
        for track in TRACKS:
            version = labels.get(track, {}).get(VERSION_LABEL)
            desired = getattr(self.env.tracks, track).replicas if version else 0
            tracks[track] = TrackStatus(track, version, desired, running_counts.get(track, 0))
        edge_running = services.get("nginx", ServiceStatus("nginx", 1, 0)).running > 0
        return Status(
            self.env.name,
            self.kind,
            self.url,
            edge_running,
            weights,
            tracks,
            services,
            canary_state=canary_state(tracks["canary"], labels.get("canary", {}), weights, lock, lease),
            lock=lock.as_dict() if lock else None,
            lease=lease,
        )

    # --- down and logs ------------------------------------------------------------------------
    def down(self, volumes: bool = False) -> None:
        self.machine.down(volumes, empty_tracks=self._empty_tracks)

    def _empty_tracks(self) -> None:
        self.reach()
        for track in TRACKS:
            self.remove_track(track)

    def logs(self, service: str, tail: int, follow: bool) -> None:
        units = {"edge": "nginx", "db": "postgresql", "cache": "redis-server"}
        unit = units.get(service, f"refapp-{service.removeprefix('app-')}@*")
        script = f"sudo journalctl --no-pager -n {tail} -u {shlex.quote(unit)}" + (" -f" if follow else "")
        command = remote(self.login, script, f"logs of {service}", mutates=False, check=False, timeout=None)
        subprocess.run(list(command.argv), check=False)

    def read_logs(self, parts: Sequence[str], query: LogQuery) -> list[LogFeed]:
        """The journal of the host's units in the query's window (the app's instances, nginx,
        PostgreSQL, Redis) as one feed, and nginx's access log, over SSH. ``parts`` empty: all of them."""
        units = {"app-stable": "refapp-stable@*", "app-canary": "refapp-canary@*", "edge": "nginx", "db": "postgresql*",
                 "cache": "redis-server"}  # fmt: skip
        wanted = [part for part in parts or units if part in units]
        feeds = [LogFeed(part, "journal", error=f"the vm kind has no {part}") for part in parts if part not in units]
        if wanted:
            since = f" --since @{query.since // 1_000_000_000}" if query.since is not None else ""
            tail = source_tail(query)
            script = "sudo journalctl --no-pager -o json" + since + (f" -n {tail}" if tail else "")
            script += "".join(f" -u {shlex.quote(units[part])}" for part in wanted)
            read = remote(self.login, script, "read the host's journal", mutates=False, check=False, timeout=120)
            prefixes = (("refapp-stable@", "app-stable"), ("refapp-canary@", "app-canary"), ("nginx", "edge"),
                        ("postgresql", "db"), ("redis", "cache"))  # fmt: skip
            feeds.append(dataclasses.replace(feed_of(self.ex.run(read), "", "journal"), units=prefixes))
        if "edge" in wanted:
            log = f"sudo tail -n {file_lines(query)} {edge.LOG_PATH}"
            read = remote(self.login, log, "read nginx's access log", mutates=False, check=False, timeout=120)
            feeds.append(feed_of(self.ex.run(read), "edge", "access", self.login.host))
        return feeds
