"""Fakes of the pipeline's own protocols, for tests (ours and users')."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pipeline.commands import Command, Result
from pipeline.executor import _failure

Responder = Callable[[Command], Result]


@dataclass
class FakeExecutor:
    """Records every command; answers from rules matched on the argv prefix.

    ``rules`` maps an argv prefix (tuple) to a ``Result`` or a function of the
    command. The longest matching prefix wins; unmatched commands succeed empty.
    """

    rules: dict[tuple[str, ...], Result | Responder] = field(default_factory=dict)
    calls: list[Command] = field(default_factory=list)
    dry_run: bool = False

    def on(self, *prefix: str, result: Result | Responder) -> FakeExecutor:
        self.rules[tuple(prefix)] = result
        return self

    def run(self, command: Command) -> Result:
        self.calls.append(command)
        best: tuple[str, ...] | None = None
        for prefix in self.rules:
            if command.argv[: len(prefix)] == prefix and (best is None or len(prefix) > len(best)):
                best = prefix
        answer: Result | Responder = Result(0) if best is None else self.rules[best]
        result = answer(command) if callable(answer) else answer
        if command.check and not result.ok:
            raise _failure(command, result)
        return result

    def lines(self) -> list[str]:
        return [c.shell() for c in self.calls]

    def mutating(self) -> list[Command]:
        return [c for c in self.calls if c.mutates]
