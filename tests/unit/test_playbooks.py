"""Static checks of playbooks/: the roles keep their shape and their promises."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[2] / "playbooks" / "roles"
NAMES = ["common", "nginx", "certbot", "app", "postgresql", "redis"]


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
    assert "--server {{ certbot_server }}" in timer and "--no-random-sleep-on-renew" in timer


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
