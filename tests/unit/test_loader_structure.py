"""Loaders keep a document's structure and drop the page's chrome.

Small hand-written pages in the markup real generators produce (Sphinx, DocBook, MkDocs, a
hand-made FAQ, Markdown renderers' footnotes) and a reStructuredText source saved as .txt.
"""

from __future__ import annotations

import pytest

from services.knowledge.loaders import FileLoader
from use_cases.knowledge.domain import ParsedDocument


@pytest.fixture(scope="module")
def loader() -> FileLoader:
    return FileLoader()


def paths(document: ParsedDocument) -> list[tuple[str, ...]]:
    return [section.heading_path for section in document.sections]


def everything(document: ParsedDocument) -> str:
    """All stored text, headings included, one part per line."""
    parts = [document.title]
    for section in document.sections:
        parts.extend(section.heading_path)
        parts.append(section.text)
    return "\n".join(parts)


def section(document: ParsedDocument, *path: str) -> str:
    texts = [s.text for s in document.sections if s.heading_path == path]
    assert texts, f"no section {path}; have {paths(document)}"
    return "\n\n".join(texts)


# --- fixtures -------------------------------------------------------------------------------

SPHINX = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8" />
<title>Sorting Guide &#8212; Example 1.0 documentation</title></head>
<body>
<div class="related" role="navigation" aria-label="related navigation">
  <h3>Navigation</h3>
  <ul><li><a href="genindex.html">index</a></li><li><a href="next.html">next</a> |</li>
  <li><a href="prev.html">previous</a> |</li></ul>
