"""The self-contained HTML report, opened from disk in a real headless Chromium."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from matplotlib.figure import Figure
from PIL import Image

from pipeline.report.html_page import write_html

TITLE = "Test report"
WIDE_COLUMNS = 24
MARKDOWN = [
    "# Test report: grid `tiny`", "",
    "Intro with **bold words** and `inline code`.", "",
    "## Answers at a glance", "",
    "- **mnist**: best `none` (+0.0011)", "",
    "## Pooling", "",
    "### mnist", "",
    "| pooling | test accuracy |", "|---|---:|", "| max | 0.9793 |", "| none | <0.0001 |", "",
    "![mnist pooling](figures/mnist_pooling.png)", "",
    "### fashion_mnist", "",
    "![fashion_mnist pooling](figures/fashion_mnist_pooling.png)", "",
    "## A wide table", "",
    "| " + " | ".join(f"column {index} with a long header" for index in range(WIDE_COLUMNS)),
    "|" + "---|" * WIDE_COLUMNS,
    "| " + " | ".join(f"cell-{index}-without-breaks" for index in range(WIDE_COLUMNS)), "",
    "## Kernel size × padding", "",
    "### mnist", "",
    "Same heading text as above: its anchor must differ.",
]
HEADINGS = [("H1", "Test report: grid tiny"), ("H2", "Answers at a glance"), ("H2", "Pooling"),
            ("H3", "mnist"), ("H3", "fashion_mnist"), ("H2", "A wide table"),
            ("H2", "Kernel size × padding"), ("H3", "mnist")]
# Injected before the page's Content-Security-Policy, so the page runs under its own policy;
# on load it writes what it saw into the DOM, which --dump-dom hands back.
PROBE = """<script>
const violations = [];
document.addEventListener('securitypolicyviolation', event => violations.push(event.blockedURI));
window.addEventListener('load', () => {
  const wide = document.querySelectorAll('.table-scroll')[1];
  document.body.dataset.results = JSON.stringify({
    images: [...document.images].map(image => [image.naturalWidth, image.src.slice(0, 22)]),
    requests: performance.getEntriesByType('resource').map(entry => entry.name)
      .filter(name => !name.startsWith('data:')),
    violations,
    headings: [...document.querySelectorAll('h1, h2, h3')]
      .map(heading => [heading.tagName, heading.textContent, heading.id]),
    contents: [...document.querySelectorAll('nav.toc a')].map(link => link.getAttribute('href')),
    pageWidth: document.documentElement.scrollWidth,
    mainMaxWidth: getComputedStyle(document.querySelector('main')).maxWidth,
    wideTable: [wide.clientWidth, wide.scrollWidth],
    tables: document.querySelectorAll('table').length,
    strong: [...document.querySelectorAll('main > p strong')].map(node => node.textContent),
    code: [...document.querySelectorAll('p code')].map(node => node.textContent),
  });
});
</script>
"""


def save_figure(path: Path, color: str) -> None:
    """A 600x400 PNG, like the report's figures."""
    figure = Figure(figsize=(6, 4), dpi=100)
    axes = figure.add_subplot()
    axes.bar(["max", "avg", "none"], [0.979, 0.977, 0.980], color=color)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)


@pytest.fixture(scope="module")
def reports_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("reports")
    save_figure(folder / "figures" / "mnist_pooling.png", "tab:blue")
    save_figure(folder / "figures" / "fashion_mnist_pooling.png", "tab:orange")
    return folder


@pytest.fixture(scope="module")
def page(reports_dir) -> Path:
    return write_html(MARKDOWN, reports_dir, reports_dir / "ablation.html", TITLE)


@pytest.fixture(scope="module")
def chromium() -> str:
    executable = shutil.which("chromium")
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing on CI: .ci/run installs Debian's chromium")
        pytest.skip("chromium is not installed (apt-get install chromium): the HTML report's "
                    "browser checks need it")
    return executable


def open_headless(chromium: str, profile: Path, *arguments: str) -> str:
    """Run headless Chromium with no background traffic; returns its stdout."""
    command = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
               "--window-size=1366,900", "--virtual-time-budget=5000", *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=120,
                          check=True).stdout


