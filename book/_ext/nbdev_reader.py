"""Read nbdev notebooks for jupyter-book: turn `#|` directive lines into cell tags and drop them from the page.

myst-nb calls `read_nbdev(text)` for every .ipynb (see `nb_custom_formats` in book/_config.yml).
- `#| hide`, `#| default_exp ...`        -> the cell is removed from the page (it still runs)
- `#| eval: false`, `#| gpu`, `#| slow`  -> the cell is shown but not executed
- `#| code-fold: true`                   -> the source is folded behind a toggle
- `#| solution`                          -> source and output folded together (an exercise's solution:
                                            its printed results are answers too)
- `#| echo: false` / `#| output: false`  -> the source / the output is removed
- `#| export` (`exporti`, `exports`, optionally naming a module)
                                         -> tag `exported-to-<module>`: the page labels the cell with the
                                            module it is exported to ("exported to deeplearning101.graph";
                                            the labels' CSS, exported.css, is written at the end of a build)
Other directives are simply dropped from the displayed source.
"""
import json
import pathlib
import re
import nbformat

_DIRECTIVE = re.compile(r"^\s*#\|\s*(.*?)\s*$")
_SKIP_FLAGS = {"gpu", "slow"}


def _tags_for(directive):
    key, _, value = directive.partition(":")
    key, value = key.strip(), value.strip().lower()
    word = key.split()[0] if key else ""
    if word in ("hide", "default_exp"):
        return ["remove-cell"]
    if word == "eval" and value == "false":
        return ["skip-execution"]
    if word in _SKIP_FLAGS:
        return ["skip-execution"]
    if word == "code-fold" and value in ("true", "show"):
        return ["hide-input"]
    if word == "solution":
        return ["hide-cell"]
    if word == "echo" and value == "false":
        return ["remove-input"]
    if word == "output" and value == "false":
        return ["remove-output"]
    return []


_EXPORT = re.compile(r"^(?:export|exporti|exports)(?:\s+([\w.]+))?$")


def _module(name):
    "nbdev's module name ('optim.__init__') as Python writes it ('deeplearning101.optim')."
    return "deeplearning101." + re.sub(r"\.__init__$", "", name)


def _default_exp(cells):
    for cell in cells:
        if cell.get("cell_type") != "code": continue
        src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        for line in src.splitlines():
            m = _DIRECTIVE.match(line)
            if m and m.group(1).startswith("default_exp"):
                return m.group(1).split()[1]
    return None


def export_tag(directive, default):
    "The tag of an exported cell ('exported-to-graph'), or None for any other directive."
    m = _EXPORT.match(directive.strip())
    if not m or not (m.group(1) or default): return None
    return "exported-to-" + _module(m.group(1) or default).split(".", 1)[1].replace(".", "-")


def strip_directives(nb):
    "Move the leading `#|` lines of every code cell into tags; return the notebook."
    default = _default_exp(nb.cells)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        lines = cell.source.splitlines()
        tags = list(cell.metadata.get("tags", []))
        while lines and (m := _DIRECTIVE.match(lines[0])):
            tags += [t for t in _tags_for(m.group(1)) if t not in tags]
            if (t := export_tag(m.group(1), default)) and t not in tags: tags.append(t)
            lines.pop(0)
        if "hide-cell" in tags and "hide-input" in tags: tags.remove("hide-input")   # one toggle
        cell.source = "\n".join(lines).strip("\n")
        if not cell.source.strip() and "remove-cell" not in tags:
            tags.append("remove-cell")
        if tags:
            cell.metadata["tags"] = tags
    return nb


def read_nbdev(text, **kwargs):
    return strip_directives(nbformat.reads(text, as_version=4))


def exported_css(notebooks):
    "One CSS rule per module the notebooks export to: the label above each exported cell."
    rules = {}
    for path in notebooks:
        cells = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))["cells"]
        default = _default_exp(cells)
        for cell in cells:
            src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            for line in src.splitlines():
                if not (m := _DIRECTIVE.match(line)): break
                if (tag := export_tag(m.group(1), default)):
                    name = _module(_EXPORT.match(m.group(1).strip()).group(1) or default)
                    rules[tag] = (f'div.cell.tag_{tag}::before {{ content: "exported to {name}"; }}')
    return "\n".join([_LABEL_CSS] + [rules[t] for t in sorted(rules)]) + "\n"


# The label: small, grey, above the cell (and above the toggle of a folded cell), on the right.
_LABEL_CSS = """div.cell[class*="tag_exported-to-"]::before {
  display: block; text-align: right; font-size: 0.75rem; line-height: 1.2;
  color: var(--pst-color-text-muted, #6c757d); font-family: var(--pst-font-family-monospace, monospace);
  margin-bottom: 0.15rem;
}"""


def _write_exported_css(app, exception):
    if exception is not None or app.builder.format != "html": return
    css = exported_css(sorted(pathlib.Path(app.srcdir).glob("nbs/*.ipynb")))
    out = pathlib.Path(app.outdir) / "_static" / "exported.css"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(css, encoding="utf-8")


def setup(app):
    app.add_css_file("exported.css")
    app.connect("build-finished", _write_exported_css)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
