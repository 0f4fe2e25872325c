"""Promotion in seconds: two app slots and a pointer at the edge (issue 12, item 4).

The local target's two app services are slots; the edge's split.conf says which one is stable
and which the canary, with the weights, so a promotion (and a revert during the bake) is one
write and one graceful reload: the judged tasks take over, nothing restarts."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pipeline.commands import Command, Result
from pipeline.edge import (
    FRESH_SLOTS,
    LEGACY_SLOTS,
    Slots,
    Weights,
    parse_slots,
    parse_weights,
    render_nginx_conf,
    render_split,
)
from pipeline.environment import load_environment
from pipeline.errors import UserError
from pipeline.project import Project
from pipeline.targets.base import DEPLOY_LABEL, PREVIOUS_LABEL, WARM_LABEL
from pipeline.targets.local import LocalTarget
from pipeline.targets.local_edge import slots_in
from pipeline.testing import FakeExecutor

ROOT = Path(__file__).resolve().parents[2]
ENV = load_environment(ROOT, "local")
STACK = ENV.stack


# --- the edge's split.conf -------------------------------------------------------------
def test_the_split_names_which_service_serves_each_track() -> None:
    text = render_split(ENV, Weights(25, 25), Slots("green", "blue"))
    assert parse_slots(text) == Slots("green", "blue")
    assert parse_weights(text) == Weights(25, 25)
    block = text[text.index("map $pl_route $pl_backend {") :]
    assert f"    canary {STACK}-app-blue;" in block
    assert f"    baseline {STACK}-app-baseline;" in block
    assert f"    default {STACK}-app-green;" in block


def test_a_split_without_slots_has_no_backend_map_and_reads_as_the_old_names() -> None:
    plain = render_split(ENV, Weights(10))  # the vm target's split: its nginx.conf maps the tracks itself
    assert "pl_backend" not in plain and parse_slots(plain) is None
    assert slots_in(plain) == LEGACY_SLOTS  # an edge from before slots routed to app-stable and app-canary
    assert slots_in("") == FRESH_SLOTS


def test_nginx_conf_takes_the_backend_from_the_split() -> None:
    conf = render_nginx_conf(ENV)
    assert "proxy_pass http://$pl_backend:8000;" in conf
    assert "map $pl_route" not in conf.split("include")[0]
    assert "$pl_upstream" not in conf  # defined in split.conf now: one reload swaps roles and weights


def test_swapping_twice_is_where_we_started_and_slots_are_checked() -> None:
    assert FRESH_SLOTS.swapped() == Slots("green", "blue")
    assert FRESH_SLOTS.swapped().swapped() == FRESH_SLOTS
    assert FRESH_SLOTS.track_of("green") == "canary" and FRESH_SLOTS.track_of("baseline") == "baseline"
    assert FRESH_SLOTS.track_of("red") is None
    with pytest.raises(UserError):
        Slots("blue", "blue")
    with pytest.raises(UserError):
        Slots("blue", "x;y")


# --- the watchdog keeps the slots when it resets the weights -------------------------------
@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")
def test_the_watchdog_resets_the_weights_and_keeps_the_slots(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    split = render_split(ENV, Weights(30, 30), Slots("green", "blue"))
    (conf / "split.conf").write_text(split)
    (conf / "lease").write_text("1000")  # long expired
    applied = tmp_path / "applied"
    # a stand-in for edge-apply: it records what it was given and stops the loop
    (bin_dir / "edge-apply").write_text(f"#!/bin/sh\ncat > {applied}\nkill $PPID\n")
    (bin_dir / "edge-apply").chmod(0o755)
    script = (ROOT / "images/edge/edge-watchdog").read_text().replace("dir=/etc/nginx/pipeline", f"dir={conf}")
    subprocess.run(
        ["sh", "-c", script],
        env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"},
        timeout=20,
        check=False,
        capture_output=True,
    )
    reset = applied.read_text()
    assert parse_weights(reset) == Weights(0, 0)
    assert parse_slots(reset) == Slots("green", "blue")  # stable stays on green: no swap behind our back
    assert reset.count("map $pl_route $pl_backend {") == 1
    assert f"    default {STACK}-app-green;" in reset
    assert reset.rstrip().endswith('split_clients "$request_id" $pl_track {\n    * stable;\n}')


# --- the local target: promote and revert are swaps ------------------------------------------
@dataclass
class Engine:
    """Just enough of the engine and the edge for promote/revert: services, labels, split.conf."""

    split: str
    services: dict[str, dict[str, object]] = field(default_factory=dict)
    applied: list[str] = field(default_factory=list)

    def answer(self, command: Command) -> Result:
        argv = command.argv
        if argv[:3] == ("docker", "service", "ls"):
            rows = [{"Name": n, "Replicas": f"{s['replicas']}/{s['replicas']}"} for n, s in self.services.items()]
            return Result(0, "".join(json.dumps(r) + "\n" for r in rows))
        if argv[:3] == ("docker", "service", "inspect"):
            found = [
                {"Spec": {"Labels": dict(self.services[n]["labels"]), "Mode": {"Replicated": {"Replicas": 1}}}}  # type: ignore[call-overload]
                for n in argv[3:]
                if n in self.services
            ]
            return Result(0 if found else 1, json.dumps(found))
        if argv[:3] == ("docker", "service", "update"):
            name = argv[-1]
            labels = self.services[name]["labels"]
            assert isinstance(labels, dict)
            for i, arg in enumerate(argv):
                if arg == "--label-add":
                    key, _, value = argv[i + 1].partition("=")
                    labels[key] = value
                if arg == "--label-rm":
                    labels.pop(argv[i + 1])
                if arg == "--replicas":
                    self.services[name]["replicas"] = int(argv[i + 1])
            assert "--image" not in argv, "a swap starts no new tasks"
            return Result(0)
        if argv[:3] == ("docker", "service", "scale"):
            name, _, count = argv[3].partition("=")
            self.services[name]["replicas"] = int(count)
            return Result(0)
        if argv[:2] == ("docker", "exec") and "edge-apply" in argv:
            self.split = command.stdin or ""
            self.applied.append(self.split)
            return Result(0)
        if argv[:2] == ("docker", "exec") and argv[-1].endswith("split.conf"):
            return Result(0, self.split)
        if argv[:2] == ("docker", "exec") and "edge-ready" in argv:
            return Result(0, "".join(self._ready(pair) for pair in argv[argv.index("edge-ready") + 3 :]))
        if argv[:3] == ("docker", "config", "inspect"):
            return Result(1, "", "no such config")
        if argv[:3] == ("docker", "container", "inspect"):
            return Result(0, json.dumps([{"State": {"Running": True}}]))
        return Result(0)

    def _ready(self, pair: str) -> str:
        track, _, service = pair.partition("=")
        count = int(self.services.get(service, {}).get("replicas", 0))  # type: ignore[call-overload]
        return "".join(f"{track}\t10.0.0.{i}\t200\tok\n" for i in range(count))


def app(version: str, track: str, replicas: int, **labels: str) -> dict[str, object]:
    return {"replicas": replicas, "labels": {"pipeline.version": version, "pipeline.track": track, **labels}}


def local(engine: Engine, tmp_path: Path) -> tuple[LocalTarget, FakeExecutor]:
    fake = FakeExecutor()
    for prefix in (("docker",),):
        fake.on(*prefix, result=engine.answer)
    return LocalTarget(ENV, fake, Project(ROOT, tmp_path), lambda _m: None), fake


def walking(tmp_path: Path) -> tuple[Engine, LocalTarget, FakeExecutor]:
    """Stable v1 on blue (2 tasks), the canary v2 on green (1 task), at the last step with a baseline."""
    engine = Engine(
        render_split(ENV, Weights(50, 50), FRESH_SLOTS),
        {
            f"{STACK}-app-blue": app("v1", "stable", 2),
            f"{STACK}-app-green": app("v2", "canary", 1, **{DEPLOY_LABEL: "7"}),
            f"{STACK}-app-baseline": app("v1", "baseline", 1),
        },
    )
    target, fake = local(engine, tmp_path)
    return engine, target, fake


def test_promotion_swaps_the_judged_tasks_in_with_one_reload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.sleep", lambda _s: None)
    ticks = itertools.count(step=1.0)
    monkeypatch.setattr("time.monotonic", lambda: next(ticks))
    engine, target, fake = walking(tmp_path)
    target.promote("v2", "v1")
    # one edge-apply swapped the roles; the canary's slot was told to grow to stable's size, and until
    # its new task is ready the previous release keeps the share that task will carry (1 of 2: 50 %)
    assert len(engine.applied) == 1
    assert parse_slots(engine.applied[0]) == Slots("green", "blue")
    assert parse_weights(engine.applied[0]) == Weights(50, 0)  # canary (now the previous release) 50 %, baseline 0
    assert engine.services[f"{STACK}-app-green"]["replicas"] == 2
    # nothing rolled out: no service got a new image (Engine asserts it) and none was created
    assert not [c for c in fake.mutating() if c.argv[:3] == ("docker", "service", "create")]
    green = engine.services[f"{STACK}-app-green"]["labels"]
    blue = engine.services[f"{STACK}-app-blue"]["labels"]
    assert green == {"pipeline.version": "v2", "pipeline.track": "stable", PREVIOUS_LABEL: "v1"}  # type: ignore[comparison-overlap]
    assert blue == {"pipeline.version": "v1", "pipeline.track": "canary", WARM_LABEL: "previous"}  # type: ignore[comparison-overlap]
    assert engine.services[f"{STACK}-app-blue"]["replicas"] == 2  # the previous release stays, warm, at full size
    # settled once every new stable task has answered /readyz for a DNS TTL: then the share goes to 0
    assert target.settle() is False  # ready just now: the edge may not resolve the new task yet
    assert target.settle() is True
    assert len(engine.applied) == 2 and parse_weights(engine.applied[1]) == Weights(0, 0)
    assert parse_slots(engine.applied[1]) == Slots("green", "blue")
    assert target.settle() is True and len(engine.applied) == 2  # nothing more to do
    status = target.status()
    assert status.tracks["stable"].version == "v2" and status.tracks["stable"].service == f"{STACK}-app-green"
    assert status.tracks["canary"].version == "v1" and status.canary_state == "warm-previous"


def test_a_hand_over_waits_for_every_new_task_to_be_ready(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.sleep", lambda _s: None)
    engine, target, _ = walking(tmp_path)
    target.promote("v2", "v1")
    ready = engine._ready
    engine._ready = lambda pair: ready(pair).replace("10.0.0.1\t200", "10.0.0.1\t503", 1)  # type: ignore[method-assign]
    assert [target.settle() for _ in range(5)] == [False] * 5
    assert parse_weights(engine.split) == Weights(50, 0)  # the previous release keeps its share meanwhile


def test_a_hand_over_settles_on_the_controllers_probes_and_reads_the_edge_only_when_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.targets.base import TaskReadiness

    monkeypatch.setattr("time.sleep", lambda _s: None)
    ticks = itertools.count(step=1.0)
    monkeypatch.setattr("time.monotonic", lambda: next(ticks))
    engine, target, fake = walking(tmp_path)
    target.promote("v2", "v1")
    before = len(fake.calls)
    starting = [TaskReadiness("stable", "10.0.0.1", 200, "ok"), TaskReadiness("stable", "10.0.0.2", 503, "starting")]
    assert target.settle(starting) is False
    looked = [c.description for c in fake.calls[before:]]
    # one read of the services; neither a probe of its own nor a read of the edge's split.conf
    assert not any("readyz" in d or "split.conf" in d for d in looked), looked
    ready = [TaskReadiness("stable", f"10.0.0.{i}", 200, "ok") for i in (1, 2)]
    assert target.settle(ready) is False  # ready just now: a DNS TTL first
    assert target.settle(ready) is True and parse_weights(engine.split) == Weights(0, 0)
    assert target.settle(ready) is True and len(engine.applied) == 2  # settled: nothing more to do


def test_with_no_previous_release_the_canary_grows_before_the_swap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.sleep", lambda _s: None)
    engine, target, _ = walking(tmp_path)
    target.promote("v2", None)
    assert engine.services[f"{STACK}-app-green"]["replicas"] == 2
    assert len(engine.applied) == 1 and parse_weights(engine.applied[0]) == Weights(0, 0)
    assert target.settle() is True


def test_a_revert_during_the_bake_is_one_swap_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.sleep", lambda _s: None)
    engine, target, _ = walking(tmp_path)
    target.promote("v2", "v1")
    later, _ = local(engine, tmp_path)  # another process (`pipeline rollback`) reads the slots from the edge
    later.revert_to_previous("v1")
    assert len(engine.applied) == 2
    assert parse_slots(engine.applied[1]) == FRESH_SLOTS and parse_weights(engine.applied[1]) == Weights(0)
    assert engine.services[f"{STACK}-app-blue"]["replicas"] == 2  # its warm tasks took all traffic
    assert engine.services[f"{STACK}-app-green"]["replicas"] == 0  # the failed release is gone
    assert WARM_LABEL not in engine.services[f"{STACK}-app-blue"]["labels"]  # type: ignore[operator]
    assert later.status().tracks["stable"].version == "v1"


def test_a_canary_without_tasks_is_promoted_by_a_rollout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.sleep", lambda _s: None)
    engine, target, _ = walking(tmp_path)
    engine.services[f"{STACK}-app-green"]["replicas"] = 0
    calls: list[tuple[str, str]] = []
    monkeypatch.setattr(target, "deploy_track", lambda track, version, **_k: calls.append((track, version)))
    target.promote("v2", "v1")
    assert calls == [("stable", "v2"), ("canary", "v1")]  # the old way: nothing judged is left to take over
    assert parse_slots(engine.split) == FRESH_SLOTS  # no swap


def test_the_slots_come_from_the_labels_when_the_edge_is_away(tmp_path: Path) -> None:
    engine = Engine(
        "",
        {f"{STACK}-app-green": app("v2", "stable", 2), f"{STACK}-app-blue": app("v1", "canary", 0)},
    )
    target, fake = local(engine, tmp_path)
    fake.on("docker", "exec", result=Result(1, "", "no such container"))
    assert target.slots() == Slots("green", "blue")
    assert target.track_service("stable") == f"{STACK}-app-green"
