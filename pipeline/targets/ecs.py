"""The ``ecs`` target: an ECS Fargate service per track behind one ALB listener with weighted target groups.

Provisioned by Pulumi (``environments/aws-ecs/``, ``pipeline provision``); this module only
releases onto it, through :class:`~pipeline.commands.aws.AwsCall` values and one executor:

- deploy: register a task definition for the version, point the track's service at it, wait
  until its tasks run; the release and its labels are tags on the service (the target is the
  source of truth);
- weights: the listener's default action forwards to both target groups with weights;
- metrics: CloudWatch per target group (:class:`~pipeline.analysis.cloudwatch.CloudWatchSource`);
- lock, lease and operator commands: tags on the load balancer. Unlike the local edge there is
  no watchdog: a lost controller leaves its weight until ``pipeline canary abort``.

Before anything: credentials and region (exit 81), then the identity guard (exit 82).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from pipeline.analysis.cloudwatch import CloudWatchSource
from pipeline.commands.aws import AwsCall, AwsExecutor, guard_account
from pipeline.edge import Weights
from pipeline.environment import Environment, kinds
from pipeline.environment.ecs import Ecs, EcsNames
from pipeline.environment.model import Faults
from pipeline.errors import Locked, NotReady, UnknownVersion, UserError
from pipeline.observability.logs import LogFeed, LogQuery, source_tail
from pipeline.records.lock import LockInfo
from pipeline.targets.base import TRACKS, Status, TaskReadiness, TrackName, TrackPlan, TrackStatus

VERSION_TAG = "pipeline.version"
LOCK_TAG = "pipeline.lock"
LEASE_TAG = "pipeline.lease"
COMMAND_TAG = "pipeline.command"
CONTAINER = "app"


def encode_lock(info: LockInfo) -> str:
    """A lock as an ELB tag value: base64 (tag values allow only letters, digits and ``_.:/=+-@``), at most 256 chars."""
    reason = info.reason
    while True:
        text = base64.b64encode(replace(info, reason=reason).to_json().encode()).decode()
        if len(text) <= 256 or not reason:
            return text
        reason = reason[: len(reason) // 2]


def decode_lock(value: str) -> LockInfo:
    return LockInfo.from_json(base64.b64decode(value).decode())


def ecs_section(env: Environment) -> Ecs:
    """The environment's ecs: section, or one line saying it is missing."""
    return kinds.section_of(env.name, "ecs", env.ecs)


