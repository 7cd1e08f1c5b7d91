"""The web book in a real browser (headless Chromium through selenium), built from the whole book.

When the checkout holds the site of a finished `make book` (`d2lc build --execute --small`: every
notebook of every target executed on small parameters) for the sources as they are now, the test
runs against that site, as CI does (.ci/run builds the book first; D2LC_BOOK_SITE=1 there makes a
missing or stale book site a failure rather than a fallback). Otherwise (`make test` alone on a
fresh clone) it builds a site of its own from sources/ and the committed generated/ notebooks with
one section executed per target, so nothing is executed twice. Screenshots of one page per target
go to reports/site/.
"""
from __future__ import annotations

import dataclasses
import functools
import http.server
import json
import os
import re
import shutil
import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from d2lc.emit.backend import get_backend, registry
from d2lc.build.book import find_chapters, load

ROOT = Path(__file__).resolve().parent.parent
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
EXECUTED_SECTION = "chapter_linear-regression/linear-regression-scratch.md"
PAGE = "chapter_linear-regression/linear-regression-scratch.html"

pytestmark = pytest.mark.skipif(not Path(CHROMEDRIVER).exists(), reason="chromium-driver is not installed (scripts/browser.sh)")


def book_site() -> tuple[Path | None, list[str]]:
    """The site `make book` left in the checkout, when that build finished and nothing it read has changed since
    (else None), and what changed."""
    from d2lc.build.uptodate import BuildStamp, Options
    book = load(ROOT)
    required = os.environ.pop("D2LC_BOOK_SITE", None)  # the stamp digests D2LC_* variables; `make book` ran without it
    try:
        stamp = BuildStamp(book, Options(execute=True, small=True, site=True))
    finally:
        if required is not None:
            os.environ["D2LC_BOOK_SITE"] = required
    changes = stamp.changes()
    return (None if changes else book.path(book.site.output)), changes


@dataclasses.dataclass
class Site:
    out: Path
    whole_book: bool  # every notebook executed (the `make book` site), else one section per target
    targets: list[str]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Site:
    book = load(ROOT)
    targets = [n for n in book.targets if n in registry()]
    found, changes = book_site()
    if found is not None:
        return Site(found, True, targets)
    if os.environ.get("D2LC_BOOK_SITE") == "1":
        pytest.fail("D2LC_BOOK_SITE=1 but build/site is not the site of a finished `make book` for these sources; "
                    f"changed since that build: {', '.join(changes)}")
    return Site(_small_site(tmp_path_factory.mktemp("site")), False, targets)


@pytest.fixture(scope="module")
def site(built) -> Path:
    return built.out


def _small_site(tmp: Path) -> Path:
    """A site of the whole book with one section executed per target (the others show code only)."""
    from d2lc.build.envs import REPO_ROOT, framework_available, python_for
    from d2lc.build.execute import Job, execute_all
    from d2lc.build.sampledata import write_sample_data
    from d2lc.build.site.sphinx import build_site
    book = load(ROOT)
    book = dataclasses.replace(book, site=dataclasses.replace(book.site, output=str(tmp / "site")))
    backends = [get_backend(n) for n in book.targets if n in registry()]
    chapters = find_chapters([book.sources_dir])
    write_sample_data(tmp / "data")
    from d2lc.cli.book import _library
    assert _library(book, backends, quiet=True, install=True), "the book's helper library could not be written"
    jobs = []
    for b in backends:
        python = python_for(b)
        if python is not None and framework_available(str(python), (*b.environment.packages, "ipykernel")):
            rel = Path(b.name) / Path(EXECUTED_SECTION).with_suffix(".ipynb")
            jobs.append(Job(ROOT / book.output / rel, str(rel), tmp / "executed" / rel, python, b.environment.name,
                            REPO_ROOT / "envs" / f"{b.environment.name}.lock"))
    assert jobs, "no environment with a kernel to execute in"
    _, _, failures = execute_all(jobs, book.execute.parameters, ROOT / book.execute.cache, tmp / "kernels", tmp / "data",
                                 book.execute.timeout, workers=2)
    assert not failures, [f.render() for f in failures]
    known = set(registry()) | {a for b in registry().values() for a in b.aliases}
    res = build_site(book, chapters, [(b.name, b.display_name) for b in backends], tmp / "executed", known, str)
    assert res.pages == len(chapters) + 1
    return res.out


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def base_url(site):
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1600"):
        options.add_argument(arg)
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            options.binary_location = shutil.which(name)
            break
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def _wait(driver, script: str, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.2)
    return driver.execute_script(script)


