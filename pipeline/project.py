"""Where the project and its state live on this machine."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Project:
    """The checkout (``root``) and the pipeline's state dir (logs, caches, journal)."""

    root: Path
    state: Path

    @classmethod
    def discover(cls, start: Path | None = None) -> Project:
        env_root = os.environ.get("PIPELINE_ROOT")
        if env_root:
            root = Path(env_root).resolve()
        else:
            here = (start or Path.cwd()).resolve()
            root = next(
                (p for p in (here, *here.parents) if (p / "environments").is_dir() and (p / "pipeline").is_dir()),
                here,
            )
        state = Path(os.environ.get("PIPELINE_STATE_DIR", root / ".pipeline")).resolve()
        return cls(root=root, state=state)

    def state_path(self, *parts: str) -> Path:
        """A path in the state dir; nothing is created (a dry run writes nothing)."""
        return self.state.joinpath(*parts)

    def writable_state_path(self, *parts: str) -> Path:
        """A path in the state dir whose folder exists: for code that writes it now, never under a dry run."""
        path = self.state_path(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path
