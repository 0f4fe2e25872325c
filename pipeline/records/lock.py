"""The deploy lock of an environment: who, when, which version, why.

The lock lives on the target (a swarm config on swarm targets), so every machine
sees it; creating it is atomic, so two deploys cannot both get it.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class LockInfo:
    holder: str
    host: str
    pid: int
    version: str
    reason: str
    since: float

    @classmethod
    def mine(cls, holder: str, version: str, reason: str) -> LockInfo:
        return cls(holder=holder, host=socket.gethostname(), pid=os.getpid(), version=version, reason=reason, since=time.time())

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> LockInfo:
        data: dict[str, Any] = json.loads(text)
        return cls(
            holder=str(data.get("holder", "?")),
            host=str(data.get("host", "?")),
            pid=int(data.get("pid", 0)),
            version=str(data.get("version", "?")),
            reason=str(data.get("reason", "")),
            since=float(data.get("since", 0.0)),
        )

    def alive(self) -> bool | None:
        """True/False when the holder ran on this host; None when that cannot be known here."""
        if self.host != socket.gethostname():
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.since))
        why = f" ({self.reason})" if self.reason else ""
        return f"{self.holder} on {self.host} (pid {self.pid}) since {when}, deploying {self.version}{why}"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "alive": self.alive()}
