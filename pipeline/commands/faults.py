"""Builders of the fault injections: ``docker``, ``nsenter``, ``tc`` and ``iptables`` as ``Command`` values.

Nothing runs here. Network faults enter a container's network namespace from the host
(``nsenter -t <pid> -n``), so the container needs no extra tools or capabilities.
Every rule the harness adds carries the comment ``pipeline-chaos`` so it can be found
and removed again.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.commands import Command

MARK = "pipeline-chaos"
STRESS_MARK = "pipeline-chaos-stress"
FILL_FILE = "pipeline-chaos-fill"


def _docker(*argv: str, description: str, mutates: bool = True, check: bool = True, timeout: float = 60.0) -> Command:
    return Command(("docker", *argv), description=description, mutates=mutates, check=check, timeout=timeout)


def _netns(pid: int, *argv: str, description: str, mutates: bool = True, check: bool = True) -> Command:
    return Command(("nsenter", "-t", str(pid), "-n", *argv), description=description, mutates=mutates, check=check, timeout=30)


# --- reading ------------------------------------------------------------------


def _spell(mark: str) -> str:
    """Set ``$m`` to ``mark`` without writing it whole: the scanning shell must not match its own command line."""
    head, tail = mark[: len(mark) // 2], mark[len(mark) // 2 :]
    return f"m='{head}'; m=\"${{m}}{tail}\""


def task_containers(service: str) -> Command:
    """Running containers of one swarm service (on this node), as ``ID NAME`` lines."""
    return _docker(
        "ps",
        "--no-trunc",
        "--filter",
        f"label=com.docker.swarm.service.name={service}",
        "--filter",
        "status=running",
        "--format",
        "{{.ID}} {{.Names}}",
        description=f"list the running containers of {service}",
        mutates=False,
        check=False,
    )


def container_state(container: str) -> Command:
    """``Running Pid RestartCount StartedAt`` of a container."""
    return _docker(
        "inspect",
        "--format",
        "{{.State.Running}} {{.State.Pid}} {{.RestartCount}} {{.State.StartedAt}}",
        container,
        description=f"read the state of {container}",
        mutates=False,
        check=False,
    )


def links(pid: int) -> Command:
    return _netns(pid, "ip", "-o", "link", "show", description="list the network interfaces", mutates=False, check=False)


def qdiscs(pid: int, device: str) -> Command:
    return _netns(pid, "tc", "-s", "qdisc", "show", "dev", device, description=f"read the qdisc of {device}", mutates=False)


def rules(pid: int) -> Command:
    return _netns(pid, "iptables", "-w", "-S", description="read the packet filter", mutates=False, check=False)


def rule_counters(pid: int, chain: str) -> Command:
    return _netns(pid, "iptables", "-w", "-L", chain, "-v", "-n", "-x", description=f"read the {chain} counters", mutates=False)


def processes(container: str, mark: str) -> Command:
    """How many processes in ``container`` carry ``mark`` on their command line."""
    script = (
        f'{_spell(mark)}; n=0; for p in /proc/[0-9]*; do grep -qa -- "$m" $p/cmdline 2>/dev/null && n=$((n+1)); done; echo $n'
    )
    return _docker("exec", container, "sh", "-c", script, description=f"count {mark} processes", mutates=False, check=False)


def disk_usage(container: str, path: str) -> Command:
    """``used% size-kB`` of the file system holding ``path``."""
    return _docker(
        "exec",
        container,
        "sh",
        "-c",
        f"df -Pk {path} | tail -n 1 | awk '{{print $5, $2}}'",
        description=f"read the disk usage of {path}",
        mutates=False,
        check=False,
    )


# --- faults -------------------------------------------------------------------


def kill(container: str, signal: str = "KILL") -> Command:
    return _docker("kill", "--signal", signal, container, description=f"kill container {container}")


def kill_pid(pid: int, signal: str = "KILL") -> Command:
    """Kill a container's main process from the host: the engine sees it die and applies the restart policy."""
    return Command(("kill", f"-{signal}", str(pid)), description=f"kill process {pid}", timeout=10)


def start(container: str) -> Command:
    return _docker("start", container, description=f"start container {container}")


def scale(service: str, replicas: int) -> Command:
    return _docker(
        "service",
        "update",
        "--detach",
        "--quiet",
        "--replicas",
        str(replicas),
        service,
        description=f"scale {service} to {replicas}",
        timeout=120,
    )


def add_qdisc(pid: int, device: str, spec: Sequence[str]) -> Command:
    return _netns(pid, "tc", "qdisc", "replace", "dev", device, "root", *spec, description=f"shape {device}: {' '.join(spec)}")


def del_qdisc(pid: int, device: str) -> Command:
    return _netns(pid, "tc", "qdisc", "del", "dev", device, "root", description=f"unshape {device}", check=False)


def _drop_spec(chain: str, probability: float) -> list[str]:
    iface = "-i" if chain == "INPUT" else "-o"
    spec = [chain, "!", iface, "lo"]
    if probability < 1.0:
        spec += ["-m", "statistic", "--mode", "random", "--probability", f"{probability:.4f}"]
    return [*spec, "-m", "comment", "--comment", MARK, "-j", "DROP"]


def drop(pid: int, chain: str, probability: float) -> Command:
    """Drop a share of the packets of ``chain`` (INPUT or OUTPUT) on every interface but loopback."""
    return _netns(pid, "iptables", "-w", "-I", *_drop_spec(chain, probability), description=f"drop {probability:.0%} of {chain}")


def undrop(pid: int, chain: str, probability: float) -> Command:
    return _netns(pid, "iptables", "-w", "-D", *_drop_spec(chain, probability), description=f"stop dropping {chain}", check=False)


