"""The HTML loader's fast path (libxml2's tree) reads every page it takes exactly as the bs4
path does, and leaves to bs4 every page where the two parsers' trees could differ.

Differential: each page is read by both (`html_fast.read_fast` and `html._read`) and the
readings compared whole (title, sections, meta tags, `lang`). The pages: the HTML fixtures
and sample documents as they are and with their links taken out (so more of their real
markup goes through the fast path: link lists and menus send a page to bs4), pages
written here for each rule the fast path ports, pages of random well-nested markup, and
malformed pages, which must go to bs4."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from services.knowledge.loaders import FileLoader
from services.knowledge.loaders.html import HtmlPage, _read
from services.knowledge.loaders.html_fast import read_fast
from tests.hostile_inputs import unclosed_script_page

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(
    path
    for folder in ("tests/fixtures", "sample_data")
    for path in (ROOT / folder).rglob("*")
    if path.suffix.lower() in (".html", ".htm") and path.is_file()
)
_LINK_TAGS = re.compile(rb"</?a(?:\s[^>]*)?>", re.IGNORECASE)


def _page(body: str, head: str = "<title>Rules</title>") -> bytes:
    return f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>\n".encode()


def _both(name: str, data: bytes) -> tuple[HtmlPage | None, HtmlPage]:
    return read_fast(name, data), _read(name, data)


def test_the_sample_pages_are_many() -> None:
    assert len(PAGES) > 50


@pytest.mark.parametrize("path", PAGES, ids=lambda path: str(path.relative_to(ROOT)))
def test_a_sample_page_reads_the_same_on_both_paths_with_and_without_its_links(
    path: Path,
) -> None:
    data = path.read_bytes()
    for page in (data, _LINK_TAGS.sub(b"", data)):
        fast, slow = _both(path.name, page)
        assert fast is None or fast == slow


def test_most_sample_pages_take_the_fast_path() -> None:
    """(Else the test above would compare little: 63 of the 88 took it when it was written;
    the SQLite pages' unclosed tags send them to bs4.)"""
    taken = [path for path in PAGES if read_fast(path.name, path.read_bytes()) is not None]
    assert len(taken) >= 50, len(taken)


# Pages for the rules the fast path ports; each must take it and read as bs4 reads it.
PORTED = {
    "nested lists": _page(
        "<h1>Tasks</h1><ul><li>one<ul><li>owner 1</li><li>due <em>day</em> 3</li></ul></li>"
        "<li><p>two</p><ol><li>a</li><li>b</li></ol></li></ul>"
    ),
    "numbered lists": _page(
        "<h1>Steps</h1><ol start=' 3'><li>three</li><li value='7'>seven</li><li>eight</li></ol>"
        "<ol reversed><li>c<ol><li>inner</li></ol></li><li>b</li><li>a</li></ol>"
        "<ol start='x'><li value='y'>odd</li></ol>"
    ),
    "tables": _page(
        "<h1>Accounts</h1><table><caption>Keys</caption><thead><tr><th colspan='2'>id | key</th>"
        "</tr></thead><tbody><tr><td rowspan='2'>1</td><td>a<br>b</td></tr><tr><td></td></tr>"
        "<tr><td><table><tr><td>inner</td><td>cell</td></tr></table></td><td>x</td></tr>"
        "<tr><td> </td><td></td></tr></tbody></table>"
    ),
    "code": _page(
        "<h1>Scripts</h1><pre><code>\nvalue = compute(1)  # &lt;one&gt;\n\n</code></pre>"
        "<pre>   </pre><p>Between</p><pre>"
        + "".join(f"This line of the help page reads as prose, number {i}.\n" for i in range(45))
        + "</pre>"
    ),
    "headings and blocks": _page(
        "<h1>Policy ¶</h1><div>Intro <span>text</span><div>inner</div>after</div>"
        "<h2>Part&nbsp;1 &amp; 2</h2><blockquote>quoted</blockquote><p>a<i>b</i> c</p>"
        "<h3></h3><p>tail &#169; &#x2014; end</p><hr><figure><figcaption>cap</figcaption></figure>"
        "<h4>Deep</h4>text<br>line<br><br>more <b>bold</b> words",
        head="<meta charset='utf-8'><title>Policy — Site</title>",
    ),
    "dropped elements": _page(
        "<h1>Rules</h1><script>if (a < b) { x() }</script><p>kept</p>\n<nav><ul><li>Home</li>"
        "</ul></nav><style>p {}</style><div hidden>secret</div><p aria-hidden='TRUE'>icon</p>"
        "<footer>Copyright</footer><p>last<!-- a comment --> words</p><noscript>no</noscript>",
        head="<meta name='author' content=' People   Team '><meta name='category' content='hr'>"
        "<meta property='article:modified_time' content='2024-02-01'><title>Rules</title>",
    ),
    "title banner": _page(
        "<div><p>Leave Policy</p></div><h2>Annual</h2><p>Leave Policy</p><p>days</p>",
        head="<title>Leave Policy | Intranet</title>",
    ),
    "no headings": _page("<p>Only a paragraph.</p>", head=""),
    "links in prose": _page(
        "<h1>Links</h1><p>See <a href='#x'>the</a> <a href='/y'>other</a> page.</p>"
        "<p><a href='/a'>one</a> | <a href='/b'>two</a></p><p id='x'><b>Bold</b> and not</p>"
        "<ul><li><p><b>Lead</b> in</p><p>more</p></li></ul><p><a href='/c'>x</a><br>"
        "<a href='/d'>y</a> and text</p><p>We made it with <a href='/s'>love</a>.</p>"
    ),
    "a documentation page's chrome": _page(
        "<header><a href='/'>Site</a> tagline</header><div role='navigation'>menu</div>"
        "<form action='/search'><input type='search' name='q'></form>"
        "<div class='related'>Previous</div><main><div class='body' role='main'>"
        "<h1>Guide<a class='headerlink' href='#guide'>¶</a></h1><p>Read <em>this</em>.</p>"
        "<h2>Part<a href='#part'>#</a></h2><form><input name='x'>Field</form>"
        "<section><header>Section's own header</header>text</section>"
        "<a href='_sources/guide.txt'>Show Source</a></div></main>"
        "<div id='footer'>Last updated</div><div class='md-footer'>footer</div>",
        head="<meta charset='utf-8'><title>Guide — Docs</title>",
    ),
    "definition lists": _page(
        "<h1>Options</h1><dl><dt>-a, --all:</dt><dd><p>Stash all.</p><p>Also ignored.</p>"
        "<pre>git stash -a</pre><p>After code.</p></dd><dt>--quiet</dt><dt>-q</dt><dd>Quiet."
        "</dd><div><dt>Undo add</dt><dd><!-- note --><pre>git reset</pre></dd></div>"
        "<dt>Why stash?</dt><dd><p>To switch.</p></dd><dd>Second answer.</dd>"
        "<dt></dt><dd><div><p>a</p><p>b</p></div>c</dd><dt>Empty</dt><dd> </dd>"
        "<dt>Term<a href='#t'>¶</a></dt><dd><ul><li>x</li></ul></dd></dl><p>After.</p>",
        head="<meta charset='utf-8'><title>Options</title>",
    ),
    "link lists": _page(
        "<div><a href='/'>Home</a> | <a href='/docs'>Docs</a> | <a href='/blog'>Blog</a></div>"
        "<div>Contents<ul><li><a href='#a'>Part A</a></li><li><a href='#b'>Part B</a></li>"
        "<li><a href='#c'>Part C</a></li></ul></div><h1>Guide</h1><p>Intro with "
        "<a href='/x'>a</a>, <a href='/y'>b</a> and <a href='/z'>c</a>.</p>"
        "<table><tr><td><a href='/p'>Prev</a></td><td><a href='/u'>Up</a></td>"
        "<td><a href='/n'>Next</a></td></tr></table><h2 id='a'>Part A</h2><p>text</p>"
        "<ul><li><a href='/one'>one long link text here</a></li><li><a href='/two'>two</a></li>"
        "<li><a href='/three'>three</a></li></ul>"
        "<table><tr><td><a href='/p'>Prev</a></td><td><a href='/u'>Up</a></td>"
        "<td><a href='/n'>Next</a></td></tr></table>"
    ),
    "body and html left open": b"<html><body><h1>T</h1><p>x</p>\n\n",
    "an XHTML prolog": b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html PUBLIC "-//W3C//'
    b'DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">'
    b'<html xmlns="http://www.w3.org/1999/xhtml" lang="en"><head><meta http-equiv="Content-Type"'
    b' content="text/html; charset=UTF-8" /><title>WAL</title></head><body><h1>WAL</h1>'
    b"<p>Caf\xc3\xa9<br />log</p></body></html>",
    "a single article": _page(
        "<div>Outside the article</div><article><h1>News</h1><p>Body.</p></article>"
    ),
}


@pytest.mark.parametrize("name", PORTED)
def test_a_page_of_ported_rules_takes_the_fast_path_and_reads_the_same(name: str) -> None:
    fast, slow = _both(f"{name}.html", PORTED[name])
    assert fast is not None
    assert fast == slow


def test_the_loader_reads_a_fast_page_as_it_reads_a_slow_one() -> None:
    loader = FileLoader()
    page = PORTED["dropped elements"]
    document = loader.load("rules.html", page)
    assert document.title == "Rules"
    assert document.metadata == {"author": "People Team"}
    assert document.category == "hr"
    assert "secret" not in str(document.sections) and "kept" in document.sections[0].text


# Pages where html.parser and libxml2 could build different trees or read different text.
MALFORMED = {
    "unclosed items": _page("<h1>T</h1><ul><li>one<li>two</ul>"),
    "unclosed paragraph": _page("<h1>T</h1><p>one<p>two</p>"),
    "misnested": _page("<h1>T</h1><p><b>bold <i>both</b> italic</i></p>"),
    "self-closed div": _page("<h1>T</h1><div/>text"),
    "stray end tag": _page("<h1>T</h1></span><p>x</p>"),
    "block in paragraph": _page("<h1>T</h1><p>a<div>b</div>c</p>"),
    "reference without semicolon": _page("<h1>T</h1><p>a &amp b &copy 2020</p>"),
    "unknown entity": _page("<h1>T</h1><p>&notanentity;</p>"),
    "html5 entity": _page("<h1>T</h1><p>&NotEqualTilde;</p>"),
    "C1 reference": _page("<h1>T</h1><p>&#150;</p>"),
    "carriage returns": _page("<h1>T</h1><pre>a\r\nb</pre>"),
    "undeclared utf-8": _page("<h1>Café</h1><p>crème</p>"),
    "latin-1": "<html><body><h1>Caf\xe9</h1></body></html>".encode("latin-1"),
    "fragment": b"<h1>T</h1><p>no html or body</p>",
    "text after the page": _page("<h1>T</h1>") + b"<p>after</p>",
    "markup in title": _page("<h1>T</h1>", head="<title>a <b>b</b></title>"),
    "custom element": _page("<h1>T</h1><my-widget>x</my-widget>"),
    "cdata": _page("<h1>T</h1><![CDATA[x]]>"),
    "duplicate attribute": _page("<h1>T</h1><ol start=2 start=5><li>x</li></ol>"),
    "links one per line": _page(
        "<h1>T</h1><p><a href='/a'>a</a><br><a href='/b'>b</a><br><a href='/c'>c</a></p>"
    ),
    "a generator credit": _page(
        "<h1>T</h1><p>x</p><p>This page was generated by <a href='/t'>tool</a> 1.0</p>"
    ),
    "a rel bar": _page("<h1>T</h1><p><a rel='next' href='/n'>Next</a></p>"),
    "a question": _page("<h1>T</h1><p><b>Why?</b></p><p>Because.</p>"),
    "an item title": _page("<h1>T</h1><ol><li><p><b>Title</b></p><p>text</p></li></ol>"),
    "a linked bold paragraph": _page(
        "<h1>T</h1><p><a href='#q'>q</a></p><p id='q'><b>Linked</b></p>"
    ),
    "a footnote": _page(
        "<h1>T</h1><p>x<a class='footnote-reference' href='#f'>1</a></p>"
        "<aside class='footnote' id='f'>note</aside>"
    ),
    "a summary": _page("<h1>T</h1><details><summary>Why?</summary>x</details>"),
    "a Doxygen title": _page("<div class='header'><div class='headertitle'>T</div></div>"),
    "a footnote role": _page("<h1>T</h1><section role='doc-endnotes'>x</section>"),
    "a dropped element between words": _page("<h1>T</h1><p>Ru<script>x</script>les</p>"),
    "unclosed at the end": b"<html><body><h1>T</h1><p>x</p><div>open",
    "a prolog not first": b"<html><?xml version='1.0'?><body><h1>T</h1></body></html>",
}


@pytest.mark.parametrize("name", MALFORMED)
def test_a_page_the_parsers_could_read_apart_goes_to_bs4(name: str) -> None:
    assert read_fast(f"{name}.html", MALFORMED[name]) is None


BLOCKS: tuple[str, ...] = (
    "div",
    "p",
    "section",
    "blockquote",
    "ul",
    "ol",
    "li",
    "table",
    "tr",
    "td",
    "pre",
)
BLOCKS += ("dl", "dt", "dd", "dd", "main", "header", "nav", "aside")
INLINE = ("span", "em", "i", "code", "b", "small", "br", "script", "h2", "h3", "a", "a")
WORDS: tuple[str, ...] = (
    "alpha",
    "beta",
    "  ",
    "\n",
    "gamma delta",
    "&amp;",
    "x|y",
    "Rules",
    "¶",
    "é",
    "Why?",
)
WORDS += ("<!-- c -->", "Rules:", "|")


def _random_markup(rng: random.Random, depth: int) -> str:
    parts = []
    for _ in range(rng.randint(0, 4)):
        pick = rng.random()
        if pick < 0.4 or depth > 5:
            parts.append(rng.choice(WORDS))
            continue
        tag = rng.choice(BLOCKS if pick < 0.75 else INLINE)
        attributes = rng.choice(
            ("", " class='note'", " hidden", " value='3'", " start='2'", " id='n'", " role='main'")
        )
        if tag == "a":
            attributes += rng.choice((" href='#n'", " href='/page'", ""))
        if tag == "br":
            parts.append("<br>")
        else:
            parts.append(f"<{tag}{attributes}>{_random_markup(rng, depth + 1)}</{tag}>")
    return "".join(parts)


def test_random_well_nested_pages_read_the_same_on_both_paths() -> None:
    rng = random.Random(20261129)
    taken = 0
    for number in range(300):
        body = "<h1>Rules</h1>" + _random_markup(rng, 0)
        page = _page(body, head="<meta charset='utf-8'><title>Rules</title>")
        fast, slow = _both(f"random-{number}.html", page)
        if fast is not None:
            taken += 1
            assert fast == slow, body
    assert taken >= 100, taken  # libxml2 repairs some (a block in a <p>): those go to bs4


def test_a_hostile_page_is_turned_down_in_one_scan() -> None:
    """Pages that would make a scanner looking for each end from each start quadratic: each
    is said no to (unclosed elements) without reading the rest once per start."""
    for page in (
        unclosed_script_page(1_000_000),
        unclosed_script_page(1_000_000, tag=b"<!--"),
        b"<html><body>" + b"<p a " * 200_000,
        b"<html><body>" + b'<p a="' * 200_000,
        b"<html><body>" + b"<script>x<!--" * 100_000 + b"</script></body></html>",
    ):
        # (closed, so that the scan runs to its end rather than stopping at the first look)
        assert read_fast("hostile.html", page + b"</body></html>") is None


def _random_link_block(rng: random.Random) -> str:
    """A block of links as menus, tables of contents and bars are written, or not quite."""
    texts = (*WORDS[:5], "Next", "Part A")
    links = [
        f"<a href='{rng.choice(('#p', '/page', '#', ''))}'>{rng.choice(texts)}</a>"
        for _ in range(rng.randint(2, 6))
    ]
    shape = rng.random()
    if shape < 0.3:
        tag = rng.choice(("ul", "ol"))
        block = f"<{tag}>" + "".join(f"<li>{link}</li>" for link in links) + f"</{tag}>"
    elif shape < 0.5:
        block = "<table><tr>" + "".join(f"<td>{link}</td>" for link in links) + "</tr></table>"
    else:
        tag = rng.choice(("p", "div"))
        glue = rng.choice((" | ", "<br>", " ", ", and ", ""))
        block = f"<{tag}>{glue.join(links)}</{tag}>"
    label = rng.choice(("", "Contents", "Table of contents and more words " * 4))
    return f"<div>{label}{block}</div>" if rng.random() < 0.5 else block


def test_random_pages_of_link_blocks_read_the_same_on_both_paths() -> None:
    rng = random.Random(29112026)
    taken = 0
    for number in range(300):
        parts = [_random_link_block(rng) if rng.random() < 0.6 else "<h2>Part</h2><p>x</p>"]
        parts += [_random_link_block(rng) for _ in range(rng.randint(0, 3))]
        bar = _random_link_block(rng)
        body = bar + "<h1>Rules</h1>" + "".join(parts) + (bar if rng.random() < 0.4 else "")
        fast, slow = _both(f"links-{number}.html", _page(body))
        if fast is not None:
            taken += 1
            assert fast == slow, body
    assert taken >= 100, taken
