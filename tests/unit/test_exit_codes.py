"""One table of exit codes (``pipeline.errors.EXIT_TABLE``): the errors, the README and ``--help`` agree with it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline import errors
from pipeline.errors import EXIT_CODES, EXIT_TABLE, ExitCode, PipelineError

ROOT = Path(__file__).resolve().parents[2]
BY_CODE = {e.code: e for e in EXIT_TABLE}
LISTED = {e.code for e in EXIT_TABLE if e.listed}
STOP = {"that", "with", "does", "from", "this", "when", "were", "been", "into", "only", "their", "than", "what", "each", "other"}


def all_errors(base: type[PipelineError] = PipelineError) -> set[type[PipelineError]]:
    found: set[type[PipelineError]] = set()
    for sub in base.__subclasses__():
        found |= {sub, *all_errors(sub)}
    return found


def words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z][a-z0-9]{3,}", text.lower()) if w not in STOP}


def best_codes(text: str) -> set[int]:
    """The listed codes whose meaning shares the most words with ``text`` (none share any: empty)."""
    scores = {e.code: len(words(text) & words(e.meaning)) for e in EXIT_TABLE if e.listed}
    top = max(scores.values())
    return {code for code, score in scores.items() if score == top} if top else set()


def agrees(code: int, text: str) -> bool:
    return code in LISTED and (code == 0 or code in best_codes(text))


# --- the table and the exception tree --------------------------------------------


def test_codes_in_the_table_are_unique_and_never_renumbered() -> None:
    codes = [e.code for e in EXIT_TABLE]
    assert len(codes) == len(set(codes))
    assert {c: BY_CODE[c].raised_by[-1].__name__ for c in (2, 7, 20, 30, 43, 85)} == {
        2: "ConfigError",
        7: "Locked",
        20: "RolledBack",
        30: "GateFailed",
        43: "ChaosDeviated",
        85: "SecretFound",
    }
    assert (BY_CODE[0].name, BY_CODE[70].name) == ("ok", "bug")


def test_every_error_exits_with_the_code_its_table_entry_names() -> None:
    listed = [cls for e in EXIT_TABLE for cls in e.raised_by]
    assert len(listed) == len(set(listed)), "an error is in two entries"
    for entry in EXIT_TABLE:
        for cls in entry.raised_by:
            assert cls.exit_code == entry.code, f"{cls.__name__} exits {cls.exit_code}, the table says {entry.code}"
    # every error but the never-raised base is in the table
    assert all_errors() == set(listed)


def test_no_two_errors_share_a_code_by_accident() -> None:
    by_code: dict[int, set[type[PipelineError]]] = {}
    for cls in all_errors():
        by_code.setdefault(cls.exit_code, set()).add(cls)
    for code, classes in by_code.items():
        entry = BY_CODE[code]
        assert classes == set(entry.raised_by)
        if len(classes) > 1:
            assert entry.shared_because, f"exit {code} is shared by {sorted(c.__name__ for c in classes)} without a reason"
    assert all(e.shared_because == "" for e in EXIT_TABLE if len(e.raised_by) < 2)


def test_the_exception_tree_in_the_docstring_shows_each_class_code() -> None:
    drawn = re.findall(r"\b([A-Z][A-Za-z]+)\s+\((\d+)\)", errors.__doc__ or "")
    assert len(drawn) >= 30
    for name, code in drawn:
        assert getattr(errors, name).exit_code == int(code), name


def test_the_help_lists_every_listed_code_with_its_meaning() -> None:
    from pipeline.cli.app import app

    help_text = app.info.help
    assert isinstance(help_text, str)
    listed = dict(re.match(r"(\d+) (.*)", item).groups() for item in help_text.split("Exit codes: ", 1)[1].split("; "))  # type: ignore[union-attr]
    assert {int(k): v for k, v in listed.items()} == EXIT_CODES == {e.code: e.meaning for e in EXIT_TABLE if e.listed}


# --- what the README and the help texts say --------------------------------------


def readme_table() -> list[tuple[int, str]]:
    """The rows of the README's "Exit codes" table: ``20 / 21 / 22`` rows split into one per code."""
    text = (ROOT / "README.md").read_text()
    section = text.split("### Exit codes", 1)[1].split("\n#", 1)[0]
    rows: list[tuple[int, str]] = []
    for codes, meaning in re.findall(r"^\| ([\d /]+) \| (.*) \|$", section, re.M):
        numbers = [int(c) for c in codes.split("/")]
        parts = meaning.split(" / ") if len(numbers) > 1 else [meaning]
        assert len(parts) == len(numbers), f"row {codes}: {len(numbers)} codes, {len(parts)} meanings"
        rows += list(zip(numbers, parts, strict=True))
    return rows


