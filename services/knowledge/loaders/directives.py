"""Docutils/Sphinx directives, as reStructuredText (`.. note::`) and MyST Markdown
(```` ```{note} ````) write them: which carry text, which only steer the rendering, and the
label a rendered page shows for them."""

from __future__ import annotations

# Directives that steer the rendering and carry no text of their own: dropped whole. A
# table of contents ("toctree"), an included file or a program's output are not text of
# the page they sit in.
RENDERING_DIRECTIVES = frozenset(
    (
        "include",
        "literalinclude",
        "contents",
        "toctree",
        "sectnum",
        "section-numbering",
        "header",
        "footer",
        "raw",
        "class",
        "role",
        "default-role",
        "title",
        "meta",
        "target-notes",
        "image",
        "highlight",
        "index",
        "program-output",
        "command-output",
    )
)
ADMONITIONS = frozenset(
    ("attention", "caution", "danger", "error", "hint", "important", "note", "tip", "warning")
)
# Directives whose argument is a title worth keeping as text.
TITLED_DIRECTIVES = frozenset(
    ("admonition", "topic", "sidebar", "rubric", "table", "csv-table", "list-table")
)
# Directives whose content is code (a notebook's cell, a doctest, a diagram's source): kept
# verbatim, never read as markup.
LITERAL_DIRECTIVES = frozenset(
    (
        "code",
        "code-block",
        "sourcecode",
        "parsed-literal",
        "math",
        "code-cell",
        "doctest",
        "testcode",
        "testoutput",
        "mermaid",
        "graphviz",
    )
)
# Sphinx's version notes, labelled as Sphinx renders them ("New in version 3.2: ...").
VERSION_NOTES = {
    "versionadded": "New in version",
    "versionchanged": "Changed in version",
    "deprecated": "Deprecated since version",
}


def directive_label(name: str, argument: str) -> str:
    """The text a rendered page shows before the directive's content ("" for none)."""
    if name in ADMONITIONS:
        return f"{name.capitalize()}: {argument}".rstrip()
    if name == "seealso":
        return f"See also: {argument}".rstrip()
    if name in VERSION_NOTES:
        version, _, said = argument.partition(" ")
        return f"{VERSION_NOTES[name]} {version}: {said.strip()}".rstrip()
    if name in TITLED_DIRECTIVES:
        return argument
    return ""
