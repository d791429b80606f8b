import pytest

from use_cases.prompts.templates import compile_template, missing_variables, template_variables
from use_cases.shared.errors import InvalidRequest


def test_variables_in_order_of_first_use_each_once() -> None:
    text = "Hi {{ name }}, you work in {{team}}. Bye {{name}}."
    assert template_variables(text) == ("name", "team")


def test_other_braces_are_not_variables() -> None:
    text = 'Reply as JSON: {"a": 1} or {{ 2bad }} or {single} or {{ with-dash }}'
    assert template_variables(text) == ()
    assert compile_template(text, {}) == text


def test_compile_fills_every_variable_and_ignores_extra_values() -> None:
    text = "Answer for {{team}} as of {{ today }}."
    out = compile_template(text, {"team": "Ops", "today": "2026-11-22", "unused": "x"})
    assert out == "Answer for Ops as of 2026-11-22."


def test_values_are_inserted_verbatim_not_expanded_again() -> None:
    assert compile_template("{{a}}", {"a": "{{b}}", "b": "no"}) == "{{b}}"


def test_missing_values_are_named() -> None:
    text = "{{a}} {{b}} {{c}}"
    assert missing_variables(text, {"b": 1}) == ("a", "c")
    with pytest.raises(InvalidRequest, match="a, c"):
        compile_template(text, {"b": 1})
