"""A tiny document model rendered twice: Markdown (report.md, figures linked) and one
self-contained HTML page (report.html, figures embedded as data URIs). Building the report
once and rendering it twice keeps the two from drifting apart."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Para:
    text: str


@dataclass(frozen=True)
class Callout:
    """A warning the reader must not miss (e.g. no energy was measured)."""

    text: str
    loud: bool = False


@dataclass(frozen=True)
class Bullets:
    items: Sequence[str]


@dataclass(frozen=True)
class Table:
    header: Sequence[str]
    rows: Sequence[Sequence[str]]
    caption: str = ""


@dataclass(frozen=True)
class Figure:
    png: Path
    caption: str


@dataclass(frozen=True)
class Code:
    text: str


Block = Heading | Para | Callout | Bullets | Table | Figure | Code


@dataclass
class Document:
    title: str
    blocks: list[Block] = field(default_factory=list)

    def add(self, *blocks: Block) -> None:
        self.blocks.extend(blocks)


# What would make Markdown (or HTML inside it) out of plain text: links, images, tags,
# entities, code spans, table cells. Emphasis (`*`, `_`) is left alone: it cannot hide or
# add anything, and escaping it would litter names such as energy_gross_j.
_MD_INLINE = re.compile(r"([\\`\[\]<>|&])")
_MD_LINE_START = re.compile(r"^([0-9]+(?=[.)])|)([#+=>.)-])")


def md_cell(text: str) -> str:
    """Plain text as Markdown that shows exactly that text, on one line. Blocks hold plain
    text, and much of it comes from the campaign folder (framework names, errors,
    versions), which is not ours: no link, image, HTML or table cell may come of it."""
    return _MD_INLINE.sub(r"\\\1", " ".join(str(text).splitlines()))


def md_text(text: str) -> str:
    """md_cell for a text that starts a line: nor may it start a heading or a list."""
    return _MD_LINE_START.sub(r"\1\\\2", md_cell(text))


def to_markdown(doc: Document, base: Path) -> str:
    """Figures are linked relative to `base`, the folder report.md is written to."""
    out = [f"# {md_cell(doc.title)}", ""]
    for b in doc.blocks:
        match b:
            case Heading(text, level):
                out += [f"{'#' * level} {md_cell(text)}", ""]
            case Para(text):
                out += [md_text(text), ""]
            case Callout(text, loud):
                out += [f"> **{'WARNING: ' if loud else 'Note: '}**{md_cell(text)}", ""]
            case Bullets(items):
                out += [f"- {md_text(i)}" for i in items] + [""]
            case Table(header, rows, caption):
                if caption:
                    out += [f"*{md_cell(caption)}*", ""]
                out.append("| " + " | ".join(md_cell(h) for h in header) + " |")
                out.append("|" + "|".join(" --- " for _ in header) + "|")
                out += ["| " + " | ".join(md_cell(c) for c in r) + " |" for r in rows]
                out.append("")
            case Figure(png, caption):
                link = png.relative_to(base).as_posix()
                out += [f"![{md_cell(caption)}]({link})", "", f"*{md_cell(caption)}*", ""]
            case Code(text):
                fence = "`" * max(3, 1 + max((len(r) for r in re.findall("`+", text)), default=0))
                out += [fence, text, fence, ""]
    return "\n".join(out)


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{border-bottom:2px solid #444}h2{border-bottom:1px solid #ccc;margin-top:2em}
h1+p+h2,h1+p+div+h2{margin-top:1em}
table{border-collapse:collapse;margin:.5em 0 1.2em;font-size:.85em}
th,td{border:1px solid #ccc;padding:.15em .5em;text-align:right}
th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}
caption{caption-side:top;text-align:left;font-style:italic;padding:.3em 0}
figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-style:italic;font-size:.9em}
.note{background:#fff8e1;border-left:4px solid #f0b400;padding:.5em 1em}
.loud{background:#ffebee;border-left:6px solid #c62828;padding:.8em 1em;font-weight:bold;
font-size:1.1em}
pre{background:#f6f6f6;padding:.6em;overflow-x:auto;font-size:.85em}
"""


def _png_data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def to_html(doc: Document) -> str:
    """One file, no external requests: styles inline, figures as data URIs, no scripts."""
    e = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(doc.title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{e(doc.title)}</h1>",
    ]
    for b in doc.blocks:
        match b:
            case Heading(text, level):
                out.append(f"<h{level}>{e(text)}</h{level}>")
            case Para(text):
                out.append(f"<p>{e(text)}</p>")
            case Callout(text, loud):
                cls = "loud" if loud else "note"
                out.append(f'<div class="{cls}">{"WARNING: " if loud else ""}{e(text)}</div>')
            case Bullets(items):
                out.append("<ul>" + "".join(f"<li>{e(i)}</li>" for i in items) + "</ul>")
            case Table(header, rows, caption):
                cap = f"<caption>{e(caption)}</caption>" if caption else ""
                head = "".join(f"<th>{e(h)}</th>" for h in header)
                body = "".join(
                    "<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows
                )
                out.append(
                    f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
                )
            case Figure(png, caption):
                out.append(
                    f'<figure><img src="{_png_data_uri(png)}" alt="{e(caption)}">'
                    f"<figcaption>{e(caption)}</figcaption></figure>"
                )
            case Code(text):
                out.append(f"<pre>{e(text)}</pre>")
    out.append("</body></html>")
    return "\n".join(out)