def stress_cpu(container: str, workers: int, seconds: int) -> Command:
    """``workers`` busy loops inside ``container``, each ended by ``timeout`` after ``seconds`` (bounded)."""
    loop = f"timeout {seconds} sh -c ': {STRESS_MARK}; while :; do :; done'"
    script = f"for i in $(seq {workers}); do {loop} >/dev/null 2>&1 & done"
    return _docker("exec", "--detach", container, "sh", "-c", script, description=f"burn {workers} CPUs in {container}")


def stop_stress(container: str) -> Command:
    scan = 'for p in /proc/[0-9]*; do grep -qa -- "$m" $p/cmdline 2>/dev/null && kill ${p#/proc/}; done; true'
    script = f"{_spell(STRESS_MARK)}; {scan}"
    return _docker("exec", container, "sh", "-c", script, description=f"stop the CPU burn in {container}", check=False)


def fill_disk(container: str, path: str, megabytes: int) -> Command:
    """Write up to ``megabytes`` into ``path`` (a bounded tmpfs): ``dd`` stops when the device is full."""
    script = f"dd if=/dev/zero of={path}/{FILL_FILE} bs=1M count={megabytes} 2>/dev/null; sync; true"
    return _docker("exec", container, "sh", "-c", script, description=f"fill {path} of {container}", timeout=120)


def free_disk(container: str, path: str) -> Command:
    return _docker("exec", container, "rm", "-f", f"{path}/{FILL_FILE}", description=f"free {path} of {container}", check=False)


# --- whole nodes of a cluster (run on the node named; chaos/chaosstack/node) -----------------

PARTITION_TABLE = "pl_chaos_partition"  # its own nft table: removing it heals the partition, whatever else runs
ENGINE_BACK_UNIT = "pl-chaos-engine-back"


def node_availability(node: str, availability: str) -> Command:
    """On a manager: ``active``, ``pause`` or ``drain`` one node (a drain moves its tasks away)."""
    return _docker(
        "node", "update", "--availability", availability, node,
        description=f"set node {node} {availability}", timeout=60,
    )  # fmt: skip


def engine_back_in(seconds: int) -> Command:
    """On a node: a transient systemd timer that starts the engine again in ``seconds``, whatever
    happens to the caller (the stop that follows cannot strand the node)."""
    return Command(
        (
            "sudo", "systemd-run", "--quiet", "--collect", f"--unit={ENGINE_BACK_UNIT}", f"--on-active={seconds}s",
            "/bin/systemctl", "start", "docker.socket", "docker.service",
        ),
        description=f"start the engine again in {seconds} s",
        timeout=30,
    )  # fmt: skip


def engine_stop() -> Command:
    """A planned stop: the engine stops its containers and leaves the cluster's gossip."""
    return Command(("sudo", "systemctl", "stop", "docker.socket", "docker.service"), description="stop the engine", timeout=120)


def engine_kill() -> list[Command]:
    """A crash: SIGKILL to dockerd alone (the containers' shims live on), then the stop that keeps
    systemd from restarting it 2 s later and its socket from starting it on the next API call."""
    return [
        Command(
            ("sudo", "systemctl", "kill", "--kill-who=main", "--signal=KILL", "docker.service"),
            description="kill the engine (SIGKILL)",
            timeout=30,
        ),
        engine_stop(),
    ]


def engine_start() -> Command:
    return Command(("sudo", "systemctl", "start", "docker.socket", "docker.service"), description="start the engine", timeout=120)


def engine_active() -> Command:
    return Command(
        ("systemctl", "is-active", "docker.service"), description="is the engine active", mutates=False, check=False, timeout=15
    )


def _chain(hook: str) -> str:
    # priority -160: before Docker's DNAT (-100), so a published port is dropped by its source
    return f"{{ type filter hook {hook} priority -160 ; policy accept ; }}"


def partition(peers: Sequence[str]) -> list[Command]:
    """On a node: drop every packet to and from ``peers`` (the other nodes' addresses), in a table of
    its own that runs before the firewall's; this machine (SSH, the virtual IP) still reaches it.
    The prerouting and postrouting hooks see what the node's containers send and receive too
    (forwarded through a published port or the overlay), not only the node's own sockets: a cable
    pulled cuts both."""
    addresses = "{ " + ", ".join(peers) + " }"
    nft = ("sudo", "nft")
    return [
        Command((*nft, "add", "table", "inet", PARTITION_TABLE), description="add the partition table", timeout=15),
        Command(
            (*nft, "add", "chain", "inet", PARTITION_TABLE, "in", _chain("prerouting")),
            description="add its inbound chain (before any DNAT)",
            timeout=15,
        ),
        Command(
            (*nft, "add", "chain", "inet", PARTITION_TABLE, "out", _chain("postrouting")),
            description="add its outbound chain",
            timeout=15,
        ),
        Command(
            (*nft, "add", "rule", "inet", PARTITION_TABLE, "in", "ip", "saddr", addresses, "counter", "drop"),
            description=f"drop what comes from {', '.join(peers)}",
            timeout=15,
        ),
        Command(
            (*nft, "add", "rule", "inet", PARTITION_TABLE, "out", "ip", "daddr", addresses, "counter", "drop"),
            description=f"drop what goes to {', '.join(peers)}",
            timeout=15,
        ),
    ]


def heal_partition() -> Command:
    return Command(
        ("sudo", "nft", "delete", "table", "inet", PARTITION_TABLE), description="remove the partition", check=False, timeout=15
    )


def partition_counters() -> Command:
    """The partition table's rules with their counters (dropped packets confirm the partition)."""
    return Command(
        ("sudo", "nft", "list", "table", "inet", PARTITION_TABLE),
        description="read the partition's counters",
        mutates=False,
        check=False,
        timeout=15,
    )
