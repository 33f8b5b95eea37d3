"""Author-year citations in round brackets, the way the chapters' prose already reads: {cite:t}`rosenblatt1958`
renders "Rosenblatt (1958)" and {cite:p}`rosenblatt1958` "(Rosenblatt, 1958)". sphinxcontrib-bibtex's own
`author_year` style uses square brackets; this registers the same style with round ones under the name
`author_year_round` (selected by `bibtex_reference_style` in book/_config.yml), as its documentation shows."""
import dataclasses

import sphinxcontrib.bibtex.plugin
from sphinxcontrib.bibtex.style.referencing import BracketStyle
from sphinxcontrib.bibtex.style.referencing.author_year import AuthorYearReferenceStyle


def _round():
    return BracketStyle(left="(", right=")")


@dataclasses.dataclass
class RoundAuthorYearReferenceStyle(AuthorYearReferenceStyle):
    bracket_parenthetical: BracketStyle = dataclasses.field(default_factory=_round)
    bracket_textual: BracketStyle = dataclasses.field(default_factory=_round)
    bracket_author: BracketStyle = dataclasses.field(default_factory=_round)
    bracket_label: BracketStyle = dataclasses.field(default_factory=_round)
    bracket_year: BracketStyle = dataclasses.field(default_factory=_round)


sphinxcontrib.bibtex.plugin.register_plugin(
    "sphinxcontrib.bibtex.style.referencing", "author_year_round", RoundAuthorYearReferenceStyle)


def setup(app):
    return {"parallel_read_safe": True, "parallel_write_safe": True}
