"""The report as one self-contained HTML page: the same Markdown, readable from disk offline.

Figures are embedded as data: URIs, a table of contents links to every `##` and `###`
heading, and a Content-Security-Policy forbids any network request, so the file can be
mailed or opened from an archive and still show everything. Same input, same bytes.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

from markdown_it import MarkdownIt
from markdown_it.token import Token

IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
               ".gif": "image/gif", ".svg": "image/svg+xml", ".webp": "image/webp"}
TOC_LEVELS = ("h2", "h3")
# Nothing may be fetched: images only from data: URIs, styles only inline, no scripts.
POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
STYLE = """
body { margin: 0; color: #1f2328; background: #fff; line-height: 1.5;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; }
main { max-width: 1200px; margin: 0 auto; padding: 24px 32px; box-sizing: border-box; }
h1, h2, h3 { line-height: 1.25; }
h2 { margin-top: 2em; padding-bottom: 0.3em; border-bottom: 1px solid #d0d7de; }
code { font-family: ui-monospace, Menlo, Consolas, "DejaVu Sans Mono", monospace;
  font-size: 90%; background: #f6f8fa; padding: 0.1em 0.3em; border-radius: 4px; }
.table-scroll { overflow-x: auto; margin: 1em 0; }
table { border-collapse: collapse; font-size: 14px; }
th, td { border: 1px solid #d0d7de; padding: 4px 10px; vertical-align: top; }
th { background: #f6f8fa; }
tbody tr:nth-child(even) { background: #fafbfc; }
img { max-width: 100%; height: auto; }
nav.toc { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px;
  padding: 8px 20px; margin: 1em 0 2em; }
nav.toc ul { margin: 0.2em 0; padding-left: 1.4em; }
nav.toc > ul { columns: 3 240px; column-gap: 2em; }
nav.toc > ul > li { break-inside: avoid; }
""".strip()


def slug(text: str) -> str:
    """A GitHub-style anchor: lower case, punctuation dropped, spaces to hyphens."""
    kept = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return kept.replace(" ", "-") or "section"


def plain_text(inline: Token) -> str:
    """A heading's text without its Markdown: `**b** and `c`` gives `b and c`."""
    return "".join(child.content for child in inline.children or [])


def assign_heading_ids(tokens: list[Token]) -> list[tuple[str, str, str]]:
    """Give every heading a unique id (a repeated text gets -1, -2, ...).

    Returns (tag, text, id) of each heading, in document order.
    """
    used: set[str] = set()
    headings = []
    for index, token in enumerate(tokens):
        if token.type != "heading_open":
            continue
        text = plain_text(tokens[index + 1])
        anchor, repeat = slug(text), 0
        while anchor in used:
            repeat += 1
            anchor = f"{slug(text)}-{repeat}"
        used.add(anchor)
        token.attrSet("id", anchor)
        headings.append((token.tag, text, anchor))
    return headings


def data_uri(path: Path) -> str:
    """The file as a `data:<type>;base64,...` URI."""
    media_type = IMAGE_TYPES.get(path.suffix.lower())
    if media_type is None:
        raise ValueError(f"cannot embed {path}: not one of {sorted(IMAGE_TYPES)}")
    return f"data:{media_type};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def embed_images(tokens: list[Token], reports_dir: Path) -> None:
    """Replace every image's relative source with its data: URI; refuse remote images."""
    for token in tokens:
        for child in token.children or []:
            if child.type != "image":
                continue
            source = str(child.attrGet("src"))
            if source.startswith("data:"):
                continue
            if urlparse(source).scheme:
                raise ValueError(f"image {source!r} is not a local file; the page must be "
                                 "self-contained")
            child.attrSet("src", data_uri(reports_dir / unquote(source)))


def table_of_contents(headings: list[tuple[str, str, str]]) -> str:
    """A nested list linking to every `##` heading and, under it, its `###` headings."""
    if not any(tag in TOC_LEVELS for tag, _, _ in headings):
        return ""
    lines = ['<nav class="toc" aria-label="Contents">', "<strong>Contents</strong>", "<ul>"]
    item_open = sublist_open = False  # an `##` entry awaiting </li>; its `###` list
    for tag, text, anchor in headings:
        link = f'<a href="#{anchor}">{html.escape(text)}</a>'
        if tag == "h2":
            lines += ["</ul>"] * sublist_open + ["</li>"] * item_open + [f"<li>{link}"]
            item_open, sublist_open = True, False
        elif tag == "h3":
            if item_open and not sublist_open:
                lines.append("<ul>")
                sublist_open = True
            lines.append(f"<li>{link}</li>")
    lines += ["</ul>"] * sublist_open + ["</li>"] * item_open
    return "\n".join([*lines, "</ul>", "</nav>"]) + "\n"


def wrap_table(self, tokens: list[Token], index: int, options, env) -> str:
    """Tables sit in a box that scrolls sideways rather than widening the page."""
    rendered = self.renderToken(tokens, index, options, env)
    if tokens[index].type == "table_open":
        return '<div class="table-scroll">\n' + rendered
    return rendered + "</div>\n"


def markdown_parser() -> MarkdownIt:
    """CommonMark with tables; raw HTML in the Markdown is shown as text, not obeyed."""
    parser = MarkdownIt("commonmark", {"html": False}).enable("table")
    parser.add_render_rule("table_open", wrap_table)
    parser.add_render_rule("table_close", wrap_table)
    return parser


def page(title: str, body: str) -> str:
    """The whole document: the policy, the inline style and the rendered body."""
    head = ['<!DOCTYPE html>', '<html lang="en">', "<head>", '<meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{html.escape(title)}</title>", f"<style>\n{STYLE}\n</style>", "</head>"]
    return "\n".join([*head, "<body>", "<main>", body.rstrip("\n"), "</main>", "</body>",
                      "</html>"]) + "\n"


def write_html(markdown_lines: list[str], reports_dir: Path, path: Path, title: str) -> Path:
    """Render the report's Markdown lines into one HTML file at `path`; returns `path`.

    Images are read relative to `reports_dir` (where ablation.md lives). The table of
    contents follows the first `#` heading, or opens the page when there is none.
    """
    parser = markdown_parser()
    tokens = parser.parse("\n".join(markdown_lines) + "\n")
    headings = assign_heading_ids(tokens)
    embed_images(tokens, Path(reports_dir))
    body = parser.renderer.render(tokens, parser.options, {})
    contents = table_of_contents(headings)
    first_title = re.search(r"</h1>\n", body)
    if headings and headings[0][0] == "h1" and first_title:
        body = body[:first_title.end()] + contents + body[first_title.end():]
    else:
        body = contents + body
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page(title, body), encoding="utf-8", newline="\n")
    return path
