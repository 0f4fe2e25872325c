"""Builders of the faults on a VM host (target kind ``vm``), as SSH ``Command`` values.

Nothing runs here. The app's instances are systemd units ``refapp-<track>@<port>``; the
certificate is certbot's lineage under ``/etc/letsencrypt`` and nginx's copy of it under
``/etc/nginx/pipeline/tls`` (the certbot role's deploy hook keeps the two in step). What a
certificate fault replaces is kept in ``BACKUP`` until its rollback puts it back.
"""

from __future__ import annotations

import shlex

from pipeline.commands import Command
from pipeline.commands.ssh import Login, remote

BACKUP = "/var/lib/pipeline/chaos/certificate"
TLS = "/etc/nginx/pipeline/tls"
RENEW_UNIT = "pl-certbot-renew.service"  # what the renewal timer starts (playbooks/roles/certbot)


def instances(login: Login, track: str) -> Command:
    """``UNIT MAINPID NRESTARTS`` of each active instance of a track, one per line."""
    pattern = shlex.quote(f"refapp-{track}@*.service")
    script = (
        f"for u in $(systemctl list-units --state=active --plain --no-legend {pattern} | cut -d' ' -f1); do "
        'echo "$u $(systemctl show -p MainPID --value "$u") $(systemctl show -p NRestarts --value "$u")"; done'
    )
    return remote(login, script, f"list the {track} track's instances", mutates=False, check=False, timeout=30)


def kill_instance(login: Login, unit: str) -> Command:
    """SIGKILL every process of one instance: no drain, no goodbye; systemd's Restart= brings it back."""
    return remote(login, f"sudo systemctl kill --signal=SIGKILL {shlex.quote(unit)}", f"SIGKILL {unit}", timeout=30)


def process_alive(login: Login, pid: int) -> Command:
    """Exit 0 while the process ``pid`` exists on the host."""
    return remote(login, f"sudo kill -0 {pid}", f"is process {pid} alive", mutates=False, check=False, timeout=30)


def near_expiry_certificate(login: Login, domain: str, days: int) -> Command:
    """Replace the certificate certbot last issued (and nginx's copy) by one for the same name and
    key that expires in ``days`` days, as if renewal had stalled, then reload nginx.

    The originals go to ``BACKUP`` first (never overwritten by a second run). The stand-in
    is self-signed: no ACME CA issues a certificate that expires in days on demand.
    """
    d = shlex.quote(domain)
    script = f"""set -eu
live=/etc/letsencrypt/live/{d}
cert=$(sudo readlink -f "$live/cert.pem"); full=$(sudo readlink -f "$live/fullchain.pem")
key=$(sudo readlink -f "$live/privkey.pem")
sudo mkdir -p {BACKUP}
if ! sudo test -e {BACKUP}/saved; then
  sudo cp -p "$cert" {BACKUP}/cert.pem; sudo cp -p "$full" {BACKUP}/fullchain.pem
  sudo cp -p {TLS}/fullchain.pem {BACKUP}/nginx-fullchain.pem
  printf '%s\\n%s\\n' "$cert" "$full" | sudo tee {BACKUP}/saved >/dev/null
fi
tmp=$(sudo mktemp -d)
sudo openssl req -x509 -new -key "$key" -subj "/CN={domain}" -addext "subjectAltName=DNS:{domain}" \\
  -days {days} -out "$tmp/cert.pem" 2>/dev/null
sudo cp "$tmp/cert.pem" "$cert"; sudo cp "$tmp/cert.pem" "$full"
sudo install -m 0644 "$tmp/cert.pem" {TLS}/fullchain.pem
sudo openssl x509 -in "$tmp/cert.pem" -noout -fingerprint -sha256 | sudo tee {BACKUP}/stand-in >/dev/null
sudo rm -rf "$tmp"
sudo nginx -t -q && sudo systemctl reload nginx
sudo openssl x509 -in {TLS}/fullchain.pem -noout -enddate
"""
    return remote(login, script, f"make the certificate of {domain} expire in {days} day(s)", timeout=60)


def run_renewal(login: Login) -> Command:
    """Start what the renewal timer starts, and wait for it (a oneshot): certbot decides itself."""
    script = f"sudo systemctl start {RENEW_UNIT}; rc=$?; sudo journalctl -u {RENEW_UNIT} -n 20 --no-pager -o cat; exit $rc"
    return remote(login, script, f"start {RENEW_UNIT} (the renewal timer's job)", check=False, timeout=300)


def restore_certificate(login: Login) -> Command:
    """Put back what :func:`near_expiry_certificate` replaced: the lineage's files always, nginx's
    copy only while it still is the stand-in (a renewal since then is kept). Nothing saved: nothing to do."""
    script = f"""set -eu
sudo test -e {BACKUP}/saved || {{ echo nothing-saved; exit 0; }}
cert=$(sudo sed -n 1p {BACKUP}/saved); full=$(sudo sed -n 2p {BACKUP}/saved)
sudo cp -p {BACKUP}/cert.pem "$cert"; sudo cp -p {BACKUP}/fullchain.pem "$full"
served=$(sudo openssl x509 -in {TLS}/fullchain.pem -noout -fingerprint -sha256)
if [ "$served" = "$(sudo cat {BACKUP}/stand-in 2>/dev/null)" ]; then
  sudo install -m 0644 {BACKUP}/nginx-fullchain.pem {TLS}/fullchain.pem
  sudo nginx -t -q && sudo systemctl reload nginx
  echo restored-nginx
fi
sudo rm -rf {BACKUP}
echo restored
"""
    return remote(login, script, "restore the certificate the fault replaced", timeout=60)


def instances_ready(login: Login, ports: list[int]) -> Command:
    """Exit 0 when every instance on ``ports`` answers ``/readyz`` on the host."""
    checks = " && ".join(f"curl -fsS -o /dev/null --max-time 5 http://127.0.0.1:{p}/readyz" for p in ports) or "true"
    return remote(login, checks, f"instances on {ports} ready", mutates=False, check=False, timeout=60)