def test_same_input_gives_the_same_bytes_and_no_remote_links(reports_dir, page):
    again = write_html(MARKDOWN, reports_dir, reports_dir / "again.html", TITLE)
    assert page.read_bytes() == again.read_bytes()
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text)
    assert "figures/" not in text  # every figure is embedded, none is referenced
    assert text.count('src="data:image/png;base64,') == 2


def test_remote_and_missing_images_are_refused(reports_dir, tmp_path):
    with pytest.raises(ValueError, match="self-contained"):
        write_html(["![x](https://example.org/x.png)"], reports_dir, tmp_path / "a.html", TITLE)
    with pytest.raises(FileNotFoundError):
        write_html(["![x](figures/missing.png)"], reports_dir, tmp_path / "b.html", TITLE)


@pytest.mark.slow
def test_page_loads_everything_from_itself_in_chromium(chromium, page, tmp_path):
    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text(encoding="utf-8").replace("<head>\n", "<head>\n" + PROBE, 1),
                      encoding="utf-8")
    dom = open_headless(chromium, tmp_path / "profile", "--dump-dom", probed.as_uri())
    found = re.search(r'data-results="([^"]*)"', dom)
    assert found, "the probe script did not run: " + dom[:500]
    results = json.loads(html.unescape(found.group(1)))
    assert results["images"] == [[600, "data:image/png;base64,"]] * 2
    assert results["requests"] == [] and results["violations"] == []
    assert [(tag, text) for tag, text, _ in results["headings"]] == HEADINGS
    ids = [anchor for _, _, anchor in results["headings"]]
    assert len(set(ids)) == len(ids)
    assert results["contents"] == ["#" + anchor for (tag, _, anchor) in results["headings"]
                                   if tag in ("H2", "H3")]
    assert results["tables"] == 2
    assert results["strong"] == ["bold words"] and results["code"] == ["inline code"]
    assert results["mainMaxWidth"] == "1200px" and results["pageWidth"] <= 1366
    client_width, scroll_width = results["wideTable"]
    assert scroll_width > client_width  # the wide table scrolls inside its box


@pytest.mark.slow
def test_screenshot_at_1366_pixels(chromium, page, tmp_path):
    shot = tmp_path / "page.png"
    open_headless(chromium, tmp_path / "profile", f"--screenshot={shot}", page.as_uri())
    with Image.open(shot) as image:
        assert image.size == (1366, 900)
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert len(colours) > 50  # text, the contents box and a figure, not a blank page


COMMITTED_PROBE = """<script>
window.addEventListener('load', () => {
  document.body.dataset.results = JSON.stringify({
    images: [...document.images].map(image => image.naturalWidth),
    requests: performance.getEntriesByType('resource').map(entry => entry.name)
      .filter(name => !name.startsWith('data:')),
    headings: [...document.querySelectorAll('h2, h3')].map(heading => heading.textContent),
  });
});
</script>
"""


@pytest.mark.slow
@pytest.mark.parametrize("report", ["reports/ablation.html", "reports/full/ablation.html"])
def test_committed_report_opens_from_disk_with_every_section_and_image(chromium, tmp_path,
                                                                       report):
    """The report in the repository: every heading of its Markdown twin, every image decoded,
    no network request."""
    page = Path(__file__).resolve().parent.parent / report
    if not page.is_file():
        pytest.skip(f"{report} is not in this checkout")
    markdown = page.with_suffix(".md").read_text(encoding="utf-8").splitlines()
    expected = [line.lstrip("#").strip().replace("`", "") for line in markdown
                if line.startswith(("## ", "### "))]
    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text(encoding="utf-8").replace("<head>\n", "<head>\n" +
                                                               COMMITTED_PROBE, 1))
    dom = open_headless(chromium, tmp_path / "profile", "--dump-dom", probed.as_uri())
    found = re.search(r'data-results="([^"]*)"', dom)
    assert found, "the probe script did not run: " + dom[:500]
    results = json.loads(html.unescape(found.group(1)))
    assert results["requests"] == []
    assert results["images"] and all(width > 0 for width in results["images"])
    assert results["headings"] == expected
    screenshot = tmp_path / "report.png"
    open_headless(chromium, tmp_path / "profile-shot", f"--screenshot={screenshot}",
                  page.as_uri())
    assert screenshot.stat().st_size > 10_000