CHECKED = """return Array.from(document.querySelectorAll('.d2lc-code')).map(s => {
  const i = s.querySelector(':scope > input:checked'); return i && i.nextElementSibling.getAttribute('data-sync-id'); });"""


def _choose(driver, target: str) -> None:
    label = driver.find_element("css selector", f'.d2lc-code > label[data-sync-id="{target}"]')
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", label)
    label.click()


def test_a_tab_switches_every_tab_set_and_survives_navigation(browser, base_url):
    browser.get(base_url + PAGE)
    browser.execute_script("localStorage.clear()")
    browser.get(base_url + PAGE)
    assert set(browser.execute_script(CHECKED)) == {"pytorch"}  # the first tab until a reader chooses
    _choose(browser, "jax")
    sets = browser.execute_script(CHECKED)
    assert len(sets) > 5 and set(sets) == {"jax"}, sets
    links = browser.execute_script("return Array.from(document.querySelectorAll('.d2lc-target-links.d2lc-current'))"
                                   ".map(e => e.getAttribute('data-target'))")
    assert links == ["jax"]
    browser.get(browser.find_element("css selector", "a.next-page").get_attribute("href"))  # the page's "next" link
    assert PAGE not in browser.current_url
    assert set(browser.execute_script(CHECKED)) == {"jax"}


def test_math_is_rendered_and_plots_are_images(browser, base_url):
    browser.get(base_url + PAGE)
    assert _wait(browser, "return document.querySelectorAll('.MathJax_CHTML').length") > 3
    assert not browser.execute_script("return document.body.innerText.includes('\\\\mathbf')")
    for target in ("pytorch", "tensorflow", "jax", "mxnet", "paddle"):
        _choose(browser, target)
        shown = browser.execute_script(
            "return Array.from(document.querySelectorAll('.d2lc-output-image img'))"
            ".filter(i => i.offsetParent !== null && i.complete && i.naturalWidth > 100).length")
        assert shown >= 1, f"no plot shown for {target}"


def test_side_by_side_highlights_differences(browser, base_url):
    browser.get(base_url + PAGE)
    browser.execute_script("""const [a, b] = [document.querySelector('.d2lc-compare-a'), document.querySelector('.d2lc-compare-b')];
      a.value = 'pytorch'; b.value = 'jax'; a.dispatchEvent(new Event('change'));""")
    browser.find_element("css selector", ".d2lc-compare-toggle").click()
    views = browser.execute_script("return document.querySelectorAll('.d2lc-sidebyside').length")
    sets = browser.execute_script("return document.querySelectorAll('.d2lc-code').length")
    assert views == sets
    changed = browser.execute_script("return document.querySelectorAll('.d2lc-changed').length")
    same = browser.execute_script("return document.querySelectorAll('.d2lc-line:not(.d2lc-changed)').length")
    assert changed > 0 and same > 0
    text = browser.execute_script("return document.querySelector('.d2lc-sidebyside').innerText")
    assert "import torch" in text and "import jax" in text


def test_search_finds_a_term(browser, base_url):
    browser.get(base_url + "search.html?q=minibatch")
    hits = _wait(browser, "return Array.from(document.querySelectorAll('#search-results ul.search li a')).map(a => a.href)", 30)
    assert any("linear-regression" in h for h in hits), hits


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        for key in ("href", "src"):
            if a.get(key) and not (tag == "link" and a.get("rel") in ("preconnect", "dns-prefetch")):
                self.refs.append(a[key])


