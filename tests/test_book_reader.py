"""The book's notebook reader turns nbdev directives into jupyter-book cell tags (book/_ext/nbdev_reader.py)."""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "book" / "_ext"))
from nbdev_reader import exported_css, read_nbdev  # noqa: E402


def _nb(*sources):
    cells = [dict(cell_type="code", metadata={}, source=s, outputs=[], execution_count=None, id=f"c{i}")
             for i, s in enumerate(sources)]
    return json.dumps(dict(cells=cells, metadata={}, nbformat=4, nbformat_minor=5))


def test_directives_become_tags_and_disappear():
    nb = read_nbdev(_nb("#| export\ndef f(): pass", "#| hide\nimport os", "#| default_exp graph",
                        "#| eval: false\nraise SystemExit", "#| gpu\nimport cupy", "#|slow\nx = 1",
                        "#| code-fold: true\ny = 2", "#| echo: false\nz = 3", "plain = 1"))
    src = [c.source for c in nb.cells]
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    assert not any("#|" in s for s in src)
    assert src[0] == "def f(): pass" and tags[0] == ["exported-to-graph"]
    assert tags[1] == ["remove-cell"] and tags[2] == ["remove-cell"]
    assert tags[3] == ["skip-execution"] and tags[4] == ["skip-execution"] and tags[5] == ["skip-execution"]
    assert tags[6] == ["hide-input"] and tags[7] == ["remove-input"] and tags[8] == []
    assert src[8] == "plain = 1"


def test_exported_cells_are_labelled_with_their_module(tmp_path):
    "`#| export` cells get a tag naming their module; the book's CSS turns each tag into a visible label."
    text = _nb("#| default_exp optim.__init__", "#| export\nclass SGD: pass",
               "#| exporti\n#| code-fold: true\ndef _f(): pass", "#| export nn.functional\ng = 1",
               "x = 1  # not exported", "#| hide\n#| export\nh = 2")
    tags = [c.metadata.get("tags", []) for c in read_nbdev(text).cells]
    assert tags[1] == ["exported-to-optim"]
    assert tags[2] == ["exported-to-optim", "hide-input"]
    assert tags[3] == ["exported-to-nn-functional"] and tags[4] == []
    assert "remove-cell" in tags[5]
    nb = tmp_path / "x.ipynb"
    nb.write_text(text)
    css = exported_css([nb])
    assert 'div.cell.tag_exported-to-optim::before { content: "exported to deeplearning101.optim"; }' in css
    assert '"exported to deeplearning101.nn.functional"' in css


def test_every_chapter_is_in_the_toc():
    root = Path(__file__).resolve().parent.parent
    toc = (root / "book" / "_toc.yml").read_text()
    chapters = sorted(p.stem for p in (root / "nbs").glob("[0-9][0-9]_*.ipynb"))
    assert chapters, "no chapters found"
    for stem in chapters:
        assert f"file: nbs/{stem}" in toc, stem


def test_every_notebook_installs_the_package_on_colab():
    "The Colab launch button opens a bare runtime: each notebook's hidden set-up cell installs this repository there."
    import re
    root = Path(__file__).resolve().parent.parent
    repo = re.search(r'^Repository\s*=\s*"([^"]+)"', (root / "pyproject.toml").read_text(), re.M).group(1)
    for p in sorted((root / "nbs").glob("*.ipynb")):
        cells = json.loads(p.read_text())["cells"]
        setup = [c for c in cells if "google.colab" in "".join(c["source"])]
        assert len(setup) == 1, f"{p.name}: expected one Colab set-up cell"
        src = "".join(setup[0]["source"])
        assert src.startswith("#| hide") and f"git+{repo}" in src, p.name
        first_import = next(i for i, c in enumerate(cells) if c["cell_type"] == "code" and "google.colab" not in
                            "".join(c["source"]) and re.search(r"(from|import) deeplearning101", "".join(c["source"])))
        assert cells.index(setup[0]) < first_import, f"{p.name}: the set-up cell must come before the first import"
