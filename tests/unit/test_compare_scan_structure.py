"""The figures `bench.compare_scan_structure` prints: words in order and paths shared."""

from __future__ import annotations

from bench.compare_scan_structure import agreement, in_order


def test_words_in_order_count_the_text_layer_s_words_the_scan_has_in_order() -> None:
    text = ["the", "file", "t1ptm.fd", "names", "Adobe", "Times"]
    assert in_order(text, text) == 1.0
    assert in_order(["the", "file", "tiptm.fd", "names", "Adobe", "Times"], text) == 5 / 6
    # a block read after the text it stood beside counts once, in one of its places
    assert in_order(["names", "Adobe", "Times", "the", "file", "t1ptm.fd"], text) == 3 / 6
    assert in_order([], []) == 1.0


def test_paths_shared_count_against_paths_either_lacks() -> None:
    text = {("1 Introduction",), ("1 Introduction", "1.1 Scope")}
    scan = {("1 Introduction",), ("1 Introduction", "E{~_}")}
    assert agreement(scan, text) == (1, 3)
