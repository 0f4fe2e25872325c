"""The README and the pages of ``docs/``: every relative link lands on a file (and heading) that exists,
every ``make <target>`` they name is a target of the Makefile, and the README links every page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.gha.lint import makefile_targets

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TARGETS = makefile_targets(ROOT / "Makefile")

FENCE = re.compile(r"^(```|~~~)[^\n]*\n(.*?)^\1[ \t]*$", re.M | re.S)
SPAN = re.compile(r"(`+)(.+?)\1", re.S)
LINK = re.compile(r"!?\[[^\]]*\]\(<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\)")
REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s+<?(\S+?)>?(?:\s|$)", re.M)
HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$", re.M)
SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)
# `make`, then any VAR=value and -flags, then the goal: ``make deploy ENV=local [VERSION=tag]`` names deploy
MAKE = re.compile(r"\bmake\s+(?:(?:\[?[A-Z_]+=\S*|-\S+)\s+)*([^\s`'\"\[\]()|;,]+)")
PLACEHOLDER = re.compile(r"<[^>]+>|[A-Z][A-Z_]*")  # make <target>, every `make X` a workflow calls
# docs/actions.md quotes the workflow lint's message for a misspelt target: 'make test-unti': no such target
QUOTED_MISTAKES = {"test-unti"}


def prose_and_code(text: str) -> tuple[str, list[str]]:
    """The text outside code, and the code: fenced blocks and inline spans (a span may wrap a line,
    never a paragraph). A span becomes ``code`` in the prose, so ``[`path`](path)`` stays a link."""
    code = [m.group(2) for m in FENCE.finditer(text)]
    outside = FENCE.sub("\n", text)
    paragraphs = re.split(r"\n[ \t]*\n", outside)
    for paragraph in paragraphs:
        code += [m.group(2) for m in SPAN.finditer(paragraph)]
    prose = "\n\n".join(SPAN.sub("code", paragraph) for paragraph in paragraphs)
    return prose, code


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: links reduced to their text, lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """The anchors of a markdown page's headings (a repeated heading gets ``-1``, ``-2``, ... as on GitHub)."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    outside = FENCE.sub("\n", text)
    for match in HEADING.finditer(outside):
        base = slug(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(text: str) -> list[str]:
    """Every link target outside code: inline ``[text](target)`` and reference definitions ``[id]: target``."""
    prose, _ = prose_and_code(text)
    return [m.group(1) for m in LINK.finditer(prose)] + [m.group(1) for m in REFERENCE.finditer(prose)]


def broken_links(text: str, page: Path) -> list[str]:
    """The relative links of ``text`` (as if it were ``page``) to a missing file, or to a missing heading of a markdown file."""
    broken: list[str] = []
    for target in links(text):
        if SCHEME.match(target):
            continue  # https:, mailto:: not ours to check offline
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page  # "#anchor": a heading of this page
        if path and not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest.read_text() if path else text):
            broken.append(f"{target}: no heading '#{anchor}' in {dest.name}")
    return broken


def make_targets(text: str) -> list[str]:
    """The goal of every ``make ...`` in the code of ``text`` (placeholders such as ``make <target>`` left out)."""
    _, code = prose_and_code(text)
    return [m.group(1) for chunk in code for m in MAKE.finditer(chunk) if not PLACEHOLDER.fullmatch(m.group(1))]


def unknown_targets(text: str, targets: set[str] = TARGETS) -> list[str]:
    return [t for t in make_targets(text) if t not in targets and t not in QUOTED_MISTAKES]


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


# --- the pages -------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_relative_link_lands_on_a_file_and_heading_that_exist(page: Path) -> None:
    assert broken_links(page.read_text(), page) == []


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_make_target_a_page_names_is_in_the_makefile(page: Path) -> None:
    assert unknown_targets(page.read_text()) == []


def test_the_checks_read_what_the_readme_says() -> None:
    text = (ROOT / "README.md").read_text()
    assert {"demo", "test", "up", "deploy", "chaos"} <= set(make_targets(text))  # code spans and code blocks
    assert "docs/canary.md" in links(text)
    assert "exit-codes" in anchors(text)


def test_the_readme_links_every_page_of_docs() -> None:
    linked = {(ROOT / target.partition("#")[0]).resolve() for target in links((ROOT / "README.md").read_text())}
    assert [page_id(p) for p in PAGES[1:] if p.resolve() not in linked] == []


# --- the checks can fail ---------------------------------------------------------

SNIPPET = ROOT / "docs" / "snippet.md"  # where a snippet is read as if it were


@pytest.mark.parametrize(
    ("snippet", "broken"),
    [
        ("See [the guide](nowhere.md).", ["nowhere.md: no such file"]),
        ("[exit codes](../README.md#exit-code)", ["../README.md#exit-code: no heading '#exit-code' in README.md"]),
        ("[ref]: ../pipeline/nothing.py\n", ["../pipeline/nothing.py: no such file"]),
        ("# Title\n\n[up](#titel)", ["#titel: no heading '#titel' in snippet.md"]),
        ("[the vm target](vm.md), [exit codes](../README.md#exit-codes), [kinds](../pipeline/environment/kinds.py)", []),
        ("[`kinds.py`](../pipeline/environment/kinds.py), [Chaos Toolkit](https://chaostoolkit.org)", []),
        ("# Title\n\n## Title\n\n[again](#title-1)", []),
        ("`[not a link](nowhere.md)` and\n\n```\n[nor this](nowhere.md)\n```\n", []),
    ],
)
def test_a_broken_link_is_found(snippet: str, broken: list[str]) -> None:
    assert broken_links(snippet, SNIPPET) == broken


@pytest.mark.parametrize(
    ("snippet", "unknown"),
    [
        ("`make deploi ENV=local`", ["deploi"]),
        ("```sh\nmake up ENV=ci\nmake tset   # everything CI runs\n```\n", ["tset"]),
        ("a span that wraps: `make\ntest-integartion`", ["test-integartion"]),
        ("`make ENV=local -j2 Deploy`", ["Deploy"]),
        ("`make up ENV=local`, `make deploy ENV=local [VERSION=tag]`, `make lint` / `make test-unit`", []),
        ("```\nmake <target>  ──>  pipeline CLI\n```\nevery `make X` a workflow calls", []),
        ("make tset, outside code, is prose", []),
    ],
)
def test_an_unknown_make_target_is_found(snippet: str, unknown: list[str]) -> None:
    assert unknown_targets(snippet) == unknown


def test_heading_anchors_follow_github() -> None:
    assert slug("Performance gates (k6)") == "performance-gates-k6"
    assert slug("The ecs target (AWS: ECS Fargate behind an ALB)") == "the-ecs-target-aws-ecs-fargate-behind-an-alb"
    assert slug("The canary judge — `make bench-judge` (2026-12-01, commit 882d42a)") == (
        "the-canary-judge--make-bench-judge-2026-12-01-commit-882d42a"
    )
