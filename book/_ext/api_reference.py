"""The book's API reference: one section per package module, generated from the docstrings by sphinx autodoc.

book/api.md lists the modules, one per line, inside the directive

    ```{api-modules}
    deeplearning101.graph
    deeplearning101.autodiff
    ```

and each line becomes a section: a heading, a link to the chapter the module is exported from, and
`automodule` with the options of `autodoc_default_options` (book/_config.yml: members = the module's `__all__`,
with signatures, in source order). Adding a module to the reference is adding its line; a listed module that
cannot be imported is an autodoc warning, hence a failed build under -W, and book/check_build.py fails when a
module of the package is not listed or a name of some `__all__` has no entry in the built reference.

nbdev docstrings are written in Markdown (`code`, $math$, [links](url), |x|), but autodoc parses them as reST,
where a single backtick is "interpreted text" (rendered in italics), `name_` is a hyperlink reference and
`|x|` a substitution — the last two are errors under -W. `markdown_to_rest` translates the few Markdown
constructs the docstrings use into their reST equivalents, so a docstring renders as its author meant it.
"""
import importlib
import inspect
import re
from importlib.util import find_spec
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.pycode import ModuleAnalyzer
from sphinx.util.docutils import SphinxDirective

# nbdev writes "File to edit: ../nbs/00_graph.ipynb" at the top of every module it generates
# ("../../nbs/04_optim.ipynb" for a package's __init__.py).
_SOURCE_NB = re.compile(r"File to edit: (?:\.\./)+(\S+)\.ipynb")

# One docstring line = literal spans (`code`, ``code``, :role:`x`) and the text between them.
_LITERAL = re.compile(r"(:[\w:.-]+:`[^`]+`|``[^`]+``|`[^`]+`)")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_MATH = re.compile(r"(?<![\w$\\])\$([^$\s](?:[^$]*[^$\s])?)\$(?![\w$])")


def _text_to_rest(text):
    "Markdown prose between code spans -> reST: [links](url), $math$, and escapes for reST's own markup."
    out = []
    for i, part in enumerate(_LINK.split(text)):          # split() with 2 groups: text, label, url, text, ...
        if i % 3 == 1:
            out.append(f"`{part} <")
        elif i % 3 == 2:
            out.append(f"{part}>`__")
        else:
            for j, piece in enumerate(_MATH.split(part)):
                if j % 2:
                    out.append(f":math:`{piece}`")
                else:   # `name_` is a hyperlink reference in reST and `|x|` a substitution: escape both
                    out.append(_escape_stars(re.sub(r"(?<=\w)_(?=\W|$)", r"\\_", piece).replace("|", r"\|")))
    return "".join(out)


def _escape_stars(text):
    """*italic* and **bold** mean the same in both; an unpaired star (`*args`) would open emphasis in reST and
    warn, so when the stars that can open or close emphasis do not pair up, all of them are escaped."""
    for star in (r"(?<![*\\])\*\*(?!\*)", r"(?<![*\\])\*(?!\*)"):
        found = [m for m in re.finditer(star, text)
                 if not ((m.start() == 0 or text[m.start() - 1].isspace())
                         and (m.end() == len(text) or text[m.end()].isspace()))]      # ` * ` is no markup
        if len(found) % 2:
            for m in reversed(found):
                text = text[:m.start()] + "\\" + "\\".join(m.group(0)) + text[m.end():]
    return text


def markdown_to_rest(line):
    "One Markdown docstring line as reST: `code` -> ``code``, the text around code spans via `_text_to_rest`."
    parts = _LITERAL.split(line)
    for i, part in enumerate(parts):
        if i % 2 == 0:
            parts[i] = _text_to_rest(part)
        elif re.fullmatch(r"`[^`\s]([^`]*[^`\s])?`", part):        # `code` (reST wants ``code``)
            before, after = parts[i - 1], parts[i + 1] if i + 1 < len(parts) else ""
            # reST inline markup must not touch a letter ("`x`s"): an escaped space separates them invisibly
            parts[i] = ("\\ " if before[-1:].isalnum() else "") + f"`{part}`" + ("\\ " if after[:1].isalnum() else "")
    return "".join(parts)


