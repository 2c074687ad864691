"""The README and docs/*.md run as written.

Every fenced block carries a language: ``sh`` blocks run line by line and ``python`` blocks
as a script, in one scratch directory per document (blocks in order, so a later command
finds what an earlier one wrote), with the environment's commands on PATH; ``toml`` blocks
are files; ``text`` blocks (diagrams, formats, synopses) are not run.  An HTML comment
right before a block changes that, and says why, in the document itself:

    <!-- doc-test: skip: REASON -->          not run (REASON is required)
    <!-- doc-test: replace: OLD => NEW -->   run with OLD replaced (a smaller network, a
                                             real file for a placeholder); OLD must occur
    <!-- doc-test: file: NAME -->            written to NAME instead of being run

Inline ``spikeport ...`` spans in the prose are checked too: the subcommand exists and the
options given before its first argument are options it has (a span after "no " names what
is not there on purpose).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import click
import pytest

from toolchain.cli import main

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LANGUAGES = ("sh", "python", "toml", "text")
DIRECTIVE = re.compile(r"<!-- doc-test: (skip|replace|file): (.+?) -->$")


@dataclass
class Block:
    doc: Path
    line: int
    language: str
    body: str
    skip: str | None = None
    file: str | None = None
    replace: list[tuple[str, str]] = field(default_factory=list)

    def where(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}"

    def text(self) -> str:
        body = self.body
        for old, new in self.replace:
            assert old in body, f"{self.where()}: 'replace: {old} => ...' matches nothing"
            body = body.replace(old, new)
        return body


def blocks(doc: Path) -> list[Block]:
    found, pending = [], []
    lines = doc.read_text().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        hit = DIRECTIVE.match(line.strip())
        if hit:
            pending.append(hit.groups())
        elif line.startswith("```"):
            start, language = i + 1, line[3:].strip()
            i += 1
            while not lines[i].startswith("```"):
                i += 1
            block = Block(doc, start, language, "\n".join(lines[start:i]) + "\n")
            for kind, value in pending:
                if kind == "skip":
                    block.skip = value
                elif kind == "file":
                    block.file = value
                else:
                    old, arrow, new = value.partition(" => ")
                    assert arrow, f"{doc.name}:{i}: write 'replace: OLD => NEW'"
                    block.replace.append((old, new))
            found.append(block)
            pending = []
        elif line.strip():
            assert not pending, f"{doc.name}:{i + 1}: a doc-test comment must come right " \
                                "before the block it is about"
        i += 1
    return found


def commands(sh: str) -> list[str]:
    """The commands of a shell block: one per line (backslash continues one), no
    comment-only or empty lines."""
    joined = re.sub(r"\\\n\s*", " ", sh)
    return [c for c in joined.splitlines() if c.strip() and not c.lstrip().startswith("#")]


def scratch(tmp_path: Path) -> Path:
    """A directory that looks like the repository to a user's command: the examples, the
    test data, the environment, and room for build/."""
    work = tmp_path / "work"
    work.mkdir()
    for name in ("examples", "tests", ".venv"):
        (work / name).symlink_to(ROOT / name)
    return work


def environment() -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}


def run(block: Block, work: Path) -> None:
    text = block.text()
    if block.file is not None:
        (work / block.file).write_text(text)
        return
    if block.language == "sh":
        for command in commands(text):
            done = subprocess.run(["bash", "-c", command], cwd=work, env=environment(),
                                  capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, (f"{block.where()}: `{command}` failed "
                                          f"({done.returncode}):\n{done.stdout[-2000:]}\n"
                                          f"{done.stderr[-3000:]}")
            assert "Traceback" not in done.stderr, f"{block.where()}: {done.stderr[-3000:]}"
    elif block.language == "python":
        script = work / f"snippet_{block.line}.py"
        script.write_text(text)
        done = subprocess.run([sys.executable, str(script)], cwd=work, env=environment(),
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{block.where()}: the snippet failed:\n{done.stderr}"


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_every_block_runs_as_written(doc, tmp_path):
    work = scratch(tmp_path)
    for block in blocks(doc):
        assert block.language in LANGUAGES, (
            f"{block.where()}: give the block a language ({', '.join(LANGUAGES)}), so this "
            "test knows whether to run it")
        if block.skip is not None or block.language == "text":
            continue
        assert block.language != "toml" or block.file, \
            f"{block.where()}: a toml block needs '<!-- doc-test: file: NAME -->'"
        run(block, work)


def test_every_skip_says_why():
    for doc in DOCS:
        for block in blocks(doc):
            if block.skip is not None:
                assert len(block.skip.split()) >= 4, f"{block.where()}: say why it is skipped"


def test_the_directives_are_read(tmp_path):
    doc = tmp_path / "d.md"
    doc.write_text("x\n<!-- doc-test: replace: a => b -->\n```sh\necho a\\\n  c\n# no\n```\n"
                   "<!-- doc-test: skip: needs a board attached here -->\n```sh\nfalse\n```\n")
    first, second = blocks(doc)
    assert commands(first.text()) == ["echo b c"] and first.skip is None
    assert second.skip == "needs a board attached here"
    doc.write_text("<!-- doc-test: skip: far from its block -->\n\ntext\n```sh\nls\n```\n")
    with pytest.raises(AssertionError, match="must come right before the block"):
        blocks(doc)


def _options(cmd: click.Command) -> dict[str, bool]:
    """Option name -> whether it takes a value."""
    return {o: not (getattr(p, "is_flag", False) or getattr(p, "count", False))
            for p in cmd.params if isinstance(p, click.Option)
            for o in (*p.opts, *p.secondary_opts)}


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_inline_commands_name_real_subcommands_and_options(doc):
    # "no `spikeport simulate` command": what is not there on purpose
    for span in re.findall(r"(?<!no )`(spikeport [^`]+)`", doc.read_text()):
        cmd: click.Command = main
        known = _options(main)
        words = iter(span.split()[1:])
        for word in words:
            if isinstance(cmd, click.Group) and word in cmd.commands:
                cmd = cmd.commands[word]
                known |= _options(cmd)
            elif word.startswith("-") and word not in ("-", "--", "..."):
                name = word.split("=")[0]
                assert name in known, f"{doc.name}: `{span}`: {cmd.name} has no option {word}"
                if known[name] and "=" not in word:
                    next(words, None)  # its value
            else:
                break  # the first argument: what follows may be the script's
        assert cmd is not main or span.split()[1].startswith("-"), \
            f"{doc.name}: `{span}` names no spikeport command"
