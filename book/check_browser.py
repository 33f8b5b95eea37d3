"""Look at the built book the way a reader does: headless Chromium loads every page from a local server.

    python book/check_browser.py [--html book/_build/html] [--shots book/_build/screenshots] [--self-test]

Each page is served from 127.0.0.1 (a free port chosen by the OS, server stopped at the end) with a small probe
script added to it (only in what this server sends; the files are not touched). Chromium loads the page,
runs its JavaScript — MathJax typesets the formulas — and the probe writes what it sees into the DOM, which
`--dump-dom` prints. A page fails when

- it has math markup (Sphinx's `.math` elements) that MathJax did not turn into `mjx-container` output, or a
  formula that MathJax rendered as an error (`mjx-merror`: an unknown TeX command, unbalanced braces), or TeX
  source visible as text outside math and code;
- an image did not load (naturalWidth 0), or anything the page requested from the server was missing (404:
  images, scripts, style sheets, MathJax fonts), or it loaded anything from another host (the book must work
  without the network);
- its visible text shows an nbdev directive (`#|`), or an output shows a Python traceback;
- a hidden-solution toggle (cells folded by `#| code-fold: true`) is open by default or shows nothing when
  opened;
- an exported cell (`#| export`) shows no "exported to deeplearning101.…" label of at least 9 px;
- it is a chapter (nbs/*) with almost no text or no code cells;
- at a laptop's window width (1280 px), a displayed formula or a cell's output is wider than its box (its end
  would be hidden behind a scrollbar).

Every internal link and fragment (`page.html#anchor`) of every page is also checked against the files and
their ids, without the browser. The first screen of every chapter (1280x900) is saved as a PNG under --shots.
`--self-test` copies the build to a temporary folder, plants one fault of each kind, and checks that each is
reported. Exit status 1 when a check fails. Only the standard library and a Chromium binary are needed.
"""
import argparse
import concurrent.futures as cf
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

ROOT = Path(__file__).resolve().parent.parent
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=1280,900",
         "--virtual-time-budget=30000"]
SKIP_DIRS = {"_static", "_sources", "_images"}

