"""The code blocks of README.md and docs/*.md, as the doc tests see them.

Convention (docs/qa.md, "Commands in these docs"):

- a shell command is in a fenced block marked ```` ```sh ```` (or ``bash``): one command a
  line, ``#`` starts a comment, a line ending in ``\\`` continues on the next one;
- a terminal session with output is a ```` ```console ```` block: the commands are the lines
  starting with ``$ ``, the other lines are output;
- a line starting with ``$ `` outside a fence is a command too;
- every other fence names what it holds (``python``, ``json``, ``text``, ``ini``, ...) and is
  never run as a command; a fence without a language is refused, so a command cannot hide in
  one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHELL_LANGS = {"sh", "bash", "console"}
_FENCE = re.compile(r"^(```+|~~~+)\s*([\w+-]*)")


@dataclass(frozen=True)
class Command:
    doc: str           # path relative to the repository, e.g. "docs/qa.md"
    line: int          # 1-based line of the command in the doc
    text: str          # the command, comments stripped, continuations joined

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}: {self.text}"


@dataclass
class Block:
    doc: str
    line: int          # line of the opening fence
    lang: str
    body: list[str] = field(default_factory=list)

    @property
    def source(self) -> str:
        return "\n".join(self.body) + "\n"

    def commands(self) -> list[Command]:
        if self.lang not in SHELL_LANGS:
            return []
        out: list[Command] = []
        pending, start = "", 0
        for offset, raw in enumerate(self.body, start=1):
            line = raw.rstrip()
            if self.lang == "console" and not pending:
                if not line.startswith("$ "):
                    continue  # output
                line = line[2:]
            if not pending:
                start = self.line + offset
            if line.endswith("\\"):
                pending += line[:-1].strip() + " "
                continue
            text = strip_comment(pending + line.strip()).strip()
            pending = ""
            if text:
                out.append(Command(self.doc, start, text))
        return out


def strip_comment(line: str) -> str:
    """*line* without a trailing ``# comment`` (a ``#`` inside quotes is kept)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line


def doc_files() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def blocks(path: Path) -> tuple[list[Block], list[Command]]:
    """The fenced blocks of *path* and the ``$ `` command lines outside them."""
    doc = path.relative_to(REPO).as_posix()
    found: list[Block] = []
    loose: list[Command] = []
    current: Block | None = None
    fence = ""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = _FENCE.match(line)
        if current is None:
            if match:
                fence = match.group(1)
                current = Block(doc, number, match.group(2).lower())
            elif line.startswith("$ "):
                text = strip_comment(line[2:]).strip()
                if text:
                    loose.append(Command(doc, number, text))
            continue
        if line.strip().startswith(fence[:3]) and line.strip() == fence[: len(line.strip())]:
            found.append(current)
            current = None
            continue
        current.body.append(line)
    if current is not None:
        raise AssertionError(f"{doc}:{current.line}: code block never closed")
    return found, loose


def all_blocks() -> list[Block]:
    return [b for path in doc_files() for b in blocks(path)[0]]


def all_commands() -> list[Command]:
    out: list[Command] = []
    for path in doc_files():
        found, loose = blocks(path)
        for block in found:
            out += block.commands()
        out += loose
    return sorted(out, key=lambda c: (c.doc, c.line))


def python_blocks(doc: str) -> list[Block]:
    return [b for b in blocks(REPO / doc)[0] if b.lang == "python"]
