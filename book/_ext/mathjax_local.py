"""Serve MathJax from the book itself instead of a CDN.

Why: the book must render its formulas without the network — for a reader offline, and for `make check-book`,
whose headless browser has no network (CI reaches only package registries). Sphinx loads MathJax 3 from a CDN
by default; book/_config.yml sets `mathjax_path: mathjax/tex-mml-chtml.js` (relative, i.e. `_static/mathjax/`)
and this extension copies MathJax there after every successful build.

Where the files come from: the PyPI package `sphinx-mathjax-offline` (in the `dev` extra of pyproject.toml)
ships MathJax 3.2.2, the last MathJax 3 and the version the CDN URL resolves to. We use its files, not its Sphinx
extension, which would copy all 24 MB (SVG output, a dozen speech-rule languages, Node-only files): only what
`tex-mml-chtml.js` can load in a browser is copied, about 4 MB — the combined component itself, its web fonts,
the TeX extensions that `autoload` fetches on first use (e.g. `\\cancel`, `\\bbox`), and the accessibility and
menu components with English speech rules. Unchanged files are not copied again.
"""
import filecmp
import shutil
from importlib import metadata
from pathlib import Path

from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)
DIST = "sphinx-mathjax-offline"
# Paths inside MathJax's es5 tree that tex-mml-chtml.js may request (a glob each).
KEEP = ["tex-mml-chtml.js", "output/chtml/fonts/woff-v2/*.woff", "input/tex/extensions/*.js",
        "input/mml/entities.js", "input/mml/extensions/*", "a11y/*.js", "ui/*.js",
        "sre/mathmaps/base.json", "sre/mathmaps/en.json", "sre/mathmaps/nemeth.json"]


def mathjax_source():
    "The folder of MathJax's es5 files inside the installed `sphinx-mathjax-offline` distribution."
    try:
        dist = metadata.distribution(DIST)
    except metadata.PackageNotFoundError:
        raise ExtensionError(f"mathjax_local: the package {DIST!r} is not installed; it is in the dev extra: "
                             "pip install -e '.[dev]' (or run `make book`, which does)") from None
    src = Path(dist.locate_file("sphinx-mathjax-offline/static/mathjax"))
    if not (src / "tex-mml-chtml.js").is_file():
        raise ExtensionError(f"mathjax_local: {src / 'tex-mml-chtml.js'} is missing from {DIST} {dist.version}")
    return src


def copy_mathjax(app, exc):
    if exc is not None or app.builder.format != "html":
        return
    src, dest = mathjax_source(), Path(app.outdir) / "_static" / "mathjax"
    copied = 0
    for pattern in KEEP:
        files = sorted(src.glob(pattern))
        if not files:
            raise ExtensionError(f"mathjax_local: nothing matches {pattern!r} in {src}")
        for f in files:
            target = dest / f.relative_to(src)
            if target.exists() and filecmp.cmp(f, target, shallow=False):
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, target)
            copied += 1
    if copied:
        logger.info(f"mathjax_local: copied {copied} MathJax files to {dest}")


def setup(app):
    app.connect("build-finished", copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