# Runs in the page after load and after MathJax's first typesetting; writes a JSON report into the DOM.
PROBE = r"""
<script>
(function () {
  function texOutsideMath() {
    const bad = /\\(frac|sum|mathbb|mathrm|operatorname|begin|end|left|right|partial|sigma|theta|lambda|eta|odot|sqrt|hat|bar|cdot|le|ge)(?![A-Za-z])|\$\$/;
    const skip = new Set(["SCRIPT", "STYLE", "PRE", "CODE", "TEXTAREA", "MJX-CONTAINER", "SVG", "MATH"]);
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const found = [];
    while (walker.nextNode()) {
      const t = walker.currentNode;
      let e = t.parentElement, skipped = false;
      for (; e; e = e.parentElement) {
        if (skip.has(e.tagName.toUpperCase()) || e.classList.contains("math") || e.classList.contains("highlight")) { skipped = true; break; }
      }
      if (!skipped && bad.test(t.textContent)) found.push(t.textContent.trim().slice(0, 80));
    }
    return found;
  }
  function collect() {
    const r = {};
    const math = [...document.querySelectorAll(".math")];
    r.math = math.length;
    r.mjx = document.querySelectorAll("mjx-container").length;
    r.unrendered = math.filter(e => !e.querySelector("mjx-container")).map(e => e.textContent.trim().slice(0, 80));
    r.merror = [...document.querySelectorAll("mjx-merror")].map(e => (e.getAttribute("data-mjx-error") || e.textContent).slice(0, 100));
    r.tex = texOutsideMath();
    r.images = document.images.length;
    r.broken_images = [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute("src"));
    const article = document.querySelector("article") || document.querySelector("main") || document.body;
    r.text = article.innerText.length;
    r.cells = document.querySelectorAll(".cell").length;
    r.directives = document.body.innerText.split("\n").filter(l => l.includes("#|")).map(l => l.trim().slice(0, 80));
    r.tracebacks = document.querySelectorAll(".output.traceback, .output.error").length +
                   (document.body.innerText.match(/Traceback \(most recent call last\)/g) || []).length;
    const toggles = [...document.querySelectorAll("details.above-input, details.below-input, details.hide")];
    r.toggles = toggles.length;
    r.toggles_open = toggles.filter(d => d.open).length;
    r.toggles_empty = toggles.filter(d => {
      const was = d.open; d.open = true;
      const body = [...d.children].filter(c => c.tagName !== "SUMMARY");
      const h = body.reduce((s, c) => s + c.getBoundingClientRect().height, 0);
      d.open = was; return h <= 0;
    }).length;
    const exported = [...document.querySelectorAll('div.cell[class*="tag_exported-to-"]')];
    r.exported = exported.length;
    r.exported_unlabelled = exported.filter(c => {
      const st = getComputedStyle(c, "::before");
      return !st.content.startsWith('"exported to deeplearning101.') || st.display === "none" ||
             parseFloat(st.fontSize) < 9;
    }).length;
    // a displayed formula or an output wider than its box is cut off at a laptop's 1280 px (its end
    // hidden behind a scrollbar that a reader does not notice)
    const wide = e => e.scrollWidth > e.clientWidth + 2;
    r.wide_math = [...document.querySelectorAll('mjx-container[display="true"]')].filter(wide)
                    .map(e => (e.getAttribute("aria-label") || e.textContent || "").trim().slice(0, 60));
    r.wide_outputs = [...document.querySelectorAll("div.cell div.output pre")].filter(wide)
                    .map(e => e.textContent.trim().slice(0, 60));
    r.external = performance.getEntriesByType("resource").map(e => e.name).filter(u => !u.startsWith(location.origin));
    const out = document.createElement("pre");
    out.id = "__probe__"; out.textContent = JSON.stringify(r); document.body.appendChild(out);
  }
  window.addEventListener("load", function () {
    const s = window.MathJax && window.MathJax.startup;
    if (s && s.promise) s.promise.then(collect, collect); else collect();
  });
})();
</script>
"""


def find_chromium():
    for name in [os.environ.get("CHROMIUM", ""), "chromium", "chromium-browser", "google-chrome",
                 "google-chrome-stable", "chrome"]:
        if name and (path := shutil.which(name)):
            return path
    sys.exit("check_browser: no Chromium found (looked for $CHROMIUM, chromium, chromium-browser, google-chrome). "
             "On Debian/Ubuntu: apt-get install chromium")


# ---------------------------------------------------------------- local server
def make_server(root, missing):
    "A threaded static server on a free loopback port; .html pages get the probe; 404s go to `missing`."
    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self):
            path = unquote(urlsplit(self.path).path)
            file = root / path.lstrip("/")
            if file.is_dir():
                file = file / "index.html"
            if file.suffix == ".html" and file.is_file():
                text = file.read_text(encoding="utf-8")
                i = text.rfind("</body>")
                body = (text[:i] + PROBE + text[i:] if i >= 0 else text + PROBE).encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            super().do_GET()

        def send_error(self, code, message=None, explain=None):
            if code == 404 and self.path != "/favicon.ico":     # the browser asks for it by itself
                referer = urlsplit(self.headers.get("Referer", "")).path.lstrip("/")
                missing.append((referer, unquote(urlsplit(self.path).path)))
            super().send_error(code, message, explain)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# ---------------------------------------------------------------- the browser