def test_the_readme_table_lists_exactly_the_table_s_codes_each_with_its_meaning() -> None:
    rows = readme_table()
    assert sorted(code for code, _ in rows) == sorted(LISTED)
    wrong = [(code, text) for code, text in rows if not agrees(code, text)]
    assert wrong == []


def code_lists(text: str) -> list[tuple[int, str]]:
    """``Exit codes: 0 promoted, 20 rolled back, ...`` sentences: (code, what it says) pairs."""
    pairs: list[tuple[int, str]] = []
    for listing in re.findall(r"Exit codes: ((?:\d+ [^,;]+[,;] ?)*\d+ [^,;.]+)", text):
        pairs += [(int(c), words_) for c, words_ in re.findall(r"(\d+) ([^,;]+)", listing)]
    return pairs


def exit_mentions(text: str) -> list[int]:
    """Codes in ``exit 3``, ``exits 40``, ``Exit 0 when ...; 43 when ...``; not k6's own (``k6 exit 107``)."""
    found = [
        int(m.group(2))
        for m in re.finditer(r"(?i)\b(exits?|exit code) (\d+)", text)
        if "k6" not in text[max(0, m.start() - 20) : m.start()]
    ]
    found += [int(c) for c in re.findall(r"[;,] (\d+) when", text)]
    found += [int(c) for a, b in re.findall(r"\((\d+)[-–](\d+)\)", text) for c in (a, b)]
    return found


def help_texts() -> list[str]:
    import typer

    from pipeline.cli.main import _register, app

    _register()
    texts: list[str] = []

    def walk(command: object) -> None:
        texts.append(str(getattr(command, "help", "") or ""))
        texts.extend(str(getattr(p, "help", "") or "") for p in getattr(command, "params", []))
        for sub in getattr(command, "commands", {}).values():
            walk(sub)

    walk(typer.main.get_command(app))
    return texts


def readme_and_guides() -> str:
    """The README and the pages of ``docs/`` (the guides that moved out of the README say exit codes too)."""
    return "\n".join(path.read_text() for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])


def test_the_readme_s_exit_code_sentences_agree_with_the_table() -> None:
    text = readme_and_guides()
    pairs = code_lists(text)
    assert (20, "rolled back") in pairs  # the canary section's sentence was found
    assert [(code, said) for code, said in pairs if not agrees(code, said)] == []
    mentions = exit_mentions(text)
    assert {2, 22, 31, 43, 44} <= set(mentions)
    assert sorted(set(mentions) - LISTED) == []


@pytest.mark.parametrize("path", ["Makefile", "docs/benchmarks.md"])
def test_exit_codes_named_in_other_docs_exist(path: str) -> None:
    assert sorted(set(exit_mentions((ROOT / path).read_text())) - LISTED) == []


def test_the_help_texts_name_only_codes_of_the_table() -> None:
    texts = "\n".join(help_texts())
    mentions = exit_mentions(texts)
    assert {30, 31, 40, 43, 44} <= set(mentions)
    assert sorted(set(mentions) - LISTED) == []
    assert [(code, said) for code, said in code_lists(texts) if not agrees(code, said)] == []


def test_the_checks_can_fail() -> None:
    assert not agrees(52, "flag value of the wrong type")  # 53's meaning under 52
    assert not agrees(99, "anything")
    assert code_lists("Exit codes: 0 ok, 20 rolled back, 21 aborted.") == [(0, "ok"), (20, "rolled back"), (21, "aborted")]
    assert exit_mentions("k6 exit 107; later on, the pipeline exits 5, then exit 3: x, 8 when y (40-42)") == [5, 3, 8, 40, 42]
    assert ExitCode(1, "x").name == ""