</div>
<div class="document"><div class="documentwrapper"><div class="bodywrapper">
<div class="body" role="main">
<section id="sorting-guide">
<h1>Sorting Guide<a class="headerlink" href="#sorting-guide" title="Permalink">¶</a></h1>
<dl class="field-list simple">
<dt class="field-odd">Author<span class="colon">:</span></dt>
<dd class="field-odd"><p>Ada Lovelace</p></dd>
</dl>
<p>Python sorts are stable<a class="footnote-reference brackets" href="#id3" id="id1"
role="doc-noteref"><span class="fn-bracket">[</span>1<span class="fn-bracket">]</span></a>.
Another paragraph follows.</p>
<section id="key-functions">
<h2>Key Functions<a class="headerlink" href="#key-functions" title="Permalink">¶</a></h2>
<p>Use a key function <a class="footnote-reference brackets" href="#id4" id="id2"
role="doc-noteref"><span class="fn-bracket">[</span>2<span class="fn-bracket">]</span></a>:</p>
<div class="highlight-pycon notranslate"><div class="highlight"><pre><span></span><span
class="gp">&gt;&gt;&gt; </span>sorted(words, key=str.lower) &lt; [&#39;b&#39;]
True
</pre></div></div>
<aside class="footnote-list brackets">
<aside class="footnote brackets" id="id3" role="note">
<span class="label"><span class="fn-bracket">[</span><a role="doc-backlink" href="#id1">1</a>
<span class="fn-bracket">]</span></span>
<p>Equal keys keep their original order.</p>
</aside>
<aside class="footnote brackets" id="id4" role="note">
<span class="label"><span class="fn-bracket">[</span><a role="doc-backlink" href="#id2">2</a>
<span class="fn-bracket">]</span></span>
<p>Any callable that takes one argument.</p>
</aside>
</aside>
</section>
</section>
<div class="clearer"></div>
</div></div></div>
<div class="sphinxsidebar" role="navigation" aria-label="main navigation">
<div class="sphinxsidebarwrapper">
  <div><h3><a href="contents.html">Table of Contents</a></h3>
  <ul><li><a class="reference internal" href="#">Sorting Guide</a></li></ul></div>
  <div><h4>Previous topic</h4><p class="topless"><a href="prev.html">Sockets</a></p></div>
  <div><h4>Next topic</h4><p class="topless"><a href="next.html">Unicode</a></p></div>
  <div role="note" aria-label="source link"><h3>This Page</h3>
  <ul class="this-page-menu"><li><a href="_sources/sorting.rst.txt" rel="nofollow">Show Source</a>
  </li></ul></div>
</div></div>
<div class="clearer"></div></div>
<div class="footer">&copy; Copyright 2024. Created using <a href="https://www.sphinx-doc.org/">Sphinx</a>
5.0.</div>
</body></html>
"""

DOCBOOK = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<html xmlns="http://www.w3.org/1999/xhtml"><head>
<title>30.3. Write-Ahead Logging (WAL)</title></head><body id="docContent">
<div class="navheader"><table width="100%" summary="Navigation header">
<tr><th colspan="5" align="center">30.3. Write-Ahead Logging (WAL)</th></tr>
<tr><td><a accesskey="p" href="checksums.html">Prev</a> </td>
<td><a accesskey="u" href="wal.html">Up</a></td>
<th>Chapter 30. Reliability and the Write-Ahead Log</th>
<td><a accesskey="h" href="index.html">Home</a></td>
<td> <a accesskey="n" href="wal-async-commit.html">Next</a></td></tr></table><hr /></div>
<div class="sect1" id="WAL-INTRO"><div class="titlepage"><div><div>
<h2 class="title">30.3. Write-Ahead Logging (<acronym class="acronym">WAL</acronym>)</h2>
</div></div></div>
<div class="toc"><p><strong>Table of Contents</strong></p><dl class="toc">
<dt><span class="sect2"><a href="wal-intro.html#WAL-LEVELS">30.3.1. Levels</a></span></dt>
</dl></div>
<p><em class="firstterm">Write-Ahead Logging</em> is a standard method for ensuring data
integrity<a href="#ftn.id-1" class="footnote"><sup class="footnote" id="id-1">[1]</sup></a>.
Changes are logged first.</p>
<div class="variablelist"><dl class="variablelist">
<dt id="GUC-WAL-LEVEL"><span class="term"><code class="varname">wal_level</code>
(<code class="type">enum</code>)</span></dt>
<dd><p>Determines how much information is written to the WAL.</p></dd>
<dt id="GUC-FSYNC"><span class="term"><code class="varname">fsync</code>
(<code class="type">boolean</code>)</span></dt>
<dd><p>If this parameter is on, the server will try to make sure that updates are
physically written to disk.</p></dd>
</dl></div>
<table class="table"><tr><th>Setting</th><th>Example</th></tr>
<tr><td>size</td><td><code>max_wal_size</code>=<code>1GB</code></td></tr></table>
<div class="footnotes"><br /><hr style="width:100; text-align:left;margin-left: 0" />
<div id="ftn.id-1" class="footnote"><p><a href="#id-1" class="para"><sup class="para">[1] </sup></a>
Also known as journaling.</p></div></div>
</div>
<div class="navfooter"><hr /><table width="100%" summary="Navigation footer">
<tr><td><a accesskey="p" href="checksums.html">Prev</a> </td>
<td><a accesskey="u" href="wal.html">Up</a></td>
<td> <a accesskey="n" href="wal-async-commit.html">Next</a></td></tr>
<tr><td>30.2. Data Checksums </td><td><a accesskey="h" href="index.html">Home</a></td>
<td> 30.4. Asynchronous Commit</td></tr></table></div>
</body></html>
"""

MKDOCS = """<!doctype html>
<html lang="en"><head><title>Install - My Project</title></head>
<body>
<header class="md-header" data-md-component="header">
  <nav class="md-header__inner md-grid" aria-label="Header">
    <div class="md-header__title"><span class="md-ellipsis">My Project</span></div>
  </nav>
  <div class="md-search" data-md-component="search" role="dialog">
    <form class="md-search__form" name="search"><input type="text" class="md-search__input"
    name="query" aria-label="Search" placeholder="Search"></form>
  </div>
</header>
<div class="md-container">
<main class="md-main" data-md-component="main"><div class="md-main__inner md-grid">
  <div class="md-sidebar md-sidebar--primary" data-md-component="sidebar">
    <div class="md-sidebar__scrollwrap"><div class="md-nav__title">My Project docs</div>
    <ul class="md-nav__list"><li><a href="../index.html">Welcome</a></li>
    <li><a href="./">Install</a></li><li><a href="../usage/">Usage</a></li></ul></div>
  </div>
  <div class="md-sidebar md-sidebar--secondary" data-md-component="sidebar">
    <div class="md-sidebar__scrollwrap"><label class="md-nav__title">Table of contents</label>
    <ul><li><a href="#requirements">Requirements</a></li></ul></div>
  </div>
  <div class="md-content" data-md-component="content">
  <article class="md-content__inner md-typeset">
    <h1 id="install">Install<a class="headerlink" href="#install"
    title="Permanent link">&para;</a></h1>
    <p>Install the package with pip.</p>
    <h2 id="requirements">Requirements<a class="headerlink" href="#requirements"
    title="Permanent link">&para;</a></h2>
    <p>Python 3.11 or later.</p>
  </article>
  </div>
</div></main>
<footer class="md-footer"><div class="md-footer-meta">Made with Material for MkDocs</div></footer>
</div>
</body></html>
"""

# A hand-written FAQ: a site banner (logo, tagline, a menu of short links), an index of
# in-page links to the questions, and each question a bold paragraph after its anchor.
HAND_FAQ = """<html><head><title>Frequently Asked Questions</title></head><body>
<div class=banner>
<a href="index.html"><img class="logo" src="logo.gif" alt="Widget"></a>
<div class="tagline">Tiny. Quick. Sturdy.<br>Pick all three.</div>
<div class="menu"><ul>
<li><a href="index.html">Home</a>
<li><a href="about.html">About</a>
<li><a href="docs.html">Documentation</a>
<li><a href="download.html">Download</a>
</ul></div>
</div>
<h2>Frequently Asked Questions</h2>
<ol><li><a href="#q1">How do I create a widget?</a></li>
<li><a href="#q2">Widgets cannot be renamed!</a></li>
<li><a href="#q3">Is Widget thread-safe?</a></li></ol>
<a name="q1"></a>
<p><b>(1) How do I create a widget?</b></p>
<blockquote><p>Call <tt>widget_new()</tt>.</p></blockquote>
<a name="q2"></a>
<p><b>(2) Widgets cannot be renamed!</b></p>
<blockquote>Renaming is a feature of version 2.</blockquote>
<a name="q3"></a>
<p><b>(3) Is Widget thread-safe?</b></p>
<blockquote>Yes, when built with threads on.</blockquote>
</body></html>
"""

DL_FAQ = """<html><body><h1>Help</h1><h2>Questions</h2>
<dl>
<dt>How do I reset my password?</dt><dd><p>Use the reset link on the sign-in page.</p></dd>
<dt>Can I change my username?</dt><dd>No, usernames are permanent.</dd>
</dl>
<p>Still stuck? Write to support.</p>
<dl class="options">
<dt><code>--output &lt;file&gt;</code></dt><dd><p>Write the report to <em>file</em>.</p></dd>
<dt><code>-v</code></dt><dt><code>--verbose</code></dt><dd><p>Print more.</p></dd>
</dl>
</body></html>
"""

MARKDOWN_FOOTNOTES = """<html><body><h1>Release notes</h1>
<p>Builds are reproducible<sup class="footnote-ref"><a href="#fn1" id="fnref1">[1]</a></sup>.
Signing is optional<sup class="footnote-ref"><a href="#fn2" id="fnref2">[2]</a></sup>.</p>
<h2>Known issues</h2>
<p>None so far.</p>
<hr class="footnotes-sep">
<section class="footnotes"><ol class="footnotes-list">
<li id="fn1" class="footnote-item"><p>Given the same toolchain.
<a href="#fnref1" class="footnote-backref">&#8617;&#65038;</a></p></li>
<li id="fn2" class="footnote-item"><p>Unsigned builds warn.
<a href="#fnref2" class="footnote-backref">&#8617;&#65038;</a></p></li>
</ol></section>
</body></html>
"""

REST = """.. include:: ../header.rst

===============
 Sorting Guide
===============

:Author: Ada Lovelace

.. contents:: Table of Contents
   :depth: 2

Introduction
============

Sorting is easy.  For example::

    sorted(data)

    Not a heading
    =============

.. This comment is dropped,
   all of it.

.. note:: Sorts are stable.

Key functions
-------------

Use a key function.

Reverse order
-------------

Pass reverse=True.

The sorted_ built-in
====================

It returns a new list.

.. _sorted: https://docs.python.org/3/library/functions.html#sorted
.. _key functions: ../howto/functions.html#key
.. _mail the author: mailto:ada@example.org
"""


# --- 1. main content, chrome dropped ------------------------------------------------------

CHROME_TEXTS = (
    "Navigation",
    "Table of Contents",
    "Table of contents",
    "Previous topic",
    "Next topic",
    "This Page",
    "Show Source",
    "Created using",
    "Copyright",
    "¶",
)


def test_sphinx_page_keeps_the_body_and_drops_related_bar_sidebar_footer_and_anchors(
    loader: FileLoader,
) -> None:
    document = loader.load("sorting.html", SPHINX.encode())
    stored = everything(document)

    for chrome in CHROME_TEXTS:
        assert chrome not in stored
    assert "previous" not in stored and "index" not in stored
    assert paths(document) == [
        ("Sorting Guide",),
        ("Sorting Guide", "Key Functions"),
        ("Sorting Guide", "Footnotes"),
    ]
    assert "Another paragraph follows." in section(document, "Sorting Guide")


def test_docbook_page_drops_its_nav_blocks_and_chapter_toc(loader: FileLoader) -> None:
    document = loader.load("wal-intro.html", DOCBOOK.encode())
    stored = everything(document)

    for chrome in ("Prev", "Up", "Home", "Next", "Table of Contents", "30.3.1. Levels"):
        assert chrome not in stored
    assert "Chapter 30" not in stored and "Data Checksums" not in stored
    assert paths(document)[0] == ("30.3. Write-Ahead Logging (WAL)",)  # no "( WAL )"
    assert "Write-Ahead Logging is a standard method" in document.sections[0].text


def test_mkdocs_page_drops_header_sidebars_and_footer(loader: FileLoader) -> None:
    document = loader.load("install.html", MKDOCS.encode())
    stored = everything(document)

    for chrome in ("My Project", "Welcome", "Usage", "Table of contents", "Made with", "¶"):
        assert chrome not in stored
    assert document.title == "Install"
    assert paths(document) == [("Install",), ("Install", "Requirements")]
    assert document.sections[1].text == "Python 3.11 or later."


ASCIIDOC = """<html><head><title>git-tag(1)</title></head><body class="manpage">
<div id="header"><h1>git-tag(1) Manual Page</h1>
<h2>NAME</h2><div class="sectionbody"><p>git-tag - Create, list or delete a tag</p></div></div>
<div id="content"><div class="sect1"><h2 id="_options">OPTIONS</h2><div class="sectionbody">
<div class="dlist"><dl><dt class="hdlist1">-a</dt><dd><p>Make an annotated tag.</p></dd></dl>
</div></div></div></div>
<div id="footnotes"><hr></div>
<div id="footer"><div id="footer-text">Last updated 2024-05-31 00:35:55 UTC</div></div>
</body></html>"""


def test_asciidoc_page_drops_its_footer(loader: FileLoader) -> None:
    document = loader.load("git-tag.html", ASCIIDOC.encode())

    assert "Last updated" not in everything(document)
    assert document.title == "git-tag(1) Manual Page"
    assert section(document, "git-tag(1) Manual Page", "OPTIONS") == "-a — Make an annotated tag."


TEXI2HTML_BAR = """<table><tr>
<td>[<a href="ch9.html#S1" title="Previous chapter"> &lt;&lt; </a>]</td>
<td>[<a href="ch11.html#S3" title="Next chapter"> &gt;&gt; </a>]</td><td> &nbsp; </td>
<td>[<a href="toc.html#Top">Top</a>]</td><td>[<a href="toc.html#Contents">Contents</a>]</td>
</tr></table>"""
TEXI2HTML = f"""<html><head><title>GNU frobnicate: 10. Output</title></head><body>
{TEXI2HTML_BAR}<hr><h1 class="chapter">10. Output</h1>
<p>The frob program writes one file per input.</p>
<table><tr><td>[<a href="ch10.html#A">See also</a>]</td><td>[<a href="x.html">x</a>]</td>
<td>[<a href="y.html">y</a>]</td></tr></table>
{TEXI2HTML_BAR}<h2>10.1 Options</h2><p>Use -o to name the file.</p>
<table><tr><td>[<a href="ch9.html#S1"> &lt;&lt; </a>]</td><td>[<a href="toc.html#Top">Top</a>]</td>
<td>[<a href="toc.html#Contents">Contents</a>]</td></tr></table>
<p><font size="-1">This document was generated by <em>A. Hacker</em> on <em>July, 26 2020</em>
using <a href="https://www.nongnu.org/texi2html/"><em>texi2html 1.78a</em></a>.</font><br></p>
<font size="-1">Frob version 1.0.</font>
</body></html>"""


def test_texinfo_page_drops_its_navigation_bars_and_generator_credit(loader: FileLoader) -> None:
    document = loader.load("frob_10.html", TEXI2HTML.encode())
    stored = everything(document)

    for chrome in ("<<", ">>", "Top", "Contents", "generated by", "texi2html"):
        assert chrome not in stored
    # the last bar holds some of the repeated bar's links; a bar shown once whose links are
    # no repeated bar's is content
    assert "| [See also] | [x] | [y] |" in section(document, "10. Output")
    assert section(document, "10. Output", "10.1 Options") == (
        "Use -o to name the file.\n\nFrob version 1.0."
    )


GROFF = """<html><body><h1 align="center">FROB</h1>
<a href="#NAME">NAME</a><br>
<a href="#SYNOPSIS">SYNOPSIS</a><br>
<a href="#DESCRIPTION">DESCRIPTION</a><br>
<hr>
<h2>NAME<a name="NAME"></a></h2><p>frob - frobnicate files</p>
<h2>SYNOPSIS<a name="SYNOPSIS"></a></h2><p>frob [OPTION] FILE</p>
<h2>DESCRIPTION<a name="DESCRIPTION"></a></h2><p>See <a href="#NAME">NAME</a>,
<a href="a.html">a</a> and <a href="b.html">b</a>.</p>
</body></html>"""


def test_man_page_drops_its_list_of_sections(loader: FileLoader) -> None:
    document = loader.load("frob.1.html", GROFF.encode())

    assert paths(document) == [("FROB", "NAME"), ("FROB", "SYNOPSIS"), ("FROB", "DESCRIPTION")]
    assert section(document, "FROB", "DESCRIPTION") == "See NAME, a and b."


MAKEINFO = """<html><head><title>Frob 1.0</title><meta name="Generator" content="makeinfo">
</head><body><div class="chapter" id="Setup"><div class="header"><p>
Next: <a href="#Use" accesskey="n" rel="next">Use</a>, Previous: <a href="#Top" rel="prev">Frob</a>,
Up: <a href="#Top" rel="up">Frob</a> &nbsp; [<a href="#SEC_Contents" rel="contents">Contents</a>]
</p></div><h2 class="chapter">1 Setup</h2>
<p>Run <code>frob --init</code> once. The <a href="#Use" rel="next">next chapter</a> shows more.</p>
</div></body></html>"""


def test_a_makeinfo_node_drops_its_next_previous_up_bar(loader: FileLoader) -> None:
    document = loader.load("frob.html", MAKEINFO.encode())

    assert paths(document) == [("1 Setup",)]
    # a sentence with one such link is text
    assert document.sections[0].text == ("Run frob --init once. The next chapter shows more.")


def test_a_closing_line_of_content_is_no_generator_credit(loader: FileLoader) -> None:
    page = "<html><body><h1>Leave</h1><p>Take it.</p><p>Produced by HR with Legal.</p></body>"
    document = loader.load("leave.html", page.encode())

    assert section(document, "Leave") == "Take it.\n\nProduced by HR with Legal."


def test_links_in_a_line_of_text_are_no_list_of_links(loader: FileLoader) -> None:
    page = (
        '<html><body><ul><li>base : <a href="car.html">Car</a>, <a href="truck.html">Truck</a>'
        ', <a href="van.html">Van</a></li></ul></body></html>'
    )
    document = loader.load("vehicle.html", page.encode())

    assert everything(document).endswith("- base : Car, Truck, Van")


DOXYGEN = """<html><head><title>Frob: Configuration</title></head><body>
<div id="top"><div id="titlearea"><table><tr><td><div id="projectname">Frob</div></td></tr>
</table></div></div>
<div id="side-nav"><div id="nav-tree"></div></div>
<div id="doc-content"><div class="header"><div class="headertitle"><div class="title">
Configuration </div></div></div>
<div class="contents"><div class="textblock"><h1>Format</h1><p>A Frobfile is plain text.</p>
<h1>Options</h1><dl><dt>QUIET</dt><dd>Turns messages off.</dd></dl></div></div></div>
<div id="nav-path" class="navpath"><ul><li class="footer">Generated by
<a href="https://www.doxygen.org/index.html">doxygen</a> 1.9.4</li></ul></div>
</body></html>"""


def test_doxygen_page_takes_its_header_title_and_drops_its_chrome(loader: FileLoader) -> None:
    document = loader.load("config.html", DOXYGEN.encode())
    stored = everything(document)

    assert document.title == "Configuration"
    for chrome in ("Frob\n", "Generated by", "doxygen"):
        assert chrome not in stored
    assert paths(document) == [("Format",), ("Options",)]
    assert section(document, "Options") == "QUIET — Turns messages off."


def test_a_site_menu_and_tagline_before_the_content_are_dropped(loader: FileLoader) -> None:
    document = loader.load("faq.html", HAND_FAQ.encode())
    stored = everything(document)

    for chrome in ("Home", "About", "Documentation", "Download", "Tiny. Quick.", "Pick all"):
        assert chrome not in stored


def test_the_page_header_goes_but_an_articles_own_header_stays(loader: FileLoader) -> None:
    page = (
        b"<body><header><a href='/'>Acme</a> <span>Tagline of the site</span></header>"
        b"<article><header><h1>Post</h1><p>By Kim</p></header><p>Body.</p></article></body>"
    )
    document = loader.load("post.html", page)

    assert "Acme" not in everything(document)
    assert "Tagline" not in everything(document)
    assert document.title == "Post"
    assert document.sections[0].text == "By Kim\n\nBody."


def test_an_in_page_table_of_contents_with_its_label_is_dropped(loader: FileLoader) -> None:
    page = (
        b"<body><div class='box'><div class='title'>Datatypes</div><div class='outline'>"
        b"<a onclick='toggle()'>Contents</a><div id='sub'>"
        b"<div><a href='#one'>1. One</a></div><div><a href='#two'>2. Two</a></div>"
        b"<div><a href='#three'>3. Three</a></div></div></div></div>"
        b"<h1 id='one'>1. One</h1><p>First.</p><h1 id='two'>2. Two</h1><p>Second.</p>"
        b"<h1 id='three'>3. Three</h1><p>Third.</p></body>"
    )
    document = loader.load("datatypes.html", page)

    assert paths(document) == [("1. One",), ("2. Two",), ("3. Three",)]
    assert "Contents" not in everything(document)


# --- 2. definition lists and questions ------------------------------------------------------


def test_a_definition_term_is_kept_with_its_description(loader: FileLoader) -> None:
    document = loader.load("options.html", DL_FAQ.encode())
    text = section(document, "Help", "Questions")

    assert "--output <file> — Write the report to file." in text
    assert "-v, --verbose — Print more." in text
    assert "&lt;" not in everything(document)


def test_a_description_of_several_paragraphs_reads_as_one_under_its_term(
    loader: FileLoader,
) -> None:
    """AsciiDoc and DocBook put each paragraph of an option's description in its own <p>: the
    later ones still describe the option, so they run on after its first, before any code."""
    page = (
        "<h1>git-stash</h1><div class='dlist'><dl>"
        "<dt class='hdlist1'>-a</dt><dt class='hdlist1'>--all</dt>"
        "<dd><p>Only valid for <code>push</code>.</p>"
        "<div class='paragraph'><p>All ignored files are also stashed.</p></div>"
        "<pre>git stash push --all</pre><p>See also -u.</p></dd>"
        "<dt>-u</dt><dd><div><p>Untracked files too.</p><p>Not ignored ones.</p></div></dd>"
        "</dl></div>"
    )
    text = loader.load("git-stash.html", page.encode()).sections[0].text

    assert text.split("\n\n") == [
        "-a, --all — Only valid for push. All ignored files are also stashed.",
        "```\ngit stash push --all\n```",
        "See also -u.",
        "-u — Untracked files too. Not ignored ones.",
    ]


def test_a_term_over_code_heads_it_with_a_colon(loader: FileLoader) -> None:
    page = (
        "<h1>Examples</h1><dl><dt>Undo add</dt><dd><div class='listingblock'>"
        "<pre>$ git reset</pre></div><ol><li>Unstage.</li></ol></dd></dl>"
    )
    text = loader.load("git-reset.html", page.encode()).sections[0].text

    assert text.startswith("Undo add:\n\n```\n$ git reset\n```")  # not "Undo add —" alone


def test_docbook_variable_list_keeps_each_setting_with_its_description(
    loader: FileLoader,
) -> None:
    document = loader.load("wal-intro.html", DOCBOOK.encode())
    text = document.sections[0].text

    assert "wal_level (enum) — Determines how much information is written to the WAL." in text
    assert "fsync (boolean) — If this parameter is on" in text


def test_question_terms_become_sections_whose_text_is_the_answer(loader: FileLoader) -> None:
    document = loader.load("help.html", DL_FAQ.encode())

    assert paths(document)[:3] == [
        ("Help", "Questions", "How do I reset my password?"),
        ("Help", "Questions", "Can I change my username?"),
        ("Help", "Questions"),  # after the list: back under the real heading
    ]
    assert document.sections[0].text == "Use the reset link on the sign-in page."
    assert document.sections[1].text == "No, usernames are permanent."
    assert document.sections[2].text.startswith("Still stuck? Write to support.")


def test_bold_questions_a_faq_index_links_to_become_sections(loader: FileLoader) -> None:
    document = loader.load("faq.html", HAND_FAQ.encode())

    faq = "Frequently Asked Questions"
    assert paths(document) == [
        (faq, "(1) How do I create a widget?"),
        (faq, "(2) Widgets cannot be renamed!"),  # no "?", but the index links to it
        (faq, "(3) Is Widget thread-safe?"),
    ]
    assert [s.text for s in document.sections] == [
        "Call widget_new().",
        "Renaming is a feature of version 2.",
        "Yes, when built with threads on.",
    ]


# --- 3. footnotes ---------------------------------------------------------------------------


def test_sphinx_footnotes_get_their_own_section_and_leave_no_markers(
    loader: FileLoader,
) -> None:
    document = loader.load("sorting.html", SPHINX.encode())

    assert section(document, "Sorting Guide", "Footnotes") == (
        "[1] Equal keys keep their original order.\n\n[2] Any callable that takes one argument."
    )
    assert "Python sorts are stable. Another paragraph follows." in document.sections[0].text
    key_functions = section(document, "Sorting Guide", "Key Functions")
    assert key_functions.startswith("Use a key function:")
    assert "Equal keys" not in key_functions


def test_docbook_footnotes_get_their_own_section(loader: FileLoader) -> None:
    document = loader.load("wal-intro.html", DOCBOOK.encode())

    assert section(document, "30.3. Write-Ahead Logging (WAL)", "Footnotes") == (
        "[1] Also known as journaling."
    )
    assert "data integrity. Changes are logged first." in document.sections[0].text
    assert "[1]" not in document.sections[0].text


def test_markdown_rendered_footnotes_get_their_own_section(loader: FileLoader) -> None:
    document = loader.load("notes.html", MARKDOWN_FOOTNOTES.encode())

    assert paths(document) == [
        ("Release notes",),
        ("Release notes", "Known issues"),
        ("Release notes", "Footnotes"),
    ]
    assert document.sections[0].text == "Builds are reproducible. Signing is optional."
    assert document.sections[1].text == "None so far."
    assert document.sections[2].text == (
        "[1] Given the same toolchain.\n\n[2] Unsigned builds warn."
    )


def test_footnotes_of_a_page_without_headings_sit_below_its_title(loader: FileLoader) -> None:
    page = (
        b"<title>Memo</title><p>See the annex<a class='footnote-reference' href='#n1'>1</a>."
        b"</p><aside class='footnote' id='n1'><span class='label'>1</span><p>Annex A.</p></aside>"
    )
    document = loader.load("memo.html", page)

    assert paths(document) == [("Memo",), ("Memo", "Footnotes")]
    assert document.sections[0].text == "See the annex."
    assert document.sections[1].text == "[1] Annex A."


# --- 4. title --------------------------------------------------------------------------------


def test_title_is_the_first_h1_without_its_anchor(loader: FileLoader) -> None:
    page = b"<title>Backup API</title><h1>Using the Backup API<a href='#x'>#</a></h1><p>x</p>"
    assert loader.load("backup.html", page).title == "Using the Backup API"


def test_title_from_the_title_tag_drops_the_site_name(loader: FileLoader) -> None:
    page = (
        "<title>Sorting HOW TO — Python 3.11.2 documentation</title>"
        "<h2>Sorting Basics</h2><p>Call sorted().</p>"
    )
    assert loader.load("sorting.html", page.encode()).title == "Sorting HOW TO"
    assert loader.load("sorting.html", SPHINX.encode()).title == "Sorting Guide"


def test_a_numbered_first_h1_is_a_section_not_the_title(loader: FileLoader) -> None:
    page = b"<title>SQLite Autoincrement</title><h1>1. Summary</h1><p>Avoid it.</p>"
    document = loader.load("autoinc.html", page)
    assert document.title == "SQLite Autoincrement"
    assert paths(document) == [("1. Summary",)]


# --- 5. plain text out --------------------------------------------------------------------


def test_code_is_fenced_with_entities_decoded_once_and_inline_code_as_written(
    loader: FileLoader,
) -> None:
    document = loader.load("sorting.html", SPHINX.encode())
    key_functions = section(document, "Sorting Guide", "Key Functions")
    assert "```\n>>> sorted(words, key=str.lower) < ['b']\nTrue\n```" in key_functions

    docbook = loader.load("wal-intro.html", DOCBOOK.encode())
    assert "| size | max_wal_size=1GB |" in docbook.sections[0].text  # not "max_wal_size = 1GB"

    escaped = b"<h1>Escaping</h1><dl><dt>&amp;lt;</dt><dd>Shows as &lt; on the page.</dd></dl>"
    assert loader.load("e.html", escaped).sections[0].text == "&lt; — Shows as < on the page."


# --- 6. reStructuredText / setext headings in .txt ----------------------------------------------


def test_rest_text_gets_sections_from_its_underlined_headings(loader: FileLoader) -> None:
    document = loader.load("sorting.txt", REST.encode())

    assert document.title == "Sorting Guide"
    assert paths(document) == [
        ("Sorting Guide",),
        ("Sorting Guide", "Introduction"),
        ("Sorting Guide", "Introduction", "Key functions"),
        ("Sorting Guide", "Introduction", "Reverse order"),
        ("Sorting Guide", "The sorted built-in"),
    ]
    assert document.sections[0].text == ":Author: Ada Lovelace"
    assert section(document, "Sorting Guide", "Introduction", "Reverse order") == (
        "Pass reverse=True."
    )


def test_rest_directives_and_comments_are_dropped_and_literal_blocks_kept(
    loader: FileLoader,
) -> None:
    document = loader.load("sorting.txt", REST.encode())
    stored = everything(document)

    for markup in ("include::", "header.rst", "contents::", ":depth:", "Table of Contents"):
        assert markup not in stored
    assert "comment" not in stored and "all of it" not in stored
    introduction = section(document, "Sorting Guide", "Introduction")
    assert introduction == (
        "Sorting is easy.  For example:\n\n"
        "    sorted(data)\n\n"
        "    Not a heading\n"
        "    =============\n\n"
        "Note: Sorts are stable."
    )
    # an external target is kept as its name and address ...
    assert "\nsorted: https://docs.python.org/3/library/functions.html#sorted" in stored
    assert "\nmail the author: mailto:ada@example.org" in stored
    # ... but not one leading to another page of the same documentation (Docutils' spec ends
    # with hundreds: "<admonition>: ../doctree.html#admonition" matched any question)
    assert "functions.html#key" not in stored and "key functions:" not in stored


def test_underline_styles_nest_in_the_order_they_first_appear(loader: FileLoader) -> None:
    data = b"Guide\n~~~~~\n\nIntro.\n\nSetup\n*****\n\nInstall.\n\nUse\n~~~\n\nRun it.\n"
    document = loader.load("guide.txt", data)

    assert document.title == "Guide"
    assert paths(document) == [("Guide",), ("Guide", "Setup"), ("Use",)]


def test_a_short_first_line_still_titles_a_text_with_headings(loader: FileLoader) -> None:
    data = b"Team notes\n\nThe coffee machine moved.\n\nParking\n-------\n\nUse level 2.\n"
    document = loader.load("notes.txt", data)

    assert document.title == "Team notes"
    assert paths(document) == [("Team notes",), ("Parking",)]
    assert document.sections[0].text == "Team notes\n\nThe coffee machine moved."


@pytest.mark.parametrize(
    ("near_miss", "heading"),
    [
        # an underline shorter than its title
        (
            b"Notes\n\n.. include:: x.rst\n\nSetup\n---\n\nBody.\n",
            b"Notes\n\nSetup\n-----\n\nBody.\n",
        ),
        # a title not after a blank line (an underline in a paragraph)
        (b"Alice covers weekends.\nBob\n---\nnext week.\n", b"Alice.\n\nBob\n---\nnext week.\n"),
        # a simple table's border (spaces in it)
        (b"Sizes\n\n=====  =====\nA      B\n=====  =====\n", b"Sizes\n\nA\n=====\n\nB\n"),
    ],
)
def test_text_without_underlined_headings_loads_as_before(
    loader: FileLoader, near_miss: bytes, heading: bytes
) -> None:
    whole = loader.load("notes.txt", near_miss)
    assert len(whole.sections) == 1  # markup and all, as before
    assert whole.sections[0].text == near_miss.decode().strip()

    assert len(loader.load("notes.txt", heading).sections) == 2  # the rule does apply


MYST = """<!--
generated by sphinx-quickstart
-->

(labels/line-length)=

# Line length

```{toctree}
---
hidden:
---

the_basics
```

Black defaults to 88 characters per line. See {doc}`the basics <the_basics>` and
{ref}`labels/exit-code`, or run {code}`black --help`.

````{note}
:class: dropdown

The limit is a soft one.

```python
x = 1  # {not} a directive
```
````

:::{admonition} Line length - why 88?
Ninety-ish lines read well.
:::

```{versionadded} 23.1
The `--line-ranges` option.
```

```{program-output} black --help
```

```{code-block} toml
line-length = 100
```

```{code-cell} ipython3
print("a notebook's cell")
```

```{eval-rst}
.. currentmodule:: click

Use ``--name`` as `shown <https://example.org>`_::

    black --name x
```

A <!-- hidden --> visible word. Typing `<!--` opens an HTML comment.
"""


def test_myst_markup_reads_as_a_rendered_page_does(loader: FileLoader) -> None:
    document = loader.load("style.md", MYST.encode())
    stored = everything(document)

    # what a renderer hides: comments, targets, a table of contents, a program's output,
    # a directive's options
    for hidden in ("sphinx-quickstart", "labels/line-length)=", "the_basics\n", "hidden:"):
        assert hidden not in stored
    assert "--help\n" not in stored and ":class:" not in stored and "hidden" not in stored
    # roles read as their text: a link's text, code as code
    assert "See the basics and\nlabels/exit-code, or run `black --help`." in stored
    # an admonition is text after its label, with its code block left as code
    assert "Note: The limit is a soft one." in stored
    assert "```python\nx = 1  # {not} a directive\n```" in stored
    assert "Line length - why 88?\n\nNinety-ish lines read well." in stored
    assert "New in version 23.1: The `--line-ranges` option." in stored
    # code stays a code block, with its language
    assert "```toml\nline-length = 100\n```" in stored
    assert '```ipython3\nprint("a notebook\'s cell")\n```' in stored
    # reStructuredText inside Markdown reads as a .rst file does, its literal block fenced
    assert "currentmodule" not in stored
    assert "Use ``--name`` as shown:\n```\nblack --name x\n```" in stored
    assert "A  visible word. Typing `<!--` opens an HTML comment." in stored


def test_html_comments_go_wherever_they_close_and_an_unclosed_one_is_text() -> None:
    from services.knowledge.loaders.markdown import rendered_markup

    assert rendered_markup("x <!-- a --> y <!-- b\nc\nd --> e\nf") == "x  y  e\nf"
    assert rendered_markup("a <!-- b\n" * 3) == "a <!-- b\n" * 3
    # a backslash ending a line of text is a line break, in code it stays
    assert rendered_markup("`latest` tag.\\\n  Recommended.") == "`latest` tag.\n  Recommended."
    assert rendered_markup("    make \\\n```\nrun \\\n```") == "    make \\\n```\nrun \\\n```"
    # many unclosed comments are read in one pass (each once scanned the rest of the file)
    assert rendered_markup("a <!-- b\n" * 50_000).count("<!--") == 50_000


def test_rest_version_notes_and_see_also_keep_sphinx_labels(loader: FileLoader) -> None:
    data = (
        b"Guide\n=====\n\n.. versionadded:: 3.2 The *key* argument.\n\n"
        b".. seealso::\n\n   The sorting HOWTO.\n\n.. toctree::\n\n   other\n"
    )
    stored = everything(loader.load("guide.rst", data))
    assert "New in version 3.2: The *key* argument." in stored
    assert "See also:" in stored and "The sorting HOWTO." in stored
    assert "other" not in stored  # a table of contents is navigation


def test_markdown_character_references_are_decoded_once_outside_code(loader: FileLoader) -> None:
    data = (
        b"# Undo\n\nGo back with `HEAD~&lt;n&gt;` or HEAD~&lt;n&gt; &amp; more &#8212; "
        b"&amp;lt;kept&amp;gt; once; &para alone is text.\n\n"
        b"```\ngit reset HEAD~&lt;n&gt;\n```\n\n    indented &amp; literal\n"
    )
    (section,) = loader.load("undo.md", data).sections
    assert section.text.splitlines()[0] == (
        "Go back with `HEAD~&lt;n&gt;` or HEAD~<n> & more \u2014 &lt;kept&gt; once; "
        "&para alone is text."
    )
    assert "git reset HEAD~&lt;n&gt;" in section.text  # code shows an entity as written
    assert "indented &amp; literal" in section.text