def load(chromium, url, screenshot=None, timeout=90):
    "The probe's report for one page (dict), or an error string; with `screenshot`, also save the first screen."
    with tempfile.TemporaryDirectory(prefix="check-browser-") as profile:
        cmd = [chromium, *FLAGS, f"--user-data-dir={profile}", "--dump-dom"]
        if screenshot:
            cmd.append(f"--screenshot={screenshot}")
        try:
            p = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return f"Chromium did not finish within {timeout} s"
    m = re.search(r'<pre id="__probe__"[^>]*>(.*?)</pre>', p.stdout, re.S)   # the theme adds attributes to <pre>
    if not m:
        tail = "\n".join(l for l in p.stderr.splitlines() if "dbus" not in l)[-600:]
        return f"the page's probe never reported (exit status {p.returncode}); Chromium said:\n{tail}"
    return json.loads(html.unescape(m.group(1)))


def page_problems(rel, r):
    "The failed checks of one page's probe report."
    if isinstance(r, str):
        return [r]
    out = []
    if r["unrendered"]:
        out.append(f"{len(r['unrendered'])} of {r['math']} formulas not rendered by MathJax, e.g. {r['unrendered'][0]!r}")
    if r["math"] and not r["mjx"]:
        out.append("the page has math markup but no MathJax output (mjx-container)")
    if r["merror"]:
        out.append(f"MathJax errors: {r['merror'][:3]}")
    if r["tex"]:
        out.append(f"TeX source visible as text: {r['tex'][:3]}")
    if r["broken_images"]:
        out.append(f"broken images: {r['broken_images'][:5]}")
    if r["external"]:
        out.append(f"loads from another host: {r['external'][:3]}")
    if r["directives"]:
        out.append(f"visible nbdev directive text: {r['directives'][:3]}")
    if r["tracebacks"]:
        out.append(f"{r['tracebacks']} Python traceback(s) in the output")
    if r.get("exported_unlabelled"):
        out.append(f"{r['exported_unlabelled']} of {r['exported']} exported cells show no readable "
                   "'exported to deeplearning101.…' label")
    if r.get("wide_math"):
        out.append(f"{len(r['wide_math'])} displayed formula(s) wider than the text column at 1280 px (their "
                   f"end is cut off; split them with aligned or multline), e.g. {r['wide_math'][0]!r}")
    if r.get("wide_outputs"):
        out.append(f"{len(r['wide_outputs'])} output(s) wider than their box at 1280 px, e.g. "
                   f"{r['wide_outputs'][0]!r}")
    if r["toggles_open"]:
        out.append(f"{r['toggles_open']} hidden-solution toggles are open on load")
    if r["toggles_empty"]:
        out.append(f"{r['toggles_empty']} hidden-solution toggles show nothing when opened")
    if rel.startswith("nbs/") and (r["text"] < 2000 or r["cells"] == 0):
        out.append(f"empty chapter: {r['text']} characters of text, {r['cells']} code cells")
    return out


