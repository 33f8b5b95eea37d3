"""Check a finished book build (run by `make book` after jupyter-book). jupyter-book silently drops TOC entries it
cannot resolve and happily renders directive lines, so a successful build alone proves little. Checked here,
on the files, without a browser (`make check-book` then looks at the pages in Chromium):

- every chapter notebook in nbs/ is in book/_toc.yml and was rendered, shows no nbdev directive line (`#|`)
  and no Python traceback, and is not nearly empty; no code line of it is longer than 88 characters, no
  printed output line longer than 100; every image in it is part of a numbered figure with a caption;
- every `#| export` cell is labelled with the module it is exported to (the labels live in _static/exported.css),
  every `#| code-fold: true` solution became a folded toggle, and the labelled equations of each chapter
  are numbered (1), (2), ... in order;
- every chapter page has the launch buttons (Binder, Colab) and the .ipynb download, pointing at the
  notebook's real path in the repository named by pyproject.toml;
- book/_config.yml's repository block agrees with pyproject.toml's [project.urls] Repository, and its
  path_to_book is empty (the book root is the repository root);
- the API reference lists every module of the package, and every name in each module's `__all__` has an
  entry (read from the build's objects.inv).
"""
import ast, importlib, inspect
import json
import re
import sys
from pathlib import Path

import yaml

try:
    import tomllib
except ModuleNotFoundError:      # Python 3.10: tomli if some package brought it, else the one line we need
    try:
        import tomli as tomllib
    except ModuleNotFoundError:
        tomllib = None

root = Path(__file__).resolve().parent.parent
html = root / "book" / "_build" / "html"
toc = (root / "book" / "_toc.yml").read_text()
config = yaml.safe_load((root / "book" / "_config.yml").read_text())


