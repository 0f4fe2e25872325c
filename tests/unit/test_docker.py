from __future__ import annotations

from itertools import pairwise

from pipeline.commands.docker import Health, ServiceSpec, build


def spec(**kw: object) -> ServiceSpec:
    base: dict[str, object] = {
        "name": "pl-x-app-stable",
        "image": "127.0.0.1:5000/refapp:abc",
        "network": "pl-x-net",
        "replicas": 2,
        "env": {"A": "1", "B": "2"},
        "labels": {"pipeline.track": "stable"},
        "health": Health(cmd="python3 -m refapp.healthcheck"),
    }
    base.update(kw)
    return ServiceSpec(**base)  # type: ignore[arg-type]


def pairs(argv: tuple[str, ...]) -> set[tuple[str, str]]:
    return set(pairwise(argv))


def test_service_create_is_dnsrr_start_first_with_health() -> None:
    argv = spec().create().argv
    p = pairs(argv)
    assert argv[:3] == ("docker", "service", "create")
    assert ("--endpoint-mode", "dnsrr") in p
    assert ("--update-order", "start-first") in p
    assert ("--replicas", "2") in p
    assert ("--env", "A=1") in p
    assert ("--health-cmd", "python3 -m refapp.healthcheck") in p
    assert ("--label", "pipeline.track=stable") in p
    assert argv[-1] == "127.0.0.1:5000/refapp:abc"


def test_vip_endpoint_mode_for_real_clusters() -> None:
    assert ("--endpoint-mode", "vip") in pairs(spec(endpoint_mode="vip").create().argv)


def test_service_update_removes_stale_env_and_rolls_image() -> None:
    argv = spec(env={"A": "2"}).update(current_env={"A": "1", "OLD": "x"}).argv
    p = pairs(argv)
    assert ("--image", "127.0.0.1:5000/refapp:abc") in p
    assert ("--env-rm", "OLD") in p
    assert ("--env-add", "A=2") in p
    assert argv[-1] == "pl-x-app-stable"


def test_build_uses_classic_builder_and_sorted_args() -> None:
    command = build("ctx", "t:1", build_args={"B": "2", "A": "1"})
    assert command.env["DOCKER_BUILDKIT"] == "0"
    i = command.argv.index("--build-arg")
    assert command.argv[i : i + 4] == ("--build-arg", "A=1", "--build-arg", "B=2")


def test_service_secrets_are_mounted_files_and_reattached_on_update() -> None:
    from pipeline.commands.docker import SecretMount, ServiceSpec

    secret = SecretMount("st-db-password-abc", "db-password", uid=10001, gid=10001)
    spec = ServiceSpec(name="st-app", image="img:1", network="net", secrets=[secret])
    option = "source=st-db-password-abc,target=db-password,uid=10001,gid=10001,mode=0400"
    create = spec.create().argv
    assert create[create.index("--secret") + 1] == option
    update = spec.update(current_secrets=["st-db-password-old"]).argv
    pairs = [(a, b) for a, b in pairwise(update) if a.startswith("--secret")]
    assert pairs == [
        ("--secret-rm", "st-db-password-abc"),
        ("--secret-rm", "st-db-password-old"),
        ("--secret-add", option),
    ]
    job = spec.create_job(attempts=3).argv
    assert job[job.index("--mode") : job.index("--mode") + 2] == ("--mode", "replicated-job")
    assert "--update-order" not in job and job[job.index("--secret") + 1] == option


def test_secret_values_go_through_stdin_only() -> None:
    from pipeline.commands.docker import secret_create

    command = secret_create("st-key-1", "s3cr3t-value", {"pipeline.env": "x"})
    assert "s3cr3t-value" not in " ".join(command.argv) and command.stdin == "s3cr3t-value"
    assert command.secret_stdin and "s3cr3t" not in command.shell()
