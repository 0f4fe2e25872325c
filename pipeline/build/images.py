"""The base image (debootstrap + docker import, or a public one) and the images of the stack's parts."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from pipeline.commands import Command, docker
from pipeline.commands.executor import Executor
from pipeline.engine import apt_install, can_install
from pipeline.environment import Environment
from pipeline.errors import EngineUnavailable
from pipeline.project import Project

Say = Callable[[str], None]
BASE_PACKAGES = ("python3", "ca-certificates", "tini")
SERVICE_IMAGES = ("edge", "postgres", "redis")


def host_mirror(sources: Path = Path("/etc/apt")) -> str | None:
    """The Debian mirror this host's apt already uses, so debootstrap goes the same way."""
    found: list[str] = []
    for path in sorted(sources.glob("sources.list.d/*.sources")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("URIs:"):
                found += line.split()[1:]
    legacy = sources / "sources.list"
    if legacy.exists():
        for line in legacy.read_text(encoding="utf-8", errors="replace").splitlines():
            match = re.match(r"\s*deb\s+(?:\[[^]]*\]\s+)?(\S+)", line)
            if match:
                found.append(match.group(1))
    for uri in found:
        if uri.startswith("http") and "security" not in uri and uri.rstrip("/").endswith("debian"):
            return uri
    return None


def public_base(env: Environment) -> str | None:
    """A public base image, from ``BASE_IMAGE`` (e.g. ``make demo BASE_IMAGE=debian:bookworm-slim``) or env.yaml."""
    return os.environ.get("BASE_IMAGE") or env.image.base


def base_ref(env: Environment) -> str:
    return public_base(env) or f"pipeline/base:{env.image.suite}"


def debootstrap_commands(project: Project, suite: str, ref: str, mirror: str | None) -> list[Command]:
    rootfs = project.state / "base" / "rootfs"
    tarball = project.state / "base" / "rootfs.tar"
    argv = ["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}", suite, str(rootfs)]
    if mirror:
        argv.append(mirror)
    return [
        Command(("rm", "-rf", str(rootfs)), description="clear an unfinished base root"),
        Command(tuple(argv), description=f"debootstrap Debian {suite} (minbase)", timeout=1800),
        Command(
            ("tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(tarball), "."),
            description="pack the base root",
            timeout=600,
        ),
        docker.import_rootfs(str(tarball), ref),
        Command(("rm", "-rf", str(rootfs), str(tarball)), description="remove the base root"),
    ]


def ensure_base(ex: Executor, project: Project, env: Environment, say: Say) -> str:
    """The base image every image of the stack starts from; built once and reused."""
    ref = base_ref(env)
    if public_base(env):
        say(f"base image: {ref} (public; pulled by the build)")
        return ref
    if ex.run(docker.image_exists(ref)).ok:
        say(f"base image: {ref} (cached)")
        return ref
    if shutil.which("debootstrap") is None:
        if not can_install():
            raise EngineUnavailable(
                "debootstrap is missing", hint="apt-get install debootstrap, or set image.base to a public image"
            )
        for command in apt_install("debootstrap"):
            ex.run(command)
    say(f"base image: building {ref} with debootstrap (about a minute)")
    for command in debootstrap_commands(project, env.image.suite, ref, host_mirror()):
        ex.run(command)
    return ref


def _dir_digest(path: Path, extra: str) -> str:
    digest = hashlib.sha256(extra.encode())
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(path)).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()[:12]


def service_image_ref(project: Project, env: Environment, name: str, base_id: str) -> str:
    tag = _dir_digest(project.root / "images" / name, base_id)
    return f"{env.image.registry}/pipeline/{name}:{tag}"


def ensure_service_images(ex: Executor, project: Project, env: Environment, say: Say) -> dict[str, str]:
    """Build and push the edge, postgres and redis images (and Prometheus's, Alertmanager's and the
    exporters' when the environment watches itself) when their content changed."""
    base = ensure_base(ex, project, env, say)
    base_id = ex.run(docker.image_exists(base)).stdout.strip() or base
    refs: dict[str, str] = {}
    for name in (*SERVICE_IMAGES, *(["prometheus", "alertmanager", "exporters"] if env.observability.enabled else [])):
        ref = service_image_ref(project, env, name, base_id)
        refs[name] = ref
        if ex.run(docker.image_exists(ref)).ok:
            say(f"image {name}: {ref} (cached)")
        else:
            say(f"image {name}: building {ref}")
            ex.run(docker.build(str(project.root / "images" / name), ref, build_args={"BASE_IMAGE": base}))
        ex.run(docker.push(ref))
    return refs
