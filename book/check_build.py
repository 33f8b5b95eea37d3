"""Check a finished book build: every chapter notebook is in the TOC and was rendered, and no page shows
nbdev directive lines (`#| ...`) or a Python traceback. jupyter-book silently drops TOC entries it cannot
resolve, so a successful build alone does not prove that every chapter is there."""
import re
import sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
html = root / "book" / "_build" / "html"
toc = (root / "book" / "_toc.yml").read_text()
chapters = sorted(p.stem for p in (root / "nbs").glob("*.ipynb"))   # chapters and appendices alike
problems = []
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
if problems:
    print("Book check failed:\n  " + "\n  ".join(problems))
    sys.exit(1)
print(f"Book check passed: {len(chapters)} chapters rendered, no directive lines, no tracebacks.")