# ---------------------------------------------------------------- links, without the browser
class _Refs(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids, self.links, self.resources = set(), [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key) and (key == "id" or tag == "a"):
                self.ids.add(a[key])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag in ("img", "script", "source", "iframe") and a.get("src"):
            self.resources.append(a["src"])
        elif tag == "link" and a.get("href"):
            (self.resources if a.get("rel") in ("stylesheet", "preload", "icon", "shortcut icon")
             else self.links).append(a["href"])


def link_problems(root, pages):
    "Broken internal links and anchors, and resources from other hosts, for every page."
    parsed = {}

    def refs(path):
        if path not in parsed:
            p = _Refs()
            p.feed(path.read_text(encoding="utf-8", errors="replace"))
            parsed[path] = p
        return parsed[path]

    problems = {}
    for page in pages:
        rel = page.relative_to(root).as_posix()
        base = f"http://book.local/{rel}"
        for kind, items in (("link", refs(page).links), ("resource", refs(page).resources)):
            for href in items:
                if href.startswith(("mailto:", "javascript:", "data:")):
                    continue
                parts = urlsplit(urljoin(base, href))
                if parts.netloc != "book.local":
                    if kind == "resource":
                        problems.setdefault(rel, []).append(f"resource from another host: {href}")
                    continue
                target = root / unquote(parts.path).lstrip("/")
                if target.is_dir():
                    target = target / "index.html"
                if not target.is_file():
                    problems.setdefault(rel, []).append(f"broken {kind}: {href}")
                elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in refs(target).ids:
                    problems.setdefault(rel, []).append(f"broken anchor: {href}")
    return problems


# ---------------------------------------------------------------- the check
def check(root, shots, chromium, quiet=False):
    "Run every check on the built book in `root`; returns {page: [problems]} and prints a summary."
    pages = sorted(p for p in root.rglob("*.html")
                   if not SKIP_DIRS & set(p.relative_to(root).parts[:-1]))
    problems = link_problems(root, pages)
    missing = []
    server = make_server(root, missing)
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    if shots:
        shots.mkdir(parents=True, exist_ok=True)
    reports = {}
    try:
        with cf.ThreadPoolExecutor(max_workers=3) as pool:
            futures = {}
            for page in pages:
                rel = page.relative_to(root).as_posix()
                shot = shots / (Path(rel).stem + ".png") if shots and rel.startswith("nbs/") else None
                futures[pool.submit(load, chromium, url + rel, shot)] = rel
            for f in cf.as_completed(futures):
                reports[futures[f]] = f.result()
    finally:
        server.shutdown()
        server.server_close()
    for referer, path in missing:
        problems.setdefault(referer or "?", []).append(f"requested a missing file: {path}")
    for rel, r in reports.items():
        problems.setdefault(rel, []).extend(page_problems(rel, r))
    problems = {k: v for k, v in problems.items() if v}
    if not quiet:
        print(f"{'page':34} {'math':>6} {'images':>6} {'toggles':>7} {'text':>7}  status")
        for rel in sorted(reports):
            r = reports[rel]
            if isinstance(r, dict):
                print(f"{rel:34} {r['mjx']:>3}/{r['math']:<3} {r['images']:>6} {r['toggles']:>7} {r['text']:>7}  "
                      + ("FAIL" if rel in problems else "ok"))
            else:
                print(f"{rel:34} {'':>25}  FAIL")
        for rel, ps in sorted(problems.items()):
            for p in ps:
                print(f"  {rel}: {p}")
    return problems, reports


# ---------------------------------------------------------------- self-test: plant faults, expect reports
FAULTS = {  # name: (page, text to insert before </article>, words that the report must contain)
    "broken image": ("nbs/02_perceptron.html", '<p><img src="../_images/no-such-figure.png" alt="x"></p>', "broken images"),
    "visible directive": ("nbs/03_mlp.html", "<p>#| export</p>", "directive"),
    "traceback": ("nbs/03b_train.html", '<div class="output traceback"><pre>Traceback (most recent call last):\n'
                  '  File "x.py", line 1\nValueError: planted</pre></div>', "traceback"),
    "broken link": ("book/intro.html", '<p><a href="../nbs/no_such_chapter.html">x</a></p>', "broken link"),
    "broken anchor": ("book/notation.html", '<p><a href="#no-such-anchor">x</a></p>', "broken anchor"),
    "bad TeX": ("book/history.html", r'<p><span class="math notranslate nohighlight">\(\frobnicate{x}\)</span></p>',
                "MathJax errors"),
    "TeX shown as text": ("book/glossary.html", r"<p>the sum \sum_i x_i</p>", "TeX source visible"),
    "unlabelled export": ("nbs/02_perceptron.html", '<div class="cell tag_exported-to-nowhere docutils '
                          'container"><pre>x = 1</pre></div>', "exported cells show no"),
    "formula too wide": ("nbs/04_optim.html", '<div class="math notranslate nohighlight">\\[' +
                         " + ".join(f"a_{{{i}}} b_{{{i}}}" for i in range(60)) + '\\]</div>', "formula(s) wider"),
    "output too wide": ("nbs/05_gpu.html", '<div class="cell"><div class="output"><pre style="white-space: pre">' +
                        "x" * 300 + '</pre></div></div>', "output(s) wider"),
    "external resource": ("book/api.html", '<script src="https://cdn.example.org/x.js"></script>', "another host"),
}


def self_test(root, chromium):
    "Plant every fault of FAULTS (and an emptied chapter, an open solution, no MathJax) in a copy; all must be reported."
    with tempfile.TemporaryDirectory(prefix="check-browser-selftest-") as tmp:
        copy = Path(tmp) / "html"
        shutil.copytree(root, copy)
        for page, snippet, _ in FAULTS.values():
            f = copy / page
            text = f.read_text(encoding="utf-8")
            i = text.rfind("</article>")
            f.write_text(text[:i] + snippet + text[i:], encoding="utf-8")
        # an empty chapter: its article emptied
        empty = copy / "nbs/A1_data.html"
        t = empty.read_text(encoding="utf-8")
        empty.write_text(re.sub(r"(<article[^>]*>).*?(</article>)", r"\1<h1>A1</h1>\2", t, flags=re.S), encoding="utf-8")
        # a folded solution that is open when the page loads
        sol = copy / "nbs/00_graph.html"
        sol.write_text(sol.read_text(encoding="utf-8").replace("<details ", "<details open ", 1), encoding="utf-8")
        # no MathJax at all on one page: its formulas stay unrendered
        nomj = copy / "nbs/01_autodiff.html"
        nomj.write_text(re.sub(r'<script[^>]*tex-mml-chtml\.js[^>]*></script>', "", nomj.read_text(encoding="utf-8")),
                        encoding="utf-8")
        problems, _ = check(copy, None, chromium, quiet=True)
    expected = {name: (page, words) for name, (page, _, words) in FAULTS.items()}
    expected["empty chapter"] = ("nbs/A1_data.html", "empty chapter")
    expected["MathJax missing"] = ("nbs/01_autodiff.html", "not rendered by MathJax")
    expected["open solution"] = ("nbs/00_graph.html", "open on load")
    failed = 0
    for name, (page, words) in expected.items():
        hit = [p for p in problems.get(page, []) if words.lower() in p.lower()]
        print(f"  planted {name:20} in {page:26} -> " + (f"reported: {hit[0][:90]}" if hit else "NOT REPORTED"))
        failed += not hit
    print(f"self-test: {len(expected) - failed} of {len(expected)} planted faults reported")
    return failed == 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--html", type=Path, default=ROOT / "book" / "_build" / "html")
    ap.add_argument("--shots", type=Path, default=ROOT / "book" / "_build" / "screenshots")
    ap.add_argument("--self-test", action="store_true", help="plant faults in a copy and check they are reported")
    args = ap.parse_args()
    if not (args.html / "index.html").is_file():
        sys.exit(f"check_browser: no book at {args.html}: run `make book` first")
    chromium = find_chromium()
    t0 = time.perf_counter()
    if args.self_test:
        ok = self_test(args.html, chromium)
        print(f"({time.perf_counter() - t0:.0f} s)")
        sys.exit(0 if ok else 1)
    problems, reports = check(args.html, args.shots, chromium)
    n = len(reports)
    if problems:
        print(f"Browser check failed: {len(problems)} of {n} pages have problems ({time.perf_counter() - t0:.0f} s).")
        sys.exit(1)
    shots = sorted(args.shots.glob("*.png"))
    print(f"Browser check passed: {n} pages in Chromium, math rendered, images and links intact, no '#|', "
          f"no tracebacks; {len(shots)} screenshots in {args.shots.relative_to(ROOT) if args.shots.is_relative_to(ROOT) else args.shots} "
          f"({time.perf_counter() - t0:.0f} s).")


if __name__ == "__main__":
    main()