class EcsTarget:
    def __init__(self, env: Environment, ex: AwsExecutor, say: Callable[[str], None], poll_seconds: float = 2.0) -> None:
        self.env = env
        self.ecs = ecs_section(env)
        self.names: EcsNames = self.ecs.names(env.stack)
        self.ex = ex
        self.say = say
        self.poll_seconds = poll_seconds
        self._arns: dict[str, str] = {}
        self._checked = False

    # --- reads ----------------------------------------------------------------------
    def check(self) -> None:
        """The identity guard, once: the credentials' account must be env.yaml's account_id."""
        if not self._checked:
            guard_account(self.ex, self.ecs.account_id, self.env.name)
            self._checked = True

    def _read(self, api: str, operation: str, /, **params: Any) -> dict[str, Any]:
        return self.ex.call(AwsCall(api, operation, params, mutates=False))

    def _change(self, api: str, operation: str, description: str, /, **params: Any) -> dict[str, Any]:
        self.check()
        return self.ex.call(AwsCall(api, operation, params, mutates=True, description=description))

    def arn(self, what: str) -> str:
        """ARNs of the load balancer, its splitting listener and both target groups, looked up once."""
        if what not in self._arns:
            self.check()
            lbs = self._read("elbv2", "describe_load_balancers", Names=[self.names.load_balancer])["LoadBalancers"]
            lb = lbs[0]
            self._arns["lb"] = lb["LoadBalancerArn"]
            self._arns["dns"] = lb.get("DNSName", "")
            listeners = self._read("elbv2", "describe_listeners", LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
            match = [x for x in listeners if x["Port"] == self.ecs.listener_port]
            if not match:
                raise NotReady(
                    f"load balancer {self.names.load_balancer} has no listener on port {self.ecs.listener_port}",
                    hint="run `make provision ENV=...`, or set ecs.listener_port",
                )
            self._arns["listener"] = match[0]["ListenerArn"]
            groups = self._read("elbv2", "describe_target_groups", Names=[self.names.stable, self.names.canary])["TargetGroups"]
            for group in groups:
                track = "stable" if group["TargetGroupName"] == self.names.stable else "canary"
                self._arns[f"tg-{track}"] = group["TargetGroupArn"]
        return self._arns[what]

    def _service(self, track: TrackName) -> dict[str, Any]:
        found = self._read(
            "ecs", "describe_services", cluster=self.names.cluster, services=[self.names.track(track)], include=["TAGS"]
        )
        services: list[dict[str, Any]] = [s for s in found.get("services", []) if s.get("status") != "INACTIVE"]
        if not services:
            raise NotReady(
                f"ECS service {self.names.track(track)} not found in cluster {self.names.cluster}",
                hint="run `make provision ENV=...`",
            )
        return services[0]

    def track_labels(self, track: TrackName) -> dict[str, str]:
        return {str(t["key"]): str(t["value"]) for t in self._service(track).get("tags", [])}

    def _lb_tags(self) -> dict[str, str]:
        described = self._read("elbv2", "describe_tags", ResourceArns=[self.arn("lb")])["TagDescriptions"]
        return {t["Key"]: t["Value"] for t in described[0].get("Tags", [])} if described else {}

    def weights(self) -> Weights | None:
        listener = self._read("elbv2", "describe_listeners", ListenerArns=[self.arn("listener")])["Listeners"][0]
        for action in listener.get("DefaultActions", []):
            groups = (action.get("ForwardConfig") or {}).get("TargetGroups", [])
            by_arn = {g["TargetGroupArn"]: int(g.get("Weight", 0)) for g in groups}
            total = sum(by_arn.values())
            if total:
                return Weights(round(100 * by_arn.get(self.arn("tg-canary"), 0) / total))
            if action.get("TargetGroupArn") == self.arn("tg-stable"):
                return Weights(0)
        return None

    def require_version(self, version: str) -> str:
        """The image of ``version``; checked in the ECR repository when one is configured."""
        image = f"{self.env.image.registry}/{self.env.image.name}:{version}"
        if self.ecs.ecr_repository:
            from pipeline.errors import CommandFailed

            try:
                found = self._read(
                    "ecr", "describe_images", repositoryName=self.ecs.ecr_repository, imageIds=[{"imageTag": version}]
                )
            except CommandFailed as exc:
                raise UnknownVersion(
                    f"version '{version}' is not in ECR repository {self.ecs.ecr_repository}", hint="build and push it first"
                ) from exc
            if not found.get("imageDetails"):
                raise UnknownVersion(
                    f"version '{version}' is not in ECR repository {self.ecs.ecr_repository}", hint="build and push it first"
                )
        return image

    def versions(self) -> list[str]:
        if not self.ecs.ecr_repository:
            return []
        images = self._read("ecr", "describe_images", repositoryName=self.ecs.ecr_repository).get("imageDetails", [])
        return sorted({t for image in images for t in image.get("imageTags", [])})

    def traffic_url(self) -> str:
        self.arn("lb")
        return f"https://{self._arns.get('dns', '')}"

    def status(self) -> Status:
        tracks: dict[str, TrackStatus] = {}
        for track in TRACKS:
            service = self._service(track)
            version = {t["key"]: t["value"] for t in service.get("tags", [])}.get(VERSION_TAG)
            desired = int(service.get("desiredCount", 0))
            tracks[track] = TrackStatus(track, version if desired else None, desired, int(service.get("runningCount", 0)))
        tags = self._lb_tags()
        lock = decode_lock(tags[LOCK_TAG]).as_dict() if tags.get(LOCK_TAG) else None
        weights = self.weights()
        state = (
            "running"
            if tracks["canary"].desired and lock
            else ("orphaned" if tracks["canary"].desired and weights and weights.canary else "idle")
        )
        if tracks["canary"].desired and self.track_labels("canary").get("pipeline.warm") == "previous":
            state = "warm-previous"
        self.arn("lb")
        return Status(
            environment=self.env.name,
            kind="ecs",
            url=f"https://{self._arns.get('dns', '')}/",
            edge_running=True,
            weights=weights,
            tracks=tracks,
            canary_state=state,
            lock=lock,
            lease=self.lease(),
        )

    # --- changes ----------------------------------------------------------------------
    def task_definition(self, track: TrackName, version: str, faults: Faults | None) -> dict[str, Any]:
        env = {
            **self.env.observability.app_env(self.env.name),
            **self.env.app.env,
            "APP_TRACK": track,
            "APP_VERSION": version,
            **(faults or Faults()).as_env(),
        }
        definition: dict[str, Any] = {
            "family": self.names.track(track),
            "requiresCompatibilities": ["FARGATE"],
            "networkMode": "awsvpc",
            "cpu": str(self.ecs.cpu),
            "memory": str(self.ecs.memory_mb),
            "containerDefinitions": [
                {
                    "name": CONTAINER,
                    "image": self.require_version(version),
                    "essential": True,
                    "portMappings": [{"containerPort": self.env.app.port, "protocol": "tcp"}],
                    "environment": [{"name": k, "value": v} for k, v in sorted(env.items())],
                    "stopTimeout": min(120, self.env.app.stop_grace_seconds),
                    "logConfiguration": {
                        "logDriver": "awslogs",
                        "options": {
                            "awslogs-group": self.names.log_group,
                            "awslogs-region": self.ecs.region,
                            "awslogs-stream-prefix": track,
                        },
                    },
                }
            ],
            "tags": [{"key": VERSION_TAG, "value": version}, {"key": "pipeline.env", "value": self.env.name}],
        }
        if self.ecs.execution_role_arn:
            definition["executionRoleArn"] = self.ecs.execution_role_arn
        if self.ecs.task_role_arn:
            definition["taskRoleArn"] = self.ecs.task_role_arn
        return definition

    def deploy_track(
        self,
        track: TrackName,
        version: str,
        faults: Faults | None = None,
        labels: dict[str, str] | None = None,
        timeout: float = 300.0,
    ) -> None:
        replicas = max(1, getattr(self.env.tracks, track).replicas)
        registered = self._change(
            "ecs",
            "register_task_definition",
            f"task definition for {track} {version}",
            **self.task_definition(track, version, faults),
        )
        arn = registered.get("taskDefinition", {}).get("taskDefinitionArn", f"{self.names.track(track)}")
        self._change(
            "ecs",
            "update_service",
            f"{track} -> {version}",
            cluster=self.names.cluster,
            service=self.names.track(track),
            taskDefinition=arn,
            desiredCount=replicas,
        )
        self.label_track(
            track,
            {VERSION_TAG: version, **(labels or {})},
            remove=("pipeline.warm",) if not labels or "pipeline.warm" not in labels else (),
        )
        self.wait_running(track, replicas, timeout)

    def deploy_tracks(self, plans: list[TrackPlan], timeout: float = 300.0) -> None:
        """One track after another (ECS has no baseline target group yet: see ``check``)."""
        for plan in plans:
            self.deploy_track(plan.track, plan.version, plan.faults, plan.labels, timeout=timeout)
            if plan.replicas is not None and plan.replicas > max(1, getattr(self.env.tracks, plan.track).replicas):
                self.scale_track(plan.track, plan.replicas)

    def readiness(self, tracks: tuple[str, ...]) -> list[TaskReadiness]:
        """ECS's answer to readiness: the health of each target in the track's target group (the ALB
        checks the app's health path; a target that is not ``healthy`` gets no traffic from it)."""
        probes = []
        for track in tracks:
            if track not in ("stable", "canary"):
                continue
            found = self._read("elbv2", "describe_target_health", TargetGroupArn=self.arn(f"tg-{track}"))
            if not found.get("TargetHealthDescriptions"):
                probes += self._task_readiness(track)
                continue
            for target in found.get("TargetHealthDescriptions", []):
                health = target.get("TargetHealth", {})
                state = str(health.get("State", "unknown"))
                where = f"{target.get('Target', {}).get('Id', '?')}:{target.get('Target', {}).get('Port', '')}"
                why = " ".join(str(health.get(k, "")) for k in ("Reason", "Description")).strip()
                probes.append(TaskReadiness(track, where, 200 if state == "healthy" else 503, f"{state} {why}".strip()))
        return probes

    def _task_readiness(self, track: str) -> list[TaskReadiness]:
        """A track whose tasks are registered with no target group (yet): ECS's own view of each task,
        running and not unhealthy by its container health check."""
        service = self.names.track(track)  # type: ignore[arg-type]
        arns = self._read("ecs", "list_tasks", cluster=self.names.cluster, serviceName=service).get("taskArns", [])
        if not arns:  # no task is listed (yet): the service's own count of running tasks is all ECS says
            running = int(self._service(track).get("runningCount", 0))  # type: ignore[arg-type]
            return [TaskReadiness(track, f"{service}#{i + 1}", 200, "RUNNING (service count)") for i in range(running)]
        tasks = self._read("ecs", "describe_tasks", cluster=self.names.cluster, tasks=arns).get("tasks", [])
        out = []
        for task in tasks:
            state, health = str(task.get("lastStatus", "")), str(task.get("healthStatus", "UNKNOWN"))
            ok = state == "RUNNING" and health != "UNHEALTHY"
            task_id = str(task.get("taskArn", "?")).rsplit("/", 1)[-1]
            out.append(TaskReadiness(track, task_id, 200 if ok else 503, f"{state} {health}"))
        return out

    def wait_running(self, track: TrackName, replicas: int, timeout: float) -> None:
        if self.ex.dry_run:
            return
        deadline = time.monotonic() + timeout
        while True:
            service = self._service(track)
            running = int(service.get("runningCount", 0))
            # a rolling update is over when one deployment is left (ECS drains the old one)
            if running >= replicas and len(service.get("deployments", [])) <= 1:
                return
            if time.monotonic() >= deadline:
                raise NotReady(
                    f"{self.names.track(track)}: {running}/{replicas} tasks running after {timeout:.0f} s", hint="see `make logs`"
                )
            time.sleep(self.poll_seconds)

    def remove_track(self, track: TrackName, wait: bool = True) -> None:
        """No tasks on the track (ECS drains them behind the target group; nothing to wait for here)."""
        self._change(
            "ecs",
            "update_service",
            f"{track}: no tasks",
            cluster=self.names.cluster,
            service=self.names.track(track),
            desiredCount=0,
        )
        self.label_track(track, {}, remove=(VERSION_TAG, "pipeline.warm", "pipeline.deploy"))

    def scale_track(self, track: TrackName, replicas: int) -> None:
        self._change(
            "ecs",
            "update_service",
            f"{track}: {replicas} tasks",
            cluster=self.names.cluster,
            service=self.names.track(track),
            desiredCount=replicas,
        )

    def label_track(self, track: TrackName, add: dict[str, str], remove: tuple[str, ...] = ()) -> None:
        arn = self._service(track)["serviceArn"]
        gone = [k for k in remove if k not in add]
        if gone:
            self._change("ecs", "untag_resource", f"{track}: untag", resourceArn=arn, tagKeys=gone)
        if add:
            self._change(
                "ecs", "tag_resource", f"{track}: tag", resourceArn=arn, tags=[{"key": k, "value": v} for k, v in add.items()]
            )

    def set_weights(self, weights: Weights, lease_until: float | None = None) -> None:
        canary = weights.canary
        groups = [
            {"TargetGroupArn": self.arn("tg-stable"), "Weight": 100 - canary},
            {"TargetGroupArn": self.arn("tg-canary"), "Weight": canary},
        ]
        self._change(
            "elbv2",
            "modify_listener",
            f"weights: canary {canary} %",
            ListenerArn=self.arn("listener"),
            DefaultActions=[
                {"Type": "forward", "ForwardConfig": {"TargetGroups": groups, "TargetGroupStickinessConfig": {"Enabled": False}}}
            ],
        )
        self.renew_lease(lease_until if canary else None)

    def _tag_lb(self, key: str, value: str | None) -> None:
        if value is None:
            self._change("elbv2", "remove_tags", f"untag {key}", ResourceArns=[self.arn("lb")], TagKeys=[key])
        else:
            self._change("elbv2", "add_tags", f"tag {key}", ResourceArns=[self.arn("lb")], Tags=[{"Key": key, "Value": value}])

    def renew_lease(self, until: float | None) -> None:
        self._tag_lb(LEASE_TAG, f"{until:.0f}" if until else None)

    def lease(self) -> float | str | None:
        value = self._lb_tags().get(LEASE_TAG)
        return float(value) if value else None

    def send_command(self, command: str) -> None:
        self._tag_lb(COMMAND_TAG, command)

    def take_command(self) -> str | None:
        command = self._lb_tags().get(COMMAND_TAG)
        if command:
            self.clear_command()
        return command or None

    def clear_command(self) -> None:
        self._tag_lb(COMMAND_TAG, None)

    def log_reader(self) -> Callable[[int], bytes]:
        """There is no edge log on ECS: the canary reads CloudWatch (``metrics_source``)."""
        return lambda _offset: b""

    def log_size(self) -> int:
        return 0

    def metrics_source(self) -> CloudWatchSource:
        return CloudWatchSource(
            self.ex,
            self.arn("lb"),
            {"stable": self.arn("tg-stable"), "canary": self.arn("tg-canary")},
            period=self.ecs.metrics_period_seconds,
            latency_stats=list(self.ecs.latency_stats),
        )

    def promote(self, version: str, previous: str | None) -> None:
        """The new version becomes stable; the previous one is kept warm on the canary track at weight 0."""
        self.deploy_track("stable", version, labels={"pipeline.previous": previous} if previous else None)
        self.set_weights(Weights(0))
        if previous:
            self.deploy_track("canary", previous, faults=self.env.tracks.stable.faults, labels={"pipeline.warm": "previous"})
        else:
            self.remove_track("canary")

    def settle(self, probes: list[TaskReadiness] | None = None) -> bool:
        """An ecs promotion is settled when ``promote`` returns (ECS rolled stable, the ALB weights moved)."""
        return True

    def revert_to_previous(self, previous: str) -> None:
        """Back to the previous release: its warm tasks take all traffic at once, then stable follows."""
        warm = self.track_labels("canary").get("pipeline.warm") == "previous"
        if warm and int(self._service("canary").get("runningCount", 0)) > 0:
            self.set_weights(Weights(100), lease_until=time.time() + 600)
        self.deploy_track("stable", previous)
        self.label_track("stable", {}, remove=("pipeline.previous",))
        self.set_weights(Weights(0))
        self.remove_track("canary")

    def read_lock(self) -> LockInfo | None:
        value = self._lb_tags().get(LOCK_TAG)
        return decode_lock(value) if value else None

    def acquire_lock(self, info: LockInfo) -> None:
        held = self.read_lock()
        if held is not None:
            raise Locked(f"{self.env.name} is locked: {held.describe()}", hint=f"wait, or `pipeline lock break {self.env.name}`")
        self._tag_lb(LOCK_TAG, encode_lock(info))

    def release_lock(self) -> None:
        self._tag_lb(LOCK_TAG, None)

    def up(self) -> None:
        """Provisioning is Pulumi's (``make provision``): here only check that everything is there."""
        self.check()
        for track in TRACKS:
            self._service(track)
        self.arn("listener")
        self.say(f"{self.env.name}: cluster {self.names.cluster}, services and listener found")

    def down(self, volumes: bool = False) -> None:
        self.set_weights(Weights(0))
        for track in TRACKS:
            self.remove_track(track)

    def logs(self, service: str, tail: int, follow: bool) -> None:
        if service not in ("app-stable", "app-canary"):
            raise UserError(
                f"--service {service}: the ecs target has only app-stable and app-canary", hint="--service app-canary"
            )
        events = self._read(
            "logs",
            "filter_log_events",
            logGroupName=self.names.log_group,
            logStreamNamePrefix=service.removeprefix("app-"),
            limit=tail,
        ).get("events", [])
        for event in events:
            print(event.get("message", ""))

    def read_logs(self, parts: Sequence[str], query: LogQuery) -> list[LogFeed]:
        """The app tracks' events in CloudWatch Logs in the query's window (one page of at most
        10 000 per track, the newest ``tail`` when that suffices); the edge is the ALB: no log here."""
        feeds = [LogFeed(p, "cloudwatch", error="the ecs target's logs are its app tracks' (CloudWatch)")
                 for p in parts if p not in ("app-stable", "app-canary")]  # fmt: skip
        window: dict[str, Any] = {}
        if query.since is not None:
            window["startTime"] = query.since // 1_000_000
        if query.until is not None:
            window["endTime"] = query.until // 1_000_000
        for part in [p for p in parts or ("app-stable", "app-canary") if p in ("app-stable", "app-canary")]:
            events = self._read(
                "logs", "filter_log_events", logGroupName=self.names.log_group,
                logStreamNamePrefix=part.removeprefix("app-"), limit=min(source_tail(query) or 10_000, 10_000), **window,
            ).get("events", [])  # fmt: skip
            feeds.append(LogFeed(part, "cloudwatch", "\n".join(json.dumps(e, default=str) for e in events)))
        return feeds


def ecs_target(env: Environment, ex: Any, say: Callable[[str], None]) -> EcsTarget:
    """The target for the CLI: credentials and region first (exit 81), a printing executor for a dry run."""
    from pipeline.commands.aws import Boto3Executor, DryRunAwsExecutor, require_credentials

    section = ecs_section(env)
    require_credentials(section.region)
    aws: AwsExecutor = Boto3Executor(section.region)
    if getattr(ex, "dry_run", False):
        aws = DryRunAwsExecutor(aws, getattr(ex, "printer", print))
    return EcsTarget(env, aws, say)