def test_no_broken_links_or_missing_images(site):
    pages = {p: _Links() for p in site.rglob("*.html")}
    for p, parser in pages.items():
        parser.feed(p.read_text(encoding="utf-8"))
    broken = []
    for p, parser in pages.items():
        for ref in parser.refs:
            url = urlparse(ref)
            if url.scheme in ("http", "https", "mailto", "data", "javascript") or ref.startswith("//"):
                continue
            target = (p.parent / unquote(url.path)).resolve() if url.path else p
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{p.relative_to(site)}: {ref}")
            elif url.fragment and target.suffix == ".html" and target in pages and url.fragment not in pages[target].ids:
                broken.append(f"{p.relative_to(site)}: {ref} (no such anchor)")
    assert not broken, broken[:20]
    colab = [r for parser in pages.values() for r in parser.refs if "colab.research.google.com" in r]
    assert colab and all(re.search(r"/blob/[^/]+/generated/\w+/chapter_[^/]+/[^/]+\.ipynb$", r) for r in colab)


def test_screenshots_of_one_page_per_target(browser, base_url):
    out = ROOT / "reports" / "site"
    out.mkdir(parents=True, exist_ok=True)
    browser.get(base_url + PAGE)
    _wait(browser, "return document.querySelectorAll('.MathJax_CHTML').length")
    for target in ("pytorch", "tensorflow", "jax", "mxnet", "paddle"):
        _choose(browser, target)
        browser.execute_script("window.scrollTo(0, 0)")
        path = out / f"{target}.png"
        browser.save_screenshot(str(path))
        assert path.stat().st_size > 10_000


TAB_RE = re.compile(r'class="[^"]*\bd2lc-tab d2lc-tab-([\w-]+)')


def _outputs_by_target(html_text: str) -> dict[str, dict[str, int]]:
    """Per target: how many code tabs, output blocks and plot images its tabs on one page hold."""
    counts: dict[str, dict[str, int]] = {}
    marks = list(TAB_RE.finditer(html_text))
    for m, nxt in zip(marks, marks[1:] + [None]):
        body = html_text[m.end(): nxt.start() if nxt else len(html_text)]
        c = counts.setdefault(m.group(1), {"tabs": 0, "outputs": 0, "images": 0, "errors": 0})
        c["tabs"] += 1
        c["outputs"] += body.count("d2lc-output ")
        c["images"] += body.count("d2lc-output-image")
        c["errors"] += body.count("d2lc-output-error")
    return counts


def test_the_whole_book_is_executed_on_every_target(built):
    """The `make book` site: every code page shows outputs on every target, plots on the same pages, no errors."""
    if not built.whole_book:
        pytest.skip("build/site is not a finished `make book` site (this run built one with one section executed)")
    book = load(ROOT)
    chapters = find_chapters([book.sources_dir])
    pages = sorted(built.out.glob("chapter_*/*.html"))
    assert len(pages) == len(chapters), (len(pages), len(chapters))
    for target in built.targets:  # an executed copy of every notebook, every code cell run
        for c in chapters:
            rel = Path(target) / c.rel.with_suffix(".ipynb")
            if (ROOT / book.output / rel).exists():
                nb = json.loads((book.path(book.execute.output) / rel).read_text(encoding="utf-8"))
                unrun = [cell["id"] for cell in nb["cells"] if cell["cell_type"] == "code" and cell["execution_count"] is None]
                assert not unrun, f"{rel}: cells not executed: {unrun}"
    silent, errors, plots = [], [], {t: set() for t in built.targets}
    for page in pages:
        name = page.relative_to(built.out).as_posix()
        counts = _outputs_by_target(page.read_text(encoding="utf-8"))
        for target, c in counts.items():
            if c["tabs"] > 1 and c["outputs"] == 0:  # more than the setup cell's tab, and nothing shown
                silent.append(f"{name} [{target}]")
            if c["errors"]:
                errors.append(f"{name} [{target}]")
            if c["images"]:
                plots[target].add(name)
    assert not silent, f"pages showing no output for a target: {silent}"
    assert not errors, f"pages showing an error: {errors}"
    first = plots[built.targets[0]]
    assert len(first) >= 10 and all(p == first for p in plots.values()), {t: sorted(first ^ p) for t, p in plots.items()}