def repository_url(text):
    "pyproject.toml's [project.urls] Repository."
    if tomllib:
        return tomllib.loads(text)["project"]["urls"]["Repository"]
    section = re.search(r"^\[project\.urls\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S).group(1)
    return re.search(r'^Repository\s*=\s*"([^"]+)"', section, re.M).group(1)


chapters = sorted(p.stem for p in (root / "nbs").glob("*.ipynb"))   # chapters and appendices alike
problems = []

# ---- the repository block and the launch buttons
repo_url = repository_url((root / "pyproject.toml").read_text()).rstrip("/")
repo = config.get("repository", {})
if repo.get("url", "").rstrip("/") != repo_url:
    problems.append(f"book/_config.yml repository.url is {repo.get('url')!r} but pyproject.toml's [project.urls] "
                    f"Repository is {repo_url!r}: make them agree")
if repo.get("path_to_book", "") not in ("", "."):
    problems.append(f"book/_config.yml repository.path_to_book must be empty (the book root is the repository "
                    f"root, see the Makefile), not {repo.get('path_to_book')!r}")
org_repo, branch = repo_url.split("github.com/")[-1], repo.get("branch", "main")
launch = config.get("launch_buttons", {})


MAX_CODE_LINE = 88      # characters of a code line that fit the book's 720 px text column
MAX_OUTPUT_LINE = 100   # characters of a printed output line


def html_text(fragment):
    "The text of an HTML fragment (tags dropped, entities decoded)."
    import html
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def folded_cells(nb_path):
    "How many code cells a notebook folds behind a toggle (`#| code-fold: true`, not also hidden)."
    cells = json.loads(nb_path.read_text(encoding="utf-8"))["cells"]
    n = 0
    for c in cells:
        src = "".join(c["source"]) if c["cell_type"] == "code" else ""
        if re.search(r"^\s*#\|\s*code-fold:\s*(true|show)\s*$", src, re.M) and not re.search(r"^\s*#\|\s*hide\s*$", src, re.M):
            n += 1
    return n


def exported_cells(nb_path):
    "How many code cells a notebook exports (`#| export`, `exporti`, `exports`) and shows (not hidden)."
    cells = json.loads(nb_path.read_text(encoding="utf-8"))["cells"]
    heads = ["\n".join(l for l in "".join(c["source"]).splitlines() if l.lstrip().startswith("#|"))
             for c in cells if c["cell_type"] == "code"]
    return sum(bool(re.search(r"^\s*#\|\s*export[is]?\b", h, re.M))
               and not re.search(r"^\s*#\|\s*hide\s*$", h, re.M) for h in heads)


exported_css_path = html / "_static" / "exported.css"
exported_css = exported_css_path.read_text(encoding="utf-8") if exported_css_path.exists() else ""
if not exported_css:
    problems.append("_static/exported.css (the labels of exported cells) was not written")

for stem in chapters:
    if f"file: nbs/{stem}" not in toc:
        problems.append(f"nbs/{stem}.ipynb is not listed in book/_toc.yml")
    page = html / "nbs" / f"{stem}.html"
    if not page.exists():
        problems.append(f"{page.relative_to(root)} was not built")
        continue
    text = page.read_text(encoding="utf-8")
    if re.search(r"#\|", text):
        problems.append(f"{page.name} shows nbdev directive text '#|'")
    if "Traceback (most recent call last)" in text:
        problems.append(f"{page.name} shows a Python traceback")
    if len(re.sub(r"<[^>]+>", "", text)) < 2000:
        problems.append(f"{page.name} is nearly empty")
    toggles, expected = len(re.findall(r'<details class="[^"]*\bhide above-input', text)), folded_cells(root / "nbs" / f"{stem}.ipynb")
    if toggles != expected:
        problems.append(f"{page.name} has {toggles} folded solutions, but the notebook has {expected} `#| code-fold` cells")
    article = text[text.find('<article'):text.find('</article>')]
    figures = re.findall(r"<figure\b.*?</figure>", article, re.S)
    loose = len(re.findall(r"<img\b", article)) - sum(len(re.findall(r"<img\b", f)) for f in figures)
    if loose:
        problems.append(f"{page.name}: {loose} image(s) outside a numbered, captioned figure (make each a "
                        "glue:figure or a MyST figure with a caption)")
    if any("<figcaption" not in f for f in figures):
        problems.append(f"{page.name}: a figure without a caption")
    outputs = re.findall(r'class="output[^"]*"[^>]*>\s*<div class="highlight[^"]*"><pre>(.*?)</pre>', article, re.S)
    wide = [l for o in outputs for l in html_text(o).split("\n") if len(l) > MAX_OUTPUT_LINE]
    if wide:
        problems.append(f"{page.name}: {len(wide)} output line(s) longer than {MAX_OUTPUT_LINE} characters, e.g. "
                        f"{wide[0][:60]!r}... (wrap what the cell prints)")
    shown = exported_cells(root / "nbs" / f"{stem}.ipynb")
    labelled = re.findall(r'<div class="cell [^"]*\btag_(exported-to-[\w-]+)', text)
    if len(labelled) != shown:
        problems.append(f"{page.name}: {len(labelled)} cells labelled as exported, but the notebook shows "
                        f"{shown} `#| export` cells")
    unstyled = sorted({t for t in labelled if f"div.cell.tag_{t}::before" not in exported_css})
    if unstyled:
        problems.append(f"{page.name}: no label in _static/exported.css for {unstyled}")
    if re.search(r"\|\s*:?[-–—]+:?\s*\|", html_text(re.sub(r"<pre\b.*?</pre>", "", article, flags=re.S))):
        problems.append(f"{page.name}: a Markdown table shown as text (a displayed Markdown table that was "
                        "not rendered: nb_render_markdown_format in book/_config.yml)")
    numbers = [int(n) for n in re.findall(r'<span class="eqno">\((\d+)\)', text)]
    if numbers != list(range(1, len(numbers) + 1)):
        problems.append(f"{page.name}: equation numbers are {numbers}, expected (1), (2), ... in order")
    nb_path = f"nbs/{stem}.ipynb"
    cells = json.loads((root / nb_path).read_text(encoding="utf-8"))["cells"]
    wide = [(i, len(l)) for i, c in enumerate(cells) if c["cell_type"] == "code"
            for l in "".join(c["source"]).splitlines() if len(l) > MAX_CODE_LINE]
    if wide:
        problems.append(f"{nb_path}: {len(wide)} code lines are longer than {MAX_CODE_LINE} characters "
                        f"(the 720 px text column cuts them off); the first is in cell {wide[0][0]}")
    wanted = {"download button": f'href="../_sources/{nb_path}"'}
    if launch.get("binderhub_url"):
        wanted["Binder button"] = f'{launch["binderhub_url"].rstrip("/")}/v2/gh/{org_repo}/{branch}?urlpath=tree/{nb_path}'
    if launch.get("colab_url"):
        wanted["Colab button"] = f'{launch["colab_url"].rstrip("/")}/github/{org_repo}/blob/{branch}/{nb_path}'
    for what, needle in wanted.items():
        if needle not in text:
            problems.append(f"{page.name} has no {what} ({needle})")
    if not (html / "_sources" / nb_path).is_file():
        problems.append(f"the download of {page.name}, _sources/{nb_path}, is missing")

# ---- the API reference: every module listed, every public name documented
api_md = (root / "book" / "api.md").read_text()
block = re.search(r"```\{api-modules\}\n(.*?)```", api_md, re.S)
listed = [l.strip() for l in block.group(1).splitlines() if l.strip() and not l.strip().startswith("#")] if block else []
lib = root / "deeplearning101"
modules = sorted(p.stem for p in lib.glob("*.py") if not p.stem.startswith("_"))
modules += sorted(p.parent.name for p in lib.glob("*/__init__.py")     # chapters exported to a package
                  if "AUTOGENERATED! DO NOT EDIT!" in p.read_text(encoding="utf-8")[:500])
for mod in modules:
    if f"deeplearning101.{mod}" not in listed:
        problems.append(f"deeplearning101/{mod}.py is not in the API reference: add the line "
                        f"'deeplearning101.{mod}' to the api-modules block of book/api.md")
inv_path, documented = html / "objects.inv", set()
if inv_path.exists():
    from sphinx.util.inventory import InventoryFile
    with open(inv_path, "rb") as f:
        inv = InventoryFile.load(f, "", lambda base, uri: uri)
    documented = {name for kind, entries in inv.items() if kind.startswith("py:") for name in entries}
n_names = 0
for modname in listed:
    path = root / Path(*modname.split(".")).with_suffix(".py")
    if not path.exists(): path = root / Path(*modname.split(".")) / "__init__.py"
    if not path.exists():
        continue          # autodoc already failed the build on an unimportable module
    names = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            names = ast.literal_eval(node.value)
    n_names += len(names)
    module = importlib.import_module(modname)       # a submodule in __all__ (gpu's `cuda`) has no entry of its own
    missing = [n for n in names if f"{modname}.{n}" not in documented and not inspect.ismodule(getattr(module, n, None))]
    if missing:
        problems.append(f"the API reference has no entry for {len(missing)} public names of {modname}: {missing[:8]}")

if problems:
    print("Book check failed:\n  " + "\n  ".join(problems))
    sys.exit(1)
pages = [p for p in html.rglob("*.html") if not {"_static", "_sources", "_images"} & set(p.relative_to(html).parts)]
print(f"Book check passed: {len(pages)} pages, {len(chapters)} chapters rendered (launch and download buttons, folded "
      f"solutions, equation numbers, no '#|', no tracebacks); API reference: {len(listed)} modules, "
      f"{n_names} public names.")
