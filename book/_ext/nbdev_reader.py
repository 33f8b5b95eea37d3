"""Read nbdev notebooks for jupyter-book: turn `#|` directive lines into cell tags and drop them from the page.

myst-nb calls `read_nbdev(text)` for every .ipynb (see `nb_custom_formats` in book/_config.yml).
- `#| hide`, `#| default_exp ...`        -> the cell is removed from the page (it still runs)
- `#| eval: false`, `#| gpu`, `#| slow`  -> the cell is shown but not executed
- `#| code-fold: true`                   -> the source is folded behind a toggle
- `#| solution`                          -> source and output folded together (an exercise's solution:
                                            its printed results are answers too)
- `#| echo: false` / `#| output: false`  -> the source / the output is removed
Other directives (`#| export`, ...) are simply dropped from the displayed source.
"""
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


def strip_directives(nb):
    "Move the leading `#|` lines of every code cell into tags; return the notebook."
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        lines = cell.source.splitlines()
        tags = list(cell.metadata.get("tags", []))
        while lines and (m := _DIRECTIVE.match(lines[0])):
            tags += [t for t in _tags_for(m.group(1)) if t not in tags]
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


def setup(app):
    return {"parallel_read_safe": True, "parallel_write_safe": True}
