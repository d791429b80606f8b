"""Question reading and table planning of the offline model, on plain inputs."""

from __future__ import annotations

from services.offline.compose import compose_documents
from services.offline.compose_sql import compose_sql
from services.offline.question import follow_up_query, resolve_person, standalone_question
from services.offline.sentences import match, score_units, units_of
from services.offline.sql_plan import SqlPlan, plan_sql
from services.offline.text import content_stems, stem
from use_cases.chat_domain import TableColumn, TableSchema

KPIS = TableSchema(
    name="kpi_catalog",
    columns=(
        TableColumn("kpi_id", "TEXT", ("KPI-01", "KPI-25"), values=("KPI-01", "KPI-25")),
        TableColumn(
            "name",
            "TEXT",
            ("Time to hire",),
            values=("Time to hire", "ETA accuracy", "Employee eNPS"),
        ),
        TableColumn("target", "TEXT", (">= 88",)),
    ),
    row_count=2,
)
PEOPLE = TableSchema(
    name="directory",
    columns=(
        TableColumn("name", "TEXT", ("Laura Méndez",), values=("Laura Méndez", "Chen Wei")),
        TableColumn("email", "TEXT", ("laura@example.com",)),
    ),
    row_count=2,
)


def test_a_common_word_is_no_name_for_a_row_in_sentence_case() -> None:
    assert plan_sql("what time do the nightly kpi jobs run", [KPIS, PEOPLE]) is None


def test_a_first_name_or_a_code_names_its_row() -> None:
    plan = plan_sql("what's laura's email", [KPIS, PEOPLE])
    assert plan is not None and plan.table == "directory" and "laura méndez" in plan.sql
    plan = plan_sql("what is the target for eNPS", [KPIS, PEOPLE])
    assert plan is not None and "employee enps" in plan.sql


def test_a_pronoun_is_resolved_only_after_a_who_question() -> None:
    answer = "The manager of Chen Wei is Mateus Oliveira [table: directory].\n\n**Sources**\n..."
    question = "who is Chen Wei's manager?"
    resolved = resolve_person("what's their email", question, answer, ["Mateus Oliveira"])
    assert resolved == "what's Mateus Oliveira's email"
    assert resolve_person("what's their email", "how long is it kept?", answer) == (
        "what's their email"
    )


def test_a_follow_up_says_which_words_it_borrowed() -> None:
    query = follow_up_query("and shipment records?", ["how long do we keep raw location pings?"])
    assert query.text.endswith("and shipment records?")
    assert set(query.borrowed) == {"keep", "raw", "location", "pings"}
    assert follow_up_query("who owns billing-api?", ["how long?"]).borrowed == ()


def test_an_abbreviation_matches_the_word_it_starts() -> None:
    assert match("ack", {"acknowledg"}) > 0
    assert match("pin", {"ping"}) == 0.0


def test_amounts_in_the_question_never_count_against_the_evidence() -> None:
    hit = {
        "number": 1,
        "title": "Pricing",
        "section": "Pilots",
        "source": "pricing.md",
        "text": "Pilots are free above €60,000 ARR; otherwise a pilot costs €2,500.",
    }
    with_amount = compose_documents("how much is a pilot for a 40k ARR deal", [hit])
    without = compose_documents("how much is a pilot for a ARR deal", [hit])
    assert with_amount.found and without.found
    assert with_amount.evidence == without.evidence


def test_a_bare_number_in_a_rank_column_reads_as_tier_n() -> None:
    plan = SqlPlan(
        table="services",
        sql="SELECT ...",
        label_column="name",
        asked_columns=("tier",),
        entities=("dock-scheduler",),
        terms=("dock-scheduler",),
    )
    metadata = {"columns": ["name", "tier"], "rows": [["dock-scheduler", 2]]}
    answer = compose_sql(plan, metadata)
    assert answer is not None
    assert answer.text.startswith("dock-scheduler is tier 2 [table: services].")


def test_an_elliptical_follow_up_becomes_the_whole_question_for_a_table() -> None:
    values = [("Toronto", "directory.location"), ("Lisbon", "directory.location")]
    previous = ["how many people are based in toronto?"]
    assert standalone_question("and in lisbon?", previous, values) == (
        "how many people are based in lisbon"
    )
    assert standalone_question("what about Lisbon", previous, values) == (
        "how many people are based in Lisbon"
    )
    assert standalone_question("what about notify-service?", ["who owns shipment-api?"]) == (
        "who owns notify-service"
    )
    assert standalone_question("and how often is it measured?", ["target for ETA accuracy?"]) == (
        "target for ETA accuracy, how often is it measured"
    )
    assert standalone_question("who owns billing?", previous) == "who owns billing?"


def test_words_people_use_for_policy_words_match_in_part() -> None:
    assert 0 < match("kept", {stem("retention")}) < 1
    assert 0 < match(stem("approved"), {stem("sign")}) < 1
    assert match("kept", {"deploy"}) == 0.0


def test_a_sentence_about_another_named_system_ranks_below_one_about_the_named_one() -> None:
    other = units_of("ClickHouse backups are kept for 14 days.", set(), 0, 0)
    named = units_of("WAL archive retention is 35 days.", {stem("pg"), stem("core")}, 1, 1)
    question = "how long are pg-core backups kept"
    ranked = score_units(question, content_stems(question), other + named)
    assert ranked[0].unit.text.startswith("WAL archive")