_ITEM = re.compile(r"\s*([-*+]|\d+\.)\s")


def _convert_docstring(lines):
    "Convert a docstring in place; a Markdown list touching a paragraph gets the blank lines reST needs."
    out, in_list = [], False
    for line in lines:
        item, text = bool(_ITEM.match(line)), bool(line.strip())
        if item and out and out[-1].strip() and not in_list:
            out.append("")                      # a list needs a blank line before it ...
        elif in_list and text and not item and not line[:1].isspace():
            out.append("")                      # ... and after it
        in_list = item or (in_list and (line[:1].isspace() or not text) and text)
        out.append(markdown_to_rest(line))
    lines[:] = out


def source_notebook(modname):
    "The notebook a module is exported from ('nbs/00_graph'), read from nbdev's header, or None."
    spec = find_spec(modname)
    if spec is None or not spec.origin:
        return None
    m = _SOURCE_NB.search(Path(spec.origin).read_text(encoding="utf-8")[:2000])
    return m.group(1) if m else None


def undocumented_data(modname):
    """The constants in `__all__` that `automodule` leaves out. autodoc documents a module-level variable only
    when the source gives it a doc comment (`#: ...`); the others are listed explicitly with `autodata`."""
    try:
        module = importlib.import_module(modname)
        attr_docs = ModuleAnalyzer.for_module(modname).find_attr_docs()
    except Exception:
        return []       # automodule reports the import error itself, as a warning (an error under -W)
    return [name for name in getattr(module, "__all__", [])
            if not (inspect.isclass(getattr(module, name, None)) or callable(getattr(module, name, None))
                    or inspect.ismodule(getattr(module, name, None))) and ("", name) not in attr_docs]


def process_docstring(app, what, name, obj, options, lines):
    if not name.startswith("deeplearning101"):
        return
    if what == "module":
        # nbdev's module docstring is a link to nbdev's own docs site ("Docs: https://...html.md"), which this
        # book does not publish; the section heading and the chapter link written by `api-modules` replace it.
        lines[:] = []
        return
    if what in ("data", "attribute") and type(obj).__doc__ and \
            "\n".join(lines).strip() == inspect.cleandoc(type(obj).__doc__).strip():
        lines[:] = []   # a constant has no docstring of its own: autodoc shows its type's (dict's, tuple's)
        return
    _convert_docstring(lines)


class ApiModules(SphinxDirective):
    "One section per module named in the content: heading, chapter link, automodule."
    has_content = True

    def run(self):
        self.env.note_dependency(__file__)      # re-read the page when this extension changes
        text = []
        for modname in (line.strip() for line in self.content):
            if not modname or modname.startswith("#"):
                continue
            if not re.fullmatch(r"[A-Za-z_][\w.]*", modname):
                raise self.error(f"api-modules: {modname!r} is not a module name")
            nb = source_notebook(modname)
            if nb is None:
                where = ""
            elif nb in self.env.found_docs:
                where = f"Exported from {{doc}}`/{nb}` (`{nb}.ipynb`)."
            else:  # the chapter exists but is not (yet) in book/_toc.yml
                where = f"Exported from `{nb}.ipynb`."
            data = [f".. autodata:: {modname}.{name}" for name in undocumented_data(modname)]
            text += [f"## {modname}", "", where, "", "```{eval-rst}", f".. automodule:: {modname}", "", *data,
                     "```", ""]
        container = nodes.Element()
        self.state.nested_parse(StringList(text, source=self.get_source_info()[0]), self.content_offset,
                                container, match_titles=True)
        return container.children


def drop_object_bases(app, doctree):
    "show-inheritance writes 'Bases: object' under every plain class; that line says nothing, so it goes."
    for para in list(doctree.findall(nodes.paragraph)):
        if para.astext() == "Bases: object" and para.parent.tagname == "desc_content":
            para.parent.remove(para)


def setup(app):
    app.setup_extension("sphinx.ext.autodoc")
    app.add_directive("api-modules", ApiModules)
    app.connect("autodoc-process-docstring", process_docstring)
    app.connect("doctree-read", drop_object_bases)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
