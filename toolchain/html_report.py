"""One self-contained HTML page per report: sections of text, tables and figures.

A compile, portability or DSE run writes ``report.html`` beside its text report.  The page
needs no server and no network: figures are embedded as base64 PNG, the style is inline,
there is no script.  This module only lays out what it is given (:class:`Section` with
paragraphs, preformatted text, :class:`Table` and :class:`Figure` blocks), so the reports
can change what they say without touching it; :func:`from_text` and :func:`from_markdown`
turn the existing text and Markdown reports into blocks.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Table:
    columns: Sequence[str]
    rows: Sequence[Sequence[object]]
    caption: str = ""


@dataclass(frozen=True)
class Figure:
    """A PNG image: its bytes, or the path of a PNG file."""

    png: bytes | Path
    caption: str = ""

    def data(self) -> bytes:
        return self.png if isinstance(self.png, bytes) else Path(self.png).read_bytes()


@dataclass(frozen=True)
class Text:
    """A paragraph (``pre=False``; `code` and **bold** marked as in Markdown) or a block of
    preformatted text, shown as is."""

    text: str
    pre: bool = False


@dataclass(frozen=True)
class Bullets:
    items: Sequence[str]


Block = Text | Bullets | Table | Figure


@dataclass(frozen=True)
class Section:
    title: str
    blocks: Sequence[Block] = field(default_factory=tuple)


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 80em; padding: 0 1em;
       color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ccc; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: right; }
th { background: #eee; } td:first-child, th:first-child { text-align: left; }
caption { caption-side: bottom; font-size: 0.85em; color: #555; padding-top: 0.3em; }
figure { margin: 1em 0; } img { max-width: 100%; height: auto; }
figcaption { font-size: 0.85em; color: #555; }
code { background: #f0f0f0; padding: 0 0.2em; }
"""


def render(title: str, sections: Sequence[Section]) -> str:
    """The whole page."""
    body = "\n".join(_section(s) for s in sections)
    return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
            f"<h1>{html.escape(title)}</h1>\n{body}\n</body>\n</html>\n")


def write(path: str | Path, title: str, sections: Sequence[Section]) -> Path:
    path = Path(path)
    path.write_text(render(title, sections), encoding="utf-8")
    return path


def _section(section: Section) -> str:
    blocks = "\n".join(_block(b) for b in section.blocks)
    return f"<section>\n<h2>{html.escape(section.title)}</h2>\n{blocks}\n</section>"


def _block(block: Block) -> str:
    if isinstance(block, Text):
        if block.pre:
            return f"<pre>{html.escape(block.text)}</pre>"
        return f"<p>{_inline(block.text)}</p>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in block.items) + "</ul>"
    if isinstance(block, Table):
        head = "".join(f"<th>{_inline(str(c))}</th>" for c in block.columns)
        rows = "".join("<tr>" + "".join(f"<td>{_inline(_cell(v))}</td>" for v in row) + "</tr>"
                       for row in block.rows)
        caption = f"<caption>{_inline(block.caption)}</caption>" if block.caption else ""
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    if isinstance(block, Figure):
        data = base64.b64encode(block.data()).decode("ascii")
        alt = html.escape(block.caption or "figure", quote=True)
        caption = f"<figcaption>{_inline(block.caption)}</figcaption>" if block.caption else ""
        return f'<figure><img src="data:image/png;base64,{data}" alt="{alt}">{caption}</figure>'
    raise TypeError(f"cannot render a {type(block).__name__} in an HTML report")


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def _inline(text: str) -> str:
    out = html.escape(text, quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)


def from_text(report: str) -> list[Section]:
    """A plain-text report whose blank-line-separated blocks each start with their title
    (the compile report): one section per block, its body preformatted."""
    sections = []
    for chunk in re.split(r"\n\s*\n", report.strip("\n")):
        title, _, body = chunk.partition("\n")
        sections.append(Section(title.strip(), (Text(body, pre=True),) if body.strip() else ()))
    return sections


def from_markdown(text: str) -> list[Block]:
    """Blocks of the Markdown the reports write: pipe tables, ``-`` lists, paragraphs."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                rows.append([c.strip() for c in lines[i].strip().strip("|").split("|")])
                i += 1
            body = [r for r in rows[1:] if not all(set(c) <= set("-: ") for c in r)]
            blocks.append(Table(rows[0], body))
            continue
        if line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].strip().startswith("- "):
                items.append(lines[i].strip()[2:])
                i += 1
            blocks.append(Bullets(items))
            continue
        if line:
            blocks.append(Text(line))
        i += 1
    return blocks
