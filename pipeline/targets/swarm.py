"""The ``swarm`` target: a multi-node Docker Swarm set up by Ansible, the same releases as on one node.

``up`` makes the hosts (the stand-in node containers for swarm-local), reaches every node over
SSH, guards the cluster's identity and runs playbooks/swarm.yml (engine, swarm, labels, firewall,
the cluster registry, keepalived), then brings up the stack on it: the overlay network, the
secrets, PostgreSQL and Redis pinned to their labelled nodes, the edge on every edge node, and the
flags on every node.

Everything the local kind does to its engine runs here unchanged, on the first manager's engine
over SSH (``OnNode``): the same ``Command`` values, the same services, the same canary. What
differs is named here:

* **images** are built and kept on this machine (its registry on 127.0.0.1) and copied into the
  cluster's registry (on ``swarm.registry.node``) through an SSH forward before a service names
  them; the nodes pull ``<registry node address>:<port>/<name>:<tag>``;
* **the edge** is a global service, one task per edge node (swarm replaces one that stops, on
  its node), each publishing ``edge.port`` on its node's address (host mode, not the routing
  mesh) and reached through its own node's engine (``EdgeSet``: a split reaches every replica
  before it counts), with the virtual IP in front;
* **the request log** is every edge replica's log, read as one (the kind's own metrics source);
* **flags** are written to every node's copy of the flags directory (``SshDirDelivery``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Literal

from pipeline import edge, poll
from pipeline.analysis.source import EdgeLogsSource
from pipeline.build.images import ensure_service_images
from pipeline.build.revision import check_version
from pipeline.commands import Command, docker, faults
from pipeline.commands.ansible import Recap
from pipeline.commands.docker import ServiceSpec
from pipeline.commands.executor import Executor
from pipeline.commands.on_node import OnNode
from pipeline.commands.ssh import remote
from pipeline.edge import FRESH_SLOTS, LEGACY_SLOTS, Weights
from pipeline.engine import Engine
from pipeline.environment import Environment
from pipeline.errors import ConfigError, NotReady, UserError
from pipeline.flags.delivery import SshDirDelivery
from pipeline.ports import free_port
from pipeline.project import Project
from pipeline.targets.base import Status, TrackPlan
from pipeline.targets.engine_reads import EngineEndpoint, EngineReads
from pipeline.targets.local import LocalTarget
from pipeline.targets.swarm_edge import EdgeSet, EdgeTask
from pipeline.targets.swarm_local import LocalCluster
from pipeline.targets.swarm_nodes import LABELS, LOGIN_USER, SwarmNodes, check_key, require_swarm

Say = Callable[[str], None]
FLAGS_ROOT = "/var/lib/pipeline/flags"  # on every node, owned by the login user (playbooks/roles/swarm)
# while it exists on an edge node, keepalived's check there fails: the virtual IP leaves it (a planned drain)
MAINTENANCE_FILE = "/var/lib/pipeline/edge-maintenance"


class SwarmTarget(LocalTarget):
    kind = "swarm"

    def __init__(self, env: Environment, ex: Executor, project: Project, say: Say) -> None:
        self.swarm = require_swarm(env)
        self.host_ex = ex  # this machine: builds, its registry, SSH
        self.cluster = LocalCluster(env, ex, project, say) if self.swarm.local is not None else None
        self.nodes = SwarmNodes(env, ex, project, say, login_user=LOGIN_USER if self.cluster else None)
        self.node_ex = {n.name: OnNode(ex, self.nodes.logins[n.name], n.name) for n in self.swarm.nodes}
        # the node itself: every command over SSH (never this machine's ip, nft or systemctl)
        self.node_shell = {n.name: OnNode(ex, self.nodes.logins[n.name], n.name, every=True) for n in self.swarm.nodes}
        super().__init__(env, self.node_ex[self.swarm.manager.name], project, say)
        self.images_ex = ex  # images are built and inspected here; the nodes pull copies
        # the engine is over SSH: every read goes through the CLI there, never a socket of this machine
        self.endpoint = EngineEndpoint(self.ex, fixed=f"ssh://{self.swarm.manager.name}")
        self.reads = EngineReads(self.endpoint)
        self.edges = EdgeSet(
            {n: EdgeTask(env, self.node_ex[n], self.edge_name, self.endpoint) for n in self.swarm.edge_nodes},
            env.name,
        )
        self.edge = self.edges

    # --- names --------------------------------------------------------------------------
    @property
    def url(self) -> str:
        if self.swarm.front == "dns":
            front = self.swarm.domain
        else:
            front = self.swarm.vip.address if self.swarm.vip else self.swarm.node(self.swarm.edge_nodes[0]).address
        return f"http://{front}:{self.env.edge.port}"

    def traffic_url(self) -> str:
        return self.url  # the virtual IP (or the first edge node, or the round-robin name)

    @property
    def cluster_registry(self) -> str:
        return f"{self.swarm.registry_node.address}:{self.swarm.registry.port}"

    # --- validation ---------------------------------------------------------------------
    def check(self) -> None:
        if self.env.edge.publish != "container":
            raise UserError(
                "edge.publish: ingress: the swarm kind runs an edge container on every edge node",
                hint="set edge.publish: container (the routing mesh needs IPVS; keepalived fronts the edges)",
            )
        check_key(self.swarm, self.env)
        if self.cluster is not None:
            self.cluster.check()

    # --- up -----------------------------------------------------------------------------------
    def up(self) -> None:
        self.check()
        # this machine builds and keeps the images (and, for the stand-in cluster, runs the node
        # containers): its engine first; the cluster's registry gets a copy of every image
        engine = Engine(self.host_ex, self.project, self.say)
        engine.ensure()
        if self.cluster is not None:
            self.cluster.provision()
        self.nodes.make_dir()
        self.nodes.reach(timeout=120.0 if self.cluster is not None else 0.0)
        if self.nodes.recorded() is not None:
            self._free_front_port()
        self._apply()
        engine.ensure_registry(self.env.image.registry)
        built = ensure_service_images(self.host_ex, self.project, self.env, self.say)
        images = {name: self.mirror(ref) for name, ref in built.items()}
        self._ensure_network()
        secret = self._secrets()
        self._ensure_service(self._db_spec(images["postgres"], secret))
        self._ensure_service(self._cache_spec(images["redis"]))
        self._ensure_edges(images["edge"])
        self.wait_services([self.service("db"), self.service("cache")], timeout=300.0)
        self._ensure_flags()
        self._spread_again()

    def _spread_again(self) -> list[str]:
        """A cluster that came back (a reboot, the engines restarted) has its tasks where swarm started
        them, not always spread: ``up`` spreads them again, unless a deploy in flight (the lock) sizes
        the tracks itself."""
        if self.ex.dry_run or self.read_lock() is not None:
            return []
        spread = self.rebalance()
        for service in spread:
            self.say(f"{service.removeprefix(self.stack + '-')}: crowded onto fewer nodes than it could use: spread again")
        return spread

    def _apply(self, check: bool = False) -> Recap:
        """playbooks/swarm.yml on every node (in Ansible's check mode: what it would change)."""
        machine = self.cluster.playbook_variables() if self.cluster is not None else {}
        per_node = self.cluster.node_variables if self.cluster is not None else None
        extra = {
            # the relay on every edge node takes edge.port and forwards to the replicas on every edge node
            "haproxy_port": self.env.edge.port,
            "haproxy_replica_port": self.swarm.replica_port,
            "haproxy_replicas": self._relay_from(),
            "swarm_edge_replica_port": self.swarm.replica_port,
            # keepalived asks the relay, which answers while any replica does (a replica that dies
            # does not move the address; a node handed over for maintenance does)
            "keepalived_check_url": f"http://127.0.0.1:{self.env.edge.port}/edge/healthz",
            "keepalived_maintenance_file": MAINTENANCE_FILE,
            "swarm_flags_root": FLAGS_ROOT,
            "docker_package_source": self.swarm.engine_packages,
        }
        return self.nodes.apply({**machine, **extra}, per_node, check=check)

    def config_drift(self) -> Recap:
        self.check()
        self.nodes.make_dir()
        self.nodes.reach()
        return self._apply(check=True)

    # --- images: this machine's registry -> the cluster's ------------------------------------------
    def mirror(self, ref: str) -> str:
        """Copy ``ref`` (on this machine's registry) into the cluster's registry; the name the nodes pull."""
        _, _, path = ref.partition("/")
        inside = f"{self.cluster_registry}/{path}"
        node = self.swarm.registry_node
        login = self.nodes.logins[node.name]
        port = free_port()
        forward = f"127.0.0.1:{port}:127.0.0.1:{self.swarm.registry.port}"
        local = f"127.0.0.1:{port}/{path}"
        self.host_ex.run(remote(login, "true", f"{node.name}: open the shared SSH connection", mutates=False, check=False))
        self.host_ex.run(
            Command(
                ("ssh", *login.options(), "-O", "forward", "-L", forward, login.destination), f"{node.name}: forward {forward}"
            )
        )
        try:
            self.host_ex.run(docker.tag(ref, local))
            self.host_ex.run(docker.push(local))
            self.host_ex.run(docker.untag(local))
        finally:
            self.host_ex.run(
                Command(
                    ("ssh", *login.options(), "-O", "cancel", "-L", forward, login.destination),
                    f"{node.name}: end the forward",
                    check=False,
                )
            )
        return inside

    def require_version(self, version: str) -> str:
        """The release on this machine's registry (``UnknownVersion`` when it is not), copied to the cluster's."""
        check_version(version)
        return self.mirror(super().require_version(version))

    def image_of(self, version: str) -> str:
        return f"{self.cluster_registry}/{self.env.image.name}:{version}"

    # --- the stateful parts: pinned to their labelled nodes ------------------------------------------
    def _db_spec(self, image: str, secret: dict[str, str]) -> ServiceSpec:
        spec = super()._db_spec(image, secret)
        return _pinned(spec, LABELS["db"])

    def _cache_spec(self, image: str) -> ServiceSpec:
        return _pinned(super()._cache_spec(image), LABELS["cache"])

    # --- the app's tracks: on swarm.app_nodes (the workers by default), spread evenly over them ---
    def _placed(self, spec: ServiceSpec) -> ServiceSpec:
        spec = _pinned(spec, LABELS["app"])
        return dataclasses.replace(spec, placement_prefs=(f"spread=node.labels.{LABELS['host']}",))

    def deploy_tracks(self, plans: list[TrackPlan], timeout: float = 300.0) -> None:
        """As on one node, once some node carries the app label (a cluster set up before it had
        none: its tasks would wait for a node for ever)."""
        if not self.ex.dry_run:
            labelled = self.ex.run(
                Command(
                    ("docker", "node", "ls", "--filter", f"node.label={LABELS['app']}=true", "--format", "{{.Hostname}}"),
                    "find the app nodes",
                    mutates=False,
                    check=False,
                )
            )
            if labelled.ok and not labelled.stdout.split():
                raise NotReady(
                    f"{self.env.name}: no node carries the label {LABELS['app']}=true that the app's tracks are placed by",
                    hint=f"make up ENV={self.env.name} (its playbook labels {', '.join(self.swarm.app_placement)})",
                )
        super().deploy_tracks(plans, timeout)

    # --- the edge: a global service, one task on every edge node ---------------------------------
    def _relay_from(self) -> list[str]:
        """The edge nodes' addresses: the relays there reach the replicas, and only they are believed
        when they name the client (the PROXY protocol)."""
        return [self.swarm.node(name).address for name in self.swarm.edge_nodes]

    def _free_front_port(self) -> None:
        """An edge made before the relay published ``edge.port`` itself: it gives the port up before the
        playbook starts the relay there (once; the replicas' own port is published with the stack)."""
        found = self.ex.run(docker.service_inspect([self.edge_name]))
        if not found.ok:
            return
        ports = json.loads(found.stdout)[0]["Spec"].get("EndpointSpec", {}).get("Ports") or []
        if any(p.get("PublishedPort") == self.env.edge.port for p in ports):
            self.ex.run(docker.service_publish_rm(self.edge_name, self.env.edge.port))

    def _edge_spec(self, image: str) -> ServiceSpec:
        return ServiceSpec(
            name=self.edge_name,
            image=image,
            network=self.network,
            mode="global",
            labels={**self.labels, "pipeline.role": "edge"},
            mounts=(
                f"type=volume,src={self.service('edge-conf')},dst={edge.CONF_DIR}",
                f"type=volume,src={self.service('edge-logs')},dst=/var/log/nginx/pipeline",
            ),
            # on the node's own address, for the relays (edge.port is theirs), never the routing mesh (IPVS)
            publish=(f"mode=host,target={edge.EDGE_RELAY_PORT},published={self.swarm.replica_port},protocol=tcp",),
            constraints=(f"node.labels.{LABELS['edge']}==true",),
            # a host port is held by one task at a time: the old task stops first, one node at a
            # time (the others, and the virtual IP, serve meanwhile)
            update_order="stop-first",
            update_delay="5s",
            stop_signal="SIGQUIT",
            stop_grace="10s",
            # a crashed edge refuses connections on its node until its task runs again (swarm-kill-edge-replica)
            restart_delay="250ms",
        )

    def _ensure_edges(self, image: str) -> None:
        conf = edge.render_nginx_conf(self.env, self.track_pin_token(), relay_from=self._relay_from())
        # a new edge node routes as the others do (a node added mid-release joins the split in force)
        current = self.edge.split_text()
        fresh = current if current and edge.parse_slots(current) else edge.render_split(self.env, Weights(0), FRESH_SLOTS)
        for name in self.swarm.edge_nodes:
            self._ensure_edge_conf(name, image, conf, fresh)
        if self._ensure_service(self._edge_spec(image)):
            self.wait_services([self.edge_name], timeout=180.0)
        found = self._wait_edges(60.0)
        missing = [name for name, up in found.items() if not up]
        if missing:
            raise NotReady(
                f"{self.env.name}: no edge task runs on {', '.join(missing)}",
                hint=f"see docker service ps {self.edge_name} on {self.swarm.manager.name}",
            )
        self.say(f"edge {self.edge_name}: a task on each of {', '.join(found)} (global service)")
        self._slots = None

    def _ensure_edge_conf(self, node: str, image: str, conf: str, fresh: str) -> None:
        """The node's edge configuration in its volumes: through the running task (tested, reloaded),
        else written before swarm starts one."""
        ex = self.node_ex[node]
        ex.run(docker.container_rm(self.edge_name))  # an edge container from before the service
        task = self.edges.edges[node]
        if task.running():
            ex.run(
                docker.exec_(
                    task.container(), ["edge-apply", "nginx.conf"], stdin=conf, description="apply the edge configuration"
                )
            )
            self.say(f"edge on {node}: running, configuration applied")
            return
        write = (
            "cat > /conf/nginx.conf && f=/conf/split.conf && "
            "if [ ! -s $f ]; then printf '%s' \"$FRESH\" > $f; "
            "elif ! grep -q '^# pipeline-slots: ' $f; then printf '%s' \"$LEGACY\" > $f; fi"
        )
        ex.run(
            docker.run_once(
                image,
                None,
                ["sh", "-c", write],
                env={"FRESH": fresh, "LEGACY": edge.render_split(self.env, Weights(0), LEGACY_SLOTS)},
                mounts=[f"type=volume,src={self.service('edge-conf')},dst=/conf"],
                stdin=conf,
                description=f"write the edge configuration on {node}",
            )
        )

    def _wait_edges(self, timeout: float) -> dict[str, bool]:
        """Until every edge node runs its task (bounded); which do."""
        if self.ex.dry_run:
            return {name: True for name in self.swarm.edge_nodes}
        found: dict[str, bool] = {}

        def every_edge() -> dict[str, bool] | None:
            found.update(self.edges.running_on())
            return found if all(found.values()) else None

        try:
            return poll.until(every_edge, timeout, TimeoutError, delay=1.0, factor=1.0)
        except TimeoutError:
            return found

    # --- flags: every node's copy -----------------------------------------------------------------
    def flag_delivery(self) -> SshDirDelivery:  # type: ignore[override]
        logins = [(n.name, self.nodes.logins[n.name]) for n in self.swarm.nodes]
        return SshDirDelivery(self.host_ex, logins, f"{FLAGS_ROOT}/{self.stack}")

    # --- the request logs: every edge's -----------------------------------------------------------
    def metrics_source(self) -> EdgeLogsSource:
        return self.edges.logs()

    # --- status -------------------------------------------------------------------------------
    def nodes_status(self) -> list[dict[str, str]]:
        """Each node as the manager sees it (none when the manager does not answer)."""
        result = self.ex.run(
            Command(("docker", "node", "ls", "--format", "{{json .}}"), "list the nodes", mutates=False, check=False)
        )
        rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip().startswith("{")] if result.ok else []
        return [
            {
                "name": str(r.get("Hostname", "")),
                "state": str(r.get("Status", "")).lower(),
                "availability": str(r.get("Availability", "")).lower(),
                "role": str(r.get("ManagerStatus", "")).lower(),
            }
            for r in rows
        ]

    # --- the nodes one by one (chaos acts on them) ------------------------------------------------
    def node_names(self) -> list[str]:
        return [n.name for n in self.swarm.nodes]

    def node_executor(self, name: str) -> Executor:
        if name not in self.node_shell:
            raise UserError(f"no node {name!r} in {self.env.name}", hint=f"one of {', '.join(self.node_shell)} (env.yaml swarm:)")
        return self.node_shell[name]

    def vip_holder(self) -> str | None:
        if self.swarm.vip is None:
            return None
        for name in self.swarm.edge_nodes:
            shown = self.node_shell[name].run(
                Command(("ip", "-4", "-o", "addr", "show"), f"addresses of {name}", mutates=False, check=False, timeout=10.0)
            )
            if shown.ok and f" {self.swarm.vip.address}/" in shown.stdout:
                return name
        return None

    def edge_container_on(self, name: str) -> str | None:
        edge_task = self.edges.edges.get(name)
        return edge_task.find() if edge_task is not None else None

    def edge_logs(self, tail_bytes: int) -> EdgeLogsSource:
        return self.edges.logs(tail_bytes)

    def node_switch(self, name: str, to: Literal["start", "stop", "kill"]) -> Command:
        if self.cluster is None:
            raise UserError(
                f"{self.env.name}: node {name} is a host the pipeline did not make: it cannot switch it off or on",
                hint="stop its engine instead (the manager-engine experiment), or power it off at its provider",
            )
        self.node_executor(name)  # a known node, or one line
        container = self.cluster.container(self.swarm.node(name))
        if to == "start":
            return docker.container_start(container)
        if to == "stop":
            return docker.container_stop(container)
        return faults.kill(container)

    def drain(self, name: str, timeout: float = 120.0) -> None:
        """A planned drain that users do not see: an edge node hands the virtual IP over first (its
        check fails on purpose, the peer takes the address); the node is paused (nothing new lands
        there) and each app track with tasks on it grows by that many elsewhere, ready before any
        goes; then swarm moves every task away and the tracks shrink back to their size."""
        node_ex = self.node_executor(name)
        if name in self.swarm.edge_nodes:
            node_ex.run(Command(("sudo", "touch", MAINTENANCE_FILE), f"hand {name}'s edge over (keepalived fails its check)"))
            if self.swarm.vip is not None and not self.ex.dry_run:
                self._wait(lambda: self.vip_holder() not in (name, None), 20.0, f"the virtual IP off {name}")
        moved = {} if self.ex.dry_run else self._app_tasks_on(name)
        grown: list[tuple[str, int]] = []
        try:
            if moved:
                self.ex.run(faults.node_availability(name, "pause"))
                for service, (size, there) in moved.items():
                    grown.append((service, size))
                    self.ex.run(docker.service_replicas(service, size + there, timeout))
            self.ex.run(faults.node_availability(name, "drain"))
            if not self.ex.dry_run:
                self._wait(lambda: not self.tasks_on(name), timeout, f"every task off {name}")
        finally:  # a drain that stops half-way leaves no track bigger than its size (the node stays as it was left)
            for service, size in grown:
                self.ex.run(docker.service_replicas(service, size, timeout))

    def _app_tasks_on(self, name: str) -> dict[str, tuple[int, int]]:
        """Each app track's service with tasks on node ``name``: its size and how many run there."""
        found: dict[str, tuple[int, int]] = {}
        for service in self._app_services():
            nodes = self.task_nodes(service)
            if name in nodes:
                found[service] = (len(nodes), nodes.count(name))
        return found

    def _app_services(self) -> list[str]:
        return sorted(s for s in self._replicas() if s.startswith(self.service("app-")))

    def activate(self, name: str, timeout: float = 120.0) -> list[str]:
        """Back in service: tasks may run on it again; an edge node's task starts there and its check passes
        (the address stays where it is: keepalived does not preempt); the app's tracks spread over it
        again (``rebalance``). The services spread for that."""
        node_ex = self.node_executor(name)
        self.ex.run(faults.node_availability(name, "active"))
        if name in self.swarm.edge_nodes:
            node_ex.run(Command(("sudo", "rm", "-f", MAINTENANCE_FILE), f"{name}'s edge may hold the virtual IP again"))
            if not self.ex.dry_run:
                self._wait(lambda: self.edge_container_on(name) is not None, timeout, f"the edge task back on {name}")
        return self.rebalance()

    def rebalance(self, timeout: float = 300.0) -> list[str]:
        """Swarm never moves a running task back to a node that returns (after a drain or a loss):
        a track whose tasks crowd onto fewer app nodes than it could use would lose them all with
        that one node. Such a track grows by the nodes it misses (the spread preference puts the new
        tasks there, each ready before the next step) and shrinks back (swarm removes tasks from the
        nodes with the most): never fewer tasks than its size. The services spread, none in a dry run."""
        if self.ex.dry_run:
            return []
        spread: list[str] = []
        for service, (size, missing) in self.crowded(self.nodes_status()).items():
            self.ex.run(docker.service_replicas(service, size + missing, timeout))
            self.ex.run(docker.service_replicas(service, size, timeout))
            spread.append(service)
        return spread

    def crowded(self, nodes: list[dict[str, str]]) -> dict[str, tuple[int, int]]:
        """Each app track's service whose tasks crowd onto fewer of the usable app nodes (ready and
        active among ``nodes``, in the app's placement) than it could use: its size and how many
        nodes it misses."""
        return crowding(self._app_task_nodes(), self._usable(nodes))

    def _usable(self, nodes: list[dict[str, str]]) -> set[str]:
        ready = {n["name"] for n in nodes if n["state"] == "ready" and n["availability"] == "active"}
        return ready & set(self.swarm.app_placement)

    def _app_task_nodes(self) -> dict[str, list[str]]:
        return {service: self.task_nodes(service) for service in self._app_services()}

    def task_nodes(self, service: str) -> list[str]:
        """The node of each task swarm means to keep running for a service."""
        return self._running(("service", "ps", service), "{{.Node}}", f"where {service}'s tasks run")

    def tasks_on(self, name: str) -> list[str]:
        """The tasks swarm means to keep running on a node (its ``docker node ps``)."""
        return self._running(("node", "ps", name), "{{.Name}}", f"the tasks on {name}")

    def _running(self, listing: tuple[str, ...], field: str, what: str) -> list[str]:
        """One ``field`` of each task a ``docker service ps`` or ``node ps`` lists as meant to run."""
        command = ("docker", *listing, "--filter", "desired-state=running", "--format", field)
        result = self.ex.run(Command(command, what, mutates=False, check=False))
        return result.stdout.split() if result.ok else []

    def _wait(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        poll.until(
            lambda: True if done() else None,
            timeout,
            lambda: NotReady(f"{self.env.name}: {what}: not so after {timeout:g} s", hint=f"pipeline status {self.env.name}"),
            factor=1.0,
        )

    def roll_edge(self, timeout: float = 180.0) -> None:
        """Every edge replica replaced, one node at a time (stop-first, 5 s apart: the edge's update
        policy), as a new edge image rolls out; the relays send each request to a replica that runs."""
        self.ex.run(docker.service_roll(self.edge_name, timeout))

    def status(self) -> Status:
        found = super().status()
        nodes = self.nodes_status()
        tasks = self._app_task_nodes()
        track_of = {track.service: name for name, track in found.tracks.items() if track.service}
        crowded = {
            track_of.get(service, service.removeprefix(self.stack + "-")): sorted(set(tasks[service]))
            for service in crowding(tasks, self._usable(nodes))
        }
        return dataclasses.replace(found, nodes=nodes, edges=self.edges.running_on(), crowded=crowded)

    # --- down ---------------------------------------------------------------------------------
    def down(self, volumes: bool = False) -> None:
        names = self.ex.run(
            Command(
                ("docker", "service", "ls", "--filter", f"label=pipeline.env={self.env.name}", "--format", "{{.Name}}"),
                mutates=False,
                check=False,
                description="list the stack's services",
            )
        ).stdout.split()
        if names:
            self.ex.run(docker.service_rm(names))
        if self.cluster is not None:
            self.cluster.remove(volumes)
        elif volumes:
            raise ConfigError("down --volumes on rented nodes", hint="remove the volumes on the nodes yourself")

    def edge_at(self) -> tuple[Executor, str]:
        """An edge node whose task runs, and the task's container (readiness is asked from an edge)."""
        for name, task in self.edges.edges.items():
            if task.running():
                return self.node_ex[name], task.container()
        raise NotReady(f"no edge of {self.env.name} is running", hint=f"make up ENV={self.env.name}")


def crowding(tasks: dict[str, list[str]], usable: set[str]) -> dict[str, tuple[int, int]]:
    """Of each service's task nodes (one entry per task), those that crowd: a service of two tasks or
    more that runs on fewer of the ``usable`` nodes than it could (``min(size, len(usable))``), as
    its size and how many nodes it misses. One node's loss takes all of such a track."""
    found: dict[str, tuple[int, int]] = {}
    for service, nodes in tasks.items():
        missing = min(len(nodes), len(usable)) - len(set(nodes) & usable)
        if len(nodes) >= 2 and missing > 0:
            found[service] = (len(nodes), missing)
    return found


def _pinned(spec: ServiceSpec, label: str) -> ServiceSpec:
    return dataclasses.replace(spec, constraints=(*spec.constraints, f"node.labels.{label}==true"))
