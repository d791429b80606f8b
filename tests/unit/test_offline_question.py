"""Question reading and table planning of the offline model, on plain inputs."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from services.offline.asked import _set_aside
from services.offline.bar import _common_stems, _phrasal_stems, _spelt_stems
from services.offline.compose import compose_documents
from services.offline.compose_sql import compose_sql
from services.offline.context import AnswerContext
from services.offline.match import match
from services.offline.question import (
    as_of_date,
    asking_clauses,
    asks_quantity,
    counted_words,
    counts_rows,
    states_quantity,
    with_topic,
)
from services.offline.question_follow_up import (
    asks_its_own_question,
    follow_up_query,
    standalone_question,
)
from services.offline.question_references import resolve_person, resolve_reference
from services.offline.read import units_of
from services.offline.score import (
    _named_identifiers,
    asked_codes,
    focus_on,
    measure_asked,
    score_units,
)
from services.offline.sql_build import SqlPlan
from services.offline.sql_plan import chained_plan, plan_sql
from services.offline.text import content_stems, is_code, stem
from services.offline.tuning import DEFAULT_TUNING
from tests.sample_lexicon import SAMPLE_LEXICON
from use_cases.tables.domain import TableColumn, TableSchema

#: These fixtures are handbook-like: the sample's own words (its lexicon) are passed where a
#: function reads a lexicon (`SAMPLE_LEXICON`), as the offline model passes its own.

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
    assert plan_sql("what time do the nightly kpi jobs run", [KPIS, PEOPLE], SAMPLE_LEXICON) is None


def test_a_first_name_or_a_code_names_its_row() -> None:
    plan = plan_sql("what's laura's email", [KPIS, PEOPLE], SAMPLE_LEXICON)
    assert plan is not None and plan.table == "directory" and "laura méndez" in plan.sql
    plan = plan_sql("what is the target for eNPS", [KPIS, PEOPLE], SAMPLE_LEXICON)
    assert plan is not None and "employee enps" in plan.sql


def test_a_common_word_is_no_name_for_a_team_unless_the_question_capitalises_it() -> None:
    teams = TableSchema(
        name="kpi_catalog",
        columns=(
            TableColumn("name", "TEXT", ("Webhook delivery rate",), values=("Gross churn",)),
            TableColumn(
                "owner_team", "TEXT", ("Customer Success",), values=("Customer Success", "Finance")
            ),
            TableColumn("target", "TEXT", (">= 88",)),
        ),
        row_count=2,
    )
    plan = plan_sql(
        "webhook success kpi, who owns it and what's the target", [teams], SAMPLE_LEXICON
    )
    assert plan is None or "customer success" not in plan.sql
    plan = plan_sql("which kpis does Success own", [teams], SAMPLE_LEXICON)
    assert plan is not None and "customer success" in plan.sql


STAFF_LOCATIONS = TableSchema(
    name="directory",
    columns=(
        TableColumn("name", "TEXT", ("Laura Méndez",), values=("Laura Méndez", "Chen Wei")),
        TableColumn(
            "location",
            "TEXT",
            ("Lisbon",),
            values=(
                "Lisbon",
                "Remote - Ireland (Cork)",
                "Remote - Ireland (Dublin)",
                "Remote - Germany (Berlin)",
            ),
        ),
    ),
    row_count=4,
)


def test_counts_filter_by_a_value_named_in_part_or_by_an_acronyms_plural() -> None:
    people = STAFF_LOCATIONS
    kpis = TableSchema(
        name="kpi",
        columns=(
            TableColumn("name", "TEXT", ("ETA accuracy",), values=("ETA accuracy",)),
            TableColumn("frequency", "TEXT", ("weekly",), values=("weekly", "monthly")),
        ),
        row_count=2,
    )

    remote = plan_sql(
        "how many ppl in the directory work fully remote", [people, kpis], SAMPLE_LEXICON
    )
    monthly = plan_sql("number of KPIs we report monthly?", [people, kpis], SAMPLE_LEXICON)

    assert remote is not None and remote.count and "%remote%" in remote.sql
    assert monthly is not None and monthly.table == "kpi" and monthly.count
    assert (
        monthly.sql == 'SELECT COUNT(*) AS count FROM "kpi" WHERE lower("frequency") = \'monthly\''
    )


NOTIFY_SERVICES = TableSchema(
    name="services",
    columns=(
        TableColumn("name", "TEXT", ("notify-service",), values=("notify-service", "api")),
        TableColumn("tier", "INTEGER", ("1",)),
    ),
    row_count=2,
)


def test_how_many_about_one_named_row_is_no_row_count() -> None:
    services = NOTIFY_SERVICES
    plan = plan_sql(
        "how many times does notify-service retry a webhook?", [services], SAMPLE_LEXICON
    )
    assert plan is not None and not plan.count and plan.asks_amount
    row = {"columns": ["name", "tier", "_relevance"], "rows": [["notify-service", 1, 3]]}
    assert compose_sql(plan, row) is None  # the documents say how many times
    tiers = plan_sql("how many tier 1 services are there?", [services], SAMPLE_LEXICON)
    assert tiers is not None and tiers.count


def test_how_many_units_of_a_rule_is_no_row_count() -> None:
    kpis = TableSchema(
        name="kpi_catalog",
        columns=(
            TableColumn("name", "TEXT", ("Critical vulnerability SLA compliance",)),
            TableColumn("target", "TEXT", (">= 95 percent",)),
        ),
        row_count=1,
    )
    plan = plan_sql(
        "critical vuln SLA kpi - whats the target % and how many days to fix?",
        [kpis],
        SAMPLE_LEXICON,
    )
    assert plan is not None and not plan.count and plan.asked_columns == ("target",)
    assert not counts_rows("how many times does it retry, and how many business days?")
    assert counts_rows("how many people are in lisbon")
    assert counts_rows("how many days to fix it, and how many services are tier 1?")


def test_a_yes_no_question_about_a_rule_is_no_list_of_rows() -> None:
    services = NOTIFY_SERVICES
    rows = {"columns": ["name", "tier"], "rows": [["notify-service", 1], ["api", 1]]}
    deploy = plan_sql(
        "is it ok to deploy on friday? it's for a tier 1 service", [services], SAMPLE_LEXICON
    )
    assert deploy is not None and deploy.asks_yes_no
    assert compose_sql(deploy, rows) is None  # the change policy answers it
    listed = plan_sql("are there any tier 1 services?", [services], SAMPLE_LEXICON)
    assert listed is not None and not listed.asks_yes_no
    assert compose_sql(listed, rows) is not None


def test_a_pronoun_is_resolved_only_after_a_who_question() -> None:
    answer = "The manager of Chen Wei is Mateus Oliveira [table: directory].\n\n**Sources**\n..."
    question = "who is Chen Wei's manager?"
    resolved = resolve_person("what's their email", [question], [answer], ["Mateus Oliveira"])
    assert resolved == "what's Mateus Oliveira's email"
    # Without a table name to go by, only the answer to a "who" question is read.
    assert resolve_person("what's their email", ["how long is it kept?"], [answer]) == (
        "what's their email"
    )
    assert resolve_person("what's their email", [question], [answer]) == (
        "what's Mateus Oliveira's email"
    )
    # Two turns back: "when did they start" was about the person named before.
    chain_q = ["who is the VP of engineering", "when did they start"]
    chain_a = ["Mateus Oliveira – VP Engineering [1].", "The start date of Mateus Oliveira is ..."]
    assert resolve_person("who do they report to", chain_q, chain_a, ["Mateus Oliveira"]) == (
        "who do Mateus Oliveira report to"
    )


def test_a_follow_up_says_which_words_it_borrowed() -> None:
    query = follow_up_query("and shipment records?", ["how long do we keep raw location pings?"])
    assert query.text.endswith("and shipment records?")
    assert set(query.borrowed) == {"keep", "raw", "location", "pings"}
    assert follow_up_query("who owns billing-api?", ["how long?"]).borrowed == ()


def test_a_follow_up_after_an_acknowledgement_borrows_the_topic() -> None:
    query = follow_up_query(
        "ok and what happens after the last try fails?",
        ["how many times does notify-service retry a webhook?"],
    )
    assert {"notify", "service", "webhook"} <= set(query.borrowed)
    assert follow_up_query("okay what is pg-core", ["who owns notify-service"]).borrowed == ()


def test_a_message_opening_with_what_if_or_same_goes_on_from_the_previous_one() -> None:
    previous = ["how many vacation days do full-time staff get per year?"]
    # The case changed, the topic kept: "what if ..." asks the previous question of it.
    query = follow_up_query("what if im fully remote, based in canada?", previous)
    assert "vacation" in query.borrowed
    # The same thing asked of another case.
    assert "vacation" in follow_up_query("same in canada?", previous).borrowed
    # A message that asks its own question borrows nothing, whatever came before.
    assert follow_up_query("who approves expense claims over 500 euros?", previous).borrowed == ()
    assert follow_up_query("same-day delivery cutoff for parcels?", previous).borrowed == ()


def test_a_long_message_asking_a_short_question_about_it_goes_on_from_the_previous_one() -> None:
    previous = ["how do i add a second worktree for a branch?"]
    message = "done with it now. how do i remove it? it's got some untracked junk files in it"
    assert "worktree" in follow_up_query(message, previous).borrowed
    # A long message whose short question names its own topic is a question of its own.
    message = "done with the branch now and merged it. how do i delete a tag on the remote?"
    assert follow_up_query(message, previous).borrowed == ()


def test_a_table_row_named_with_nothing_asked_about_it_is_a_bare_row() -> None:
    services = NOTIFY_SERVICES
    row = {"columns": ["name", "tier", "_relevance"], "rows": [["notify-service", 1, 6]]}
    plan = plan_sql(
        "what happens after the last notify-service retry fails?", [services], SAMPLE_LEXICON
    )
    assert plan is not None
    answer = compose_sql(plan, row)
    assert answer is not None and answer.bare_row  # the documents answer first
    plan = plan_sql("what tier is notify-service?", [services], SAMPLE_LEXICON)
    assert plan is not None
    answer = compose_sql(plan, row)
    assert answer is not None and not answer.bare_row


def test_a_follow_up_asking_its_own_question_borrows_only_the_earlier_topic() -> None:
    # Its own question word and verb replace the earlier ones ("how often ... rotated").
    query = follow_up_query("and how long must they be?", ["How often must passwords be rotated?"])
    assert query.borrowed == ("passwords",)
    assert query.text == "passwords and how long must they be?"
    assert follow_up_query(
        "and when is it due?", ["how do I submit an expense report?"]
    ).borrowed == (
        "expense",
        "report",
    )
    assert "owns" not in follow_up_query("what tier is it", ["which team owns tidecast-eta"]).text
    assert "team" not in follow_up_query("what tier is it", ["which team owns tidecast-eta"]).text
    # A fragment keeps the earlier predicate: it only swaps what it names.
    assert (
        "keep"
        in follow_up_query("and how many days?", ["how long do we keep raw gps pings?"]).borrowed
    )
    assert follow_up_query(
        "what about contractors?", ["how often must passwords be rotated?"]
    ).borrowed == (
        "passwords",
        "rotated",
    )
    # With nothing but the asking words to borrow, everything is borrowed.
    assert follow_up_query("and when is it due?", ["what is submitted?"]).borrowed == ("submitted",)


def test_whole_follow_up_questions_are_told_from_fragments() -> None:
    for whole in (
        "and how long must they be?",
        "when is it due",
        "what tier is it",
        "can they expire?",
    ):
        assert asks_its_own_question(whole), whole
    for fragment in (
        "and how many days?",
        "what about contractors?",
        "and in lisbon?",
        "and the minimum length?",
    ):
        assert not asks_its_own_question(fragment), fragment
    assert (
        with_topic("and how long must they be?", ("passwords",))
        == "and how long must passwords be?"
    )
    assert with_topic("and in lisbon?", ("hotel",)) == "and in lisbon?"


def test_how_long_must_it_be_asks_for_a_length_not_a_time() -> None:
    assert measure_asked("and how long must they be?") == [stem("length")]
    assert measure_asked("how old do you have to be") == [stem("age")]
    assert measure_asked("how long do we keep raw pings?") == []
    assert measure_asked("how long is the notice period?") == []


PASSWORD_POLICY = [
    {
        "number": 1,
        "title": "Password and Credential Rotation Policy",
        "section": "7. Customer-facing systems",
        "source": "policies/password-policy-2025.md",
        "_rank": 0,
        "text": "Relay Console local accounts (customers without SSO) require at least 12 "
        "characters and are screened against breached-password lists.",
    },
    {
        "number": 2,
        "title": "Password and Credential Rotation Policy",
        "section": "2. Workforce passwords and passphrases",
        "source": "policies/password-policy-2025.md",
        "_rank": 1,
        "text": "| Rule | Requirement |\n|---|---|\n"
        "| Minimum length | **14 characters** (passphrase of 4+ words recommended) |\n"
        "| Periodic rotation | **none**. Change only on compromise or suspected compromise |\n"
        "| History | last 5 passwords may not be reused |",
    },
    {
        "number": 3,
        "title": "Password and Credential Rotation Policy",
        "section": "5. Non-human credentials",
        "source": "policies/password-policy-2025.md",
        "_rank": 2,
        "text": "Any credential must also be rotated **within 24 hours** of a suspected exposure.",
    },
]


def test_a_whole_follow_up_is_answered_with_what_it_asks_not_what_was_asked_before() -> None:
    query = follow_up_query("and how long must they be?", ["How often must passwords be rotated?"])
    answer = compose_documents(query.text, PASSWORD_POLICY, borrowed=query.borrowed)
    assert answer.found
    assert answer.text.startswith("Minimum length — Requirement: 14 characters")
    # The question before it is still answered with the rotation rule.
    before = compose_documents("How often must passwords be rotated?", PASSWORD_POLICY)
    assert before.text.startswith("Periodic rotation")


def test_every_n_days_asks_about_a_period() -> None:
    assert content_stems("do we still rotate our password every 90 days?") == [
        "rotat",
        "password",
        stem("periodically"),
        "90",
    ]
    assert content_stems("is it reviewed every year") == [stem("reviewed"), stem("periodically")]
    answer = compose_documents(
        "do we still have to rotate passwords every 90 days?", PASSWORD_POLICY
    )
    assert answer.found
    assert answer.text.startswith("Periodic rotation — Requirement: none")


IT_HELP: dict[str, Any] = {
    "number": 1,
    "title": "Acceptable Use Policy",
    "section": "Devices",
    "source": "policies/acceptable-use-policy.md",
    "text": "Report a lost or stolen laptop to IT Operations within 1 hour via #it-help, or by "
    "phone to the IT on-call number in the handbook footer. "
    "Security questions go by email to security@example.com.",
}


def test_a_phone_number_asked_for_is_not_answered_by_a_sentence_without_one() -> None:
    assert not compose_documents("what's the phone number for the IT on-call?", [IT_HELP]).found
    # Asking about phone numbers is no request for one.
    shared = compose_documents("can i share a driver's phone number with IT on-call?", [IT_HELP])
    assert shared.found
    with_number = {**IT_HELP, "text": IT_HELP["text"] + " The IT on-call phone is +31 10 555 0100."}
    answer = compose_documents("what's the phone number for the IT on-call?", [with_number])
    assert answer.found
    assert "+31 10 555 0100" in answer.text


def test_an_email_address_asked_for_leads_the_answer() -> None:
    answer = compose_documents("what's the email address for security questions?", [IT_HELP])
    assert answer.found
    assert answer.text.startswith("Security questions go by email to security@example.com")


def test_a_code_with_digits_tells_rows_apart_unlike_an_amount() -> None:
    assert is_code("sev2") and is_code("kpi20")
    assert not is_code("15") and not is_code("40k")
    text = (
        "| Level | Updates |\n|---|---|\n| SEV1 – Critical | every 30 minutes |\n"
        "| SEV2 – Major | every 60 minutes |\n| SEV3 – Minor | daily |\n"
    )
    units = units_of(text, set(), 0, 0)
    ranked = score_units("sev2 update cadence", content_stems("sev2 update cadence"), units)
    assert ranked[0].unit.text.startswith("SEV2")
    assert ranked[0].coverage > ranked[1].coverage


def test_a_code_asked_for_is_read_in_its_own_entry_of_a_list() -> None:
    listing = (
        "Types: `LATE`, `STALLED` (no movement for 45 minutes outside a stop), `OFF_ROUTE` "
        "(more than 15 km from the planned corridor), `NO_SIGNAL` (no ping for 2 hours)."
    )
    assert asked_codes("STALLED exception meaning") == ["STALLED"]
    assert asked_codes("WHAT DOES STALLED MEAN") == []  # the whole message shouts
    assert focus_on(listing, ["STALLED"]) == (
        "Types: `STALLED` (no movement for 45 minutes outside a stop)"
    )
    assert focus_on(listing, ["EXPIRED"]) is None
    assert focus_on("Use `pg-core` for writes.", ["pg-core"]) is None  # no list


def test_an_abbreviation_matches_the_word_it_starts() -> None:
    assert match("ack", {"acknowledg"}) > 0
    assert match("pin", {"ping"}) == 0.0
    # "left" is the past of "leave": "my teammate left 3 weeks ago" is about leavers.
    assert match("left", {stem("leaver")}, lexicon=SAMPLE_LEXICON) > 0.0
    assert (
        match(stem("cut"), {stem("disabled")}, lexicon=SAMPLE_LEXICON) > 0.0
    )  # "cut their access"
    assert content_stems("he left 3 weeks ago, what happens now?") == ["left", "3", "week"]
    # A numbered code: "what sev is it" is about "SEV2".
    assert 0.0 < match("sev", {"sev2"}) < 1.0
    assert match("sev", {"seven"}) == 0.0


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


def test_a_follow_up_that_names_its_row_and_asks_its_own_question_stands_alone() -> None:
    values = [("Fleur Janssen", "directory.name"), ("Ifeoma Adeyemi", "directory.name")]
    previous = ["Who is the manager of Fleur Janssen?"]
    # the pronoun already resolved to the person the answer named ("her" -> Ifeoma Adeyemi)
    asked = "And what is Ifeoma Adeyemi's job title?"
    assert standalone_question(asked, previous, values) == "what is Ifeoma Adeyemi's job title"
    # a bare name still takes the earlier question's predicate
    assert standalone_question("and Ifeoma Adeyemi?", previous, values) == (
        "Who is the manager of Ifeoma Adeyemi"
    )


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
        "how often is it measured, ETA"
    )
    # A numbered word stands in for the same word numbered otherwise.
    assert standalone_question("same for tier 2?", ["how many tier 1 services do we run"]) == (
        "how many tier 2 services do we run"
    )
    assert standalone_question("and for a SEV2?", ["how often are updates during a SEV1?"]) == (
        "how often are updates during a SEV2"
    )
    assert follow_up_query("same for tier 2?", ["how many tier 1 services"]).borrowed == (
        "services",
    )
    kpis = [("ETA accuracy", "kpi_catalog.name")]
    assert standalone_question(
        "and how often is it measured?", ["target for ETA accuracy?"], kpis
    ) == ("how often is it measured, ETA accuracy")
    chain = ["who owns shipment-api", "what language is it written in"]
    assert standalone_question("what tier?", chain) == "what tier, shipment-api"
    assert standalone_question("why?", ["how long are pings kept"]) == (
        "how long are pings kept, why"
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
    # Even when the other system's sentence is a little closer in meaning (the local
    # embedder's cosine), and holds more of the question's words.
    ranked = score_units(question, content_stems(question), other + named, semantic=[0.6, 0.55])
    assert ranked[0].unit.text.startswith("WAL archive")
    assert ranked[1].coverage > ranked[0].coverage


SERVICES = TableSchema(
    name="services",
    columns=(
        TableColumn("name", "TEXT", ("shipment-api",), values=("shipment-api", "billing-service")),
        TableColumn("tier", "INTEGER", ("1", "2")),
        TableColumn("primary_datastore", "TEXT", ("pg-core",), values=("pg-core", "ClickHouse")),
    ),
    row_count=3,
)
STAFF = TableSchema(
    name="directory",
    columns=(
        TableColumn("name", "TEXT", ("Ana Silva",), values=("Ana Silva", "Bo Chen", "Cy Diaz")),
        TableColumn("title", "TEXT", ("CFO",), values=("Chief Financial Officer", "Engineer")),
        TableColumn("start_date", "DATE", ("2016-04-01", "2023-09-05")),
    ),
    row_count=3,
)


def _run(sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE services (name TEXT, tier INTEGER, primary_datastore TEXT)")
    conn.executemany(
        "INSERT INTO services VALUES (?, ?, ?)",
        [("shipment-api", 1, "pg-core"), ("billing-service", 2, "pg-core"), ("web", 1, None)],
    )
    conn.execute("CREATE TABLE directory (name TEXT, title TEXT, start_date TEXT)")
    conn.executemany(
        "INSERT INTO directory VALUES (?, ?, ?)",
        [
            ("Ana Silva", "Chief Financial Officer", "2016-04-01"),
            ("Bo Chen", "Engineer", "2016-04-01"),
            ("Cy Diaz", "Engineer", "2023-09-05"),
        ],
    )
    return conn.execute(sql).fetchall()


def test_a_number_after_an_integer_column_name_filters_on_it() -> None:
    plan = plan_sql("how many tier 1 services are there", [SERVICES, STAFF], SAMPLE_LEXICON)
    assert plan is not None and plan.count
    assert _run(plan.sql)[0][0] == 2
    plan = plan_sql("which services are tier 2", [SERVICES, STAFF], SAMPLE_LEXICON)
    assert plan is not None and [r[0] for r in _run(plan.sql)] == ["billing-service"]


def test_one_distinctive_word_of_a_column_name_asks_for_it() -> None:
    plan = plan_sql("what datastore does billing-service use", [SERVICES, STAFF], SAMPLE_LEXICON)
    assert plan is not None and plan.asked_columns == ("primary_datastore",)


def test_who_is_a_title_answers_with_the_name() -> None:
    plan = plan_sql("whos the CFO", [SERVICES, STAFF], SAMPLE_LEXICON)
    assert plan is not None and plan.who_is
    rows = _run(plan.sql)
    columns = ["name", "title", "start_date", "_relevance"]
    answer = compose_sql(plan, {"columns": columns, "rows": [list(r) for r in rows]})
    assert answer is not None and answer.text.startswith("Ana Silva is the Chief Financial Officer")


def test_the_first_or_latest_to_join_are_all_rows_tied_at_the_extreme() -> None:
    plan = plan_sql("who joined first", [SERVICES, STAFF], SAMPLE_LEXICON)
    assert plan is not None and sorted(r[0] for r in _run(plan.sql)) == ["Ana Silva", "Bo Chen"]
    plan = plan_sql("who started most recently", [SERVICES, STAFF], SAMPLE_LEXICON)
    assert plan is not None and [r[0] for r in _run(plan.sql)] == ["Cy Diaz"]


def test_names_asked_for_are_shown_once_with_the_column_that_matched() -> None:
    plan = SqlPlan(
        table="directory",
        sql="SELECT ...",
        label_column="name",
        asked_columns=("name",),
        entities=("site reliability engineer",),
        terms=("site reliability engineer",),
    )
    columns = ["name", "title", "team", "_relevance"]
    rows = [
        ["Arjun Mehta", "Site Reliability Engineer", "Site Reliability", 3],
        ["Fleur Janssen", "Site Reliability Engineer", "Site Reliability", 3],
    ]
    answer = compose_sql(plan, {"columns": columns, "rows": rows})
    assert answer is not None
    assert "| name | title |\n" in answer.text
    assert "| Arjun Mehta | Site Reliability Engineer |" in answer.text


def test_which_office_asks_for_the_location() -> None:
    people = TableSchema(
        name="directory",
        columns=(
            TableColumn("name", "TEXT", ("Laura Méndez",), values=("Laura Méndez", "Chen Wei")),
            TableColumn("location", "TEXT", ("Lisbon",), values=("Lisbon", "Toronto")),
        ),
        row_count=2,
    )
    plan = plan_sql("which office is Chen Wei in", [people], SAMPLE_LEXICON)
    assert plan is not None and plan.asked_columns == ("location",)


def test_filler_phrases_and_former_prefixes_carry_no_content() -> None:
    assert content_stems("how many customers are on enterprise right now") == content_stems(
        "how many customers are on enterprise"
    )
    assert content_stems("ex-employee kept their laptop") == content_stems(
        "employee kept their laptop"
    )
    assert "right" in content_stems("the right to erasure")
    assert content_stems("how many tries til lockout") == content_stems("how many tries lockout")


ORG = TableSchema(
    name="directory",
    columns=(
        TableColumn("employee_id", "TEXT", ("E001", "E002"), values=("E001", "E002")),
        TableColumn("name", "TEXT", ("Ana Silva",), values=("Ana Silva", "Bo Chen", "Cy Diaz")),
        TableColumn(
            "title",
            "TEXT",
            ("Head of Data",),
            values=("Chief Executive Officer", "Head of Data", "Data Engineer"),
        ),
        TableColumn("team", "TEXT", ("Data",), values=("Executive", "Data Platform")),
        TableColumn("location", "TEXT", ("Lisbon",), values=("Lisbon", "Toronto")),
        TableColumn("manager_id", "TEXT", ("E001",), values=("E001", "E002")),
    ),
    row_count=5,
)


def _org(sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE TABLE directory (employee_id TEXT, name TEXT, title TEXT, team TEXT, "
        "location TEXT, manager_id TEXT)"
    )
    conn.executemany(
        "INSERT INTO directory VALUES (?, ?, ?, ?, ?, ?)",
        [
            ("E001", "Ana Silva", "Chief Executive Officer", "Executive", "Lisbon", None),
            ("E002", "Bo Chen", "Head of Data", "Data Platform", "Toronto", "E001"),
            ("E003", "Cy Diaz", "Data Engineer", "Data Platform", "Lisbon", "E002"),
            ("E004", "Di Eze", "Data Engineer", "Data Platform", "Toronto", "E002"),
            ("E005", "Ed Fox", "Data Engineer", None, "Lisbon", "E002"),
        ],
    )
    return conn.execute(sql).fetchall()


@pytest.mark.parametrize(
    "question",
    [
        "who leads the data platform team",
        "who runs Data Platform",
        "who's in charge of data platform",
    ],
)
def test_who_leads_a_team_is_the_top_of_its_reporting_line(question: str) -> None:
    plan = plan_sql(question, [ORG], SAMPLE_LEXICON)
    assert plan is not None and plan.head_of == "Data Platform" and not plan.head_by_title
    rows = _org(plan.sql)
    assert [r[1] for r in rows] == ["Bo Chen"]
    columns = ["employee_id", "name", "title", "team", "location", "manager_id"]
    answer = compose_sql(plan, {"columns": columns, "rows": [list(r) for r in rows]})
    assert answer is not None
    assert answer.text.startswith(
        "Data Platform is led by Bo Chen (Head of Data) [table: directory]."
    )


def test_the_manager_of_a_team_is_its_head_not_a_manager_id_column() -> None:
    plan = plan_sql(
        "who is the manager of the data platform team, and their location?", [ORG], SAMPLE_LEXICON
    )
    assert plan is not None and plan.head_of == "Data Platform"
    assert plan.asked_columns == ("name", "location")


def test_who_heads_the_holders_of_a_title_is_whom_they_report_to() -> None:
    plan = plan_sql("who heads the DE and which office are they in", [ORG], SAMPLE_LEXICON)
    assert plan is not None and plan.head_by_title and plan.asked_columns == ("name", "location")
    rows = _org(plan.sql)
    assert [r[1] for r in rows] == ["Bo Chen"]  # also for Ed Fox, who has no team
    columns = ["employee_id", "name", "title", "team", "location", "manager_id"]
    answer = compose_sql(plan, {"columns": columns, "rows": [list(r) for r in rows]})
    assert answer is not None and answer.text.startswith(
        "People with the title Data Engineer report to Bo Chen (Head of Data; location Toronto)"
    )


def test_a_leaders_own_title_names_the_row_and_no_reporting_line_means_no_head() -> None:
    plan = plan_sql("who is the head of data", [ORG], SAMPLE_LEXICON)
    assert plan is not None and plan.head_of is None and plan.who_is
    assert [r[1] for r in _org(plan.sql)][:1] == ["Bo Chen"]
    flat = TableSchema(
        name="directory",
        columns=tuple(c for c in ORG.columns if c.name != "manager_id"),
        row_count=5,
    )
    plan = plan_sql("who leads the data platform team", [flat], SAMPLE_LEXICON)
    assert plan is None or plan.head_of is None


def test_abbreviations_name_a_title_when_written_out() -> None:
    people = TableSchema(
        name="directory",
        columns=(
            TableColumn("name", "TEXT", ("Thijs Bakker",), values=("Thijs Bakker", "Bo Chen")),
            TableColumn(
                "title",
                "TEXT",
                ("IT Operations Lead",),
                values=("IT Operations Lead", "Senior People Partner", "Engineering Manager"),
            ),
            TableColumn("team", "TEXT", ("IT Operations",), values=("IT Operations", "Site Ops")),
            TableColumn("email", "TEXT", ("thijs@example.com",)),
        ),
        row_count=2,
    )
    plan = plan_sql("email for the IT ops lead?", [people], SAMPLE_LEXICON)
    assert plan is not None and plan.entities == ("it operations lead",)
    assert plan.asked_columns == ("email",)
    plan = plan_sql("whats the email of the sr people partner", [people], SAMPLE_LEXICON)
    assert plan is not None and plan.entities == ("senior people partner",)
    # Only a value the written-out word completes is a reason to rewrite what was typed.
    plan = plan_sql("how many people in the directory are in Site Ops", [people], SAMPLE_LEXICON)
    assert plan is not None and "site ops" in plan.sql and "operations" not in plan.sql


def test_that_team_or_that_office_is_the_value_the_last_answer_named() -> None:
    values = [
        ("shipment-api", "services.name"),
        ("Tracking Core", "services.owner_team"),
        ("Tracking Core", "directory.team"),
        ("Rotterdam", "directory.location"),
        ("Ifeoma Adeyemi", "directory.name"),
    ]
    answer = "The owner team of shipment-api is Tracking Core [table: services].\n\n**Sources**"
    assert resolve_reference("which other services does that team own?", [answer], values) == (
        "which other services does Tracking Core own?"
    )
    located = "The location of Ifeoma Adeyemi is Rotterdam [table: directory]."
    assert resolve_reference("how many desks in that office", [answer, located], values) == (
        "how many desks in Rotterdam"
    )
    assert resolve_reference("who owns that service", [answer], values) == "who owns shipment-api"
    # Nothing of the kind in the last two answers, or no demonstrative: unchanged.
    assert resolve_reference("what about that office", [answer], values) == (
        "what about that office"
    )
    assert resolve_reference("which team owns it", [answer], values) == "which team owns it"


def test_a_row_whose_name_only_contains_the_name_asked_for_must_be_on_topic() -> None:
    kpis = TableSchema(
        name="kpi_catalog",
        columns=(
            TableColumn(
                "name",
                "TEXT",
                ("Mean time to acknowledge (SEV1/SEV2)",),
                values=("Mean time to acknowledge (SEV1/SEV2)", "ETA accuracy"),
            ),
            TableColumn("frequency", "TEXT", ("monthly",), values=("monthly", "weekly")),
        ),
        row_count=2,
    )
    row = [["Mean time to acknowledge (SEV1/SEV2)", "monthly", 6]]
    columns = ["name", "frequency", "_relevance"]
    updates = plan_sql("how often do we post updates during a SEV2?", [kpis], SAMPLE_LEXICON)
    assert updates is not None and updates.topic == ("post", "updat")
    assert compose_sql(updates, {"columns": columns, "rows": row}) is None
    acknowledged = plan_sql(
        "how often is time to acknowledge for SEV2 measured?", [kpis], SAMPLE_LEXICON
    )
    assert acknowledged is not None
    assert compose_sql(acknowledged, {"columns": columns, "rows": row}) is not None


def test_a_row_named_by_its_code_is_on_topic_however_long_the_question() -> None:
    plan = plan_sql(
        "KPI-20 - target, how often its reported and where the numbers come from?",
        [KPIS],
        SAMPLE_LEXICON,
    )
    assert plan is not None and len(plan.topic) >= 3
    columns = ["kpi_id", "name", "target", "_relevance"]
    row = [["KPI-20", "Critical vulnerability SLA compliance", ">= 95", 3]]
    answer = compose_sql(plan, {"columns": columns, "rows": row})
    assert answer is not None
    assert answer.text.startswith("The target of Critical vulnerability SLA compliance is >= 95")


def test_a_name_typed_with_most_of_its_words_names_the_row() -> None:
    kpis = TableSchema(
        name="kpi_catalog",
        columns=(
            TableColumn(
                "name",
                "TEXT",
                ("Gross logo churn",),
                values=("Phishing simulation click rate", "Gross logo churn", "Event match rate"),
            ),
            TableColumn("source_system", "TEXT", ("KnowBe4",), values=("KnowBe4", "dbt")),
        ),
        row_count=3,
    )
    plan = plan_sql(
        "where does the phishing click rate number come from, which tool?", [kpis], SAMPLE_LEXICON
    )
    assert plan is not None and plan.entities == ("phishing simulation click rate",)
    assert plan.asked_columns == ("source_system",)
    # Another word in the name's place is another thing: gross *revenue* churn is not tracked.
    plan = plan_sql("what source is gross revenue churn from", [kpis], SAMPLE_LEXICON)
    assert plan is None or "gross logo churn" not in plan.sql


def test_very_common_words_are_told_apart_from_topics() -> None:
    common = _common_stems(
        "my parents place, the truck went dark: canteen menu or parental leave?",
        DEFAULT_TUNING.choose.common_word_frequency,
    )
    assert {"parent", "went", "dark"} <= common
    assert not {"canteen", "menu", "parental"} & common


def test_a_verb_of_an_idiom_the_knowledge_base_lacks_is_not_taken_for_a_topic() -> None:
    text = (
        "Teardown functions run when the request context is popped. The teardown functions "
        "are still called, and are passed the exception object, if the view raised an "
        "unhandled exception. Templates are rendered with Jinja."
    )
    hit = {"title": "Manual", "section": "Manual > Context", "text": text, "number": 1}
    idiom = compose_documents(
        "do the teardown ones still run if the view blows up with an exception?", [hit]
    )
    assert "still called" in idiom.text
    # "blows" alone, no particle: a word the knowledge base lacks, which raises the bar
    plain = compose_documents(
        "do the teardown ones still run if the view blows with an exception?", [hit]
    )
    assert "still called" not in plain.text
    assert _phrasal_stems("it falls over, then chokes up") == {"fall", "choke"}
    assert _phrasal_stems("how do I set meld up?") == set()  # "meld" is the object


def test_what_a_question_sets_aside_does_not_pick_the_answer() -> None:
    hits = [
        {"title": "Tests", "section": "Tests", "text": text, "number": number}
        for number, text in (
            (1, "You can also generate an HTML report."),
            (2, "A simple report is printed in the terminal as a table."),
        )
    ]
    answer = compose_documents(
        "can i get that as an html report instead of the terminal table?", hits
    )
    assert "HTML report" in answer.text
    assert "terminal" not in answer.text
    assert _set_aside("an html report, instead of the terminal table?") == set()  # names nothing
    # Asking for a replacement is asking about what it replaces.
    assert _set_aside("what do I use instead of assume-unchanged?") == set()
    assert _set_aside("a plain file rather than a pipe") == {"pipe"}


def test_asking_clauses_split_sentences_and_skip_a_joining_word() -> None:
    message = (
        "Hi! I'm planning to spend part of the summer in Spain and work from there. "
        "How long am I allowed to work from abroad, and do I need to ask anyone?"
    )
    assert asking_clauses(message) == [
        "How long am I allowed to work from abroad",
        "and do I need to ask anyone",
    ]
    assert asking_clauses("a partner needs our keys asap. can I just email it to them??") == [
        "can I just email it to them"
    ]
    # A negative question asks too, with or without its apostrophe.
    assert asking_clauses("the cert has 20 days left.. isnt that supposed to renew?") == [
        "isnt that supposed to renew"
    ]
    assert asking_clauses("the cert has 20 days left, doesn't it renew by itself?") == [
        "doesn't it renew by itself"
    ]


def test_a_code_in_capitals_picks_the_sentence_that_names_it() -> None:
    text = (
        "- `EXPIRED` — tracking window ended without delivery, 30 days after creation.\n"
        "- `COMPLETED` — the record is final, 24 h after delivery.\n"
        "- Exception types: `LATE`, `STALLED` (no movement for 45 minutes outside a stop).\n"
    )
    units = units_of(text, set(), 0, 0)
    question = "what does STALLED mean on a shipment exactly? when does it get raised"
    ranked = score_units(question, content_stems(question), units)
    assert "STALLED" in ranked[0].unit.text
    assert _named_identifiers(question, units) == [frozenset({"stall"})]
    # A message all in capitals shouts: none of its words is a code.
    assert _named_identifiers("WHAT DOES STALLED MEAN ON A SHIPMENT", units) == []


def test_who_works_somewhere_lists_the_people_of_that_value() -> None:
    people = STAFF_LOCATIONS
    plan = plan_sql(
        "is anyone in the company working remotely from Ireland? who?", [people], SAMPLE_LEXICON
    )
    assert plan is not None and set(plan.entities) == {
        "remote - ireland (cork)",
        "remote - ireland (dublin)",
    }
    assert plan_sql("who works in Lisbon", [people], SAMPLE_LEXICON) is not None
    # Other words make it a question for the documents.
    assert plan_sql("who approves expenses in Lisbon", [people], SAMPLE_LEXICON) is None


@pytest.mark.parametrize(
    ("word", "written"),
    [("tries", "attempts"), ("locks", "lockout"), ("saturday", "weekend")],
)
def test_words_people_use_for_the_policies_words(word: str, written: str) -> None:
    assert match(stem(word), {stem(written)}, lexicon=SAMPLE_LEXICON) > 0.5


def test_a_correctly_spelt_word_is_no_typo_of_another() -> None:
    assert _spelt_stems("paid paternity leave in the Netherlands") >= {stem("paternity")}
    assert stem("pasword") not in _spelt_stems("min pasword lenght")
    assert match(stem("paternity"), {stem("pattern")}) > 0  # as a typo, for ranking
    assert match(stem("paternity"), {stem("pattern")}, typos=False) == 0.0


def test_a_person_the_documents_name_is_looked_up_for_what_was_asked() -> None:
    answer = (
        "Only the Head of Data (Bo Chen) or the CEO can authorise a failover [2]. Other "
        "text [2].\n\n**Sources**\n[2] Runbook"
    )
    question = "who may authorise a failover of the EU database, and which office are they in?"
    plan = chained_plan(question, answer, [ORG], SAMPLE_LEXICON)
    assert plan is not None and plan.entities == ("head of data",)
    assert plan.asked_columns == ("location",)
    assert [r[1] for r in _org(plan.sql)][:1] == ["Bo Chen"]
    # Nothing asked beyond the name, or no row named: no second step.
    assert chained_plan("who may authorise a failover?", answer, [ORG], SAMPLE_LEXICON) is None
    assert chained_plan(question, "Finance approves it [1].", [ORG], SAMPLE_LEXICON) is None


def test_a_person_named_by_a_second_sentence_that_goes_on_about_the_first_is_looked_up() -> None:
    question = "who may authorise a failover of the EU database, and which office are they in?"
    goes_on = (
        "Failovers are rare [2]. They are authorised by the Head of Data (Bo Chen) [2].\n\n"
        "**Sources**\n[2] Runbook"
    )
    plan = chained_plan(question, goes_on, [ORG], SAMPLE_LEXICON)
    assert plan is not None and plan.asked_columns == ("location",)
    assert [r[1] for r in _org(plan.sql)][:1] == ["Bo Chen"]
    # a second sentence about something else is not read for names
    unrelated = goes_on.replace("They are authorised", "Failovers are authorised")
    assert chained_plan(question, unrelated, [ORG], SAMPLE_LEXICON) is None


def test_a_list_of_rows_never_answers_how_long_and_hash_of_counts() -> None:
    plan = SqlPlan(
        table="services",
        sql="SELECT ...",
        label_column="name",
        asked_columns=(),
        entities=("shipment-api",),
        terms=("shipment-api",),
        asks_amount=True,
    )
    rows = [["shipment-api", 1, "pg-core", 3]]
    columns = ["name", "tier", "primary_datastore", "_relevance"]
    assert compose_sql(plan, {"columns": columns, "rows": rows}) is None
    assert compose_sql(replace(plan, asks_amount=False), {"columns": columns, "rows": rows})
    listed = plan_sql(
        "which services are tier 2, and how long has each been live?", [SERVICES], SAMPLE_LEXICON
    )
    assert listed is not None and listed.asks_amount
    counted = plan_sql(
        "# of tier 2 services in the service catalogue?", [SERVICES, STAFF], SAMPLE_LEXICON
    )
    assert counted is not None and counted.count


@pytest.mark.parametrize(
    ("question", "as_of"),
    [
        ("back in 2022 how often did we have to change passwords?", date(2022, 12, 31)),
        ("under the original 2022 password policy, how many failed logins?", date(2022, 12, 31)),
        ("and what was it before the sept 2025 update?", date(2025, 8, 31)),
        ("what was the rule before 15 September 2025", date(2025, 9, 14)),
        ("the 2023 rules on mfa", date(2023, 12, 31)),
        ("how long must my password be", None),
        ("what changed in 2026?", None),  # not before today
        ("before the change, what was it?", None),  # no date named
        ("before 31 february 2025", None),
    ],
)
def test_a_past_date_named_in_a_question_is_read(question: str, as_of: date | None) -> None:
    assert as_of_date(question, today=date(2026, 11, 23)) == as_of


INSURANCE = [
    {
        "number": 1,
        "title": "Travel and Expense Policy",
        "section": "8. What is not reimbursed",
        "source": "policies/travel-and-expense-policy.md",
        "_rank": 0,
        "text": "Travel insurance is not reimbursed: the company's travel insurance policy "
        "with Allianz covers all business trips, with details in the Finance wiki.",
    }
]


def test_a_quantity_asked_is_answered_only_by_a_sentence_stating_one() -> None:
    assert asks_quantity("how much medical cover does the travel insurance give?")
    assert asks_quantity("what's the coverage limit on our travel insurance")
    assert not asks_quantity("does the travel insurance cover business trips?")
    assert states_quantity("Unlimited users") and states_quantity("€80 per day")
    assert not states_quantity("covers all business trips")

    covered = compose_documents("does our travel insurance cover business trips?", INSURANCE)
    assert covered.found
    amount = compose_documents("how much medical cover does our travel insurance give?", INSURANCE)
    assert not amount.found


CERT_ALERTS = [
    {
        "number": 1,
        "title": "TLS Certificate Renewal Runbook",
        "section": "Alerts",
        "source": "runbooks/certificate-renewal.md",
        "_rank": 0,
        "text": "- **Warning** (Slack `#platform-alerts`): less than **21 days** to expiry.\n"
        "- **Page** (`platform-eng` rotation): less than **7 days** to expiry.\n\n"
        "Since cert-manager renews at 30 days remaining, a 21-day warning always means "
        "automation has failed for at least 9 days.",
    }
]


def test_a_message_telling_a_story_gets_the_sentence_answering_its_question() -> None:
    answer = compose_documents(
        "got a warning in #platform-alerts that the cert has 20 days left. isn't that "
        "supposed to renew by itself?",
        CERT_ALERTS,
    )
    assert answer.found
    assert "renews at 30 days remaining" in answer.text
    # A question of one clause is answered as before.
    plain = compose_documents("when does the platform-alerts cert warning fire?", CERT_ALERTS)
    assert plain.text.startswith("Warning (Slack `#platform-alerts`): less than 21 days")


DRIVER_APP = [
    {
        "number": 1,
        "title": "API Versioning",
        "section": "Deprecation",
        "source": "domain/api.md",
        "_rank": 0,
        "text": "Breaking API changes require a new API version and a minimum 12-month "
        "deprecation window for the previous version.",
    },
    {
        "number": 2,
        "title": "Product Overview",
        "section": "Location sources",
        "source": "domain/product-overview.md",
        "_rank": 1,
        "text": "Driver app locations come from the free Relay Driver app for Android and "
        "iOS, used when a carrier has no telematics integration.",
    },
]


def test_a_quantity_asked_about_a_rare_topic_comes_from_a_sentence_naming_it() -> None:
    """The minimum version asked is the driver app's on Android; the API's 12-month window is
    a quantity about something else."""
    answer = compose_documents(
        "what's the minimum android version the relay driver app supports?", DRIVER_APP
    )
    assert not answer.found
    assert compose_documents(
        "what's the minimum deprecation window for a breaking API version?", DRIVER_APP
    ).found


def test_keyword_questions_ask_a_quantity_when_they_ask_one_thing() -> None:
    assert asks_quantity("mileage rate if I drive my own car in Germany?")
    assert asks_quantity("max hotel per night in Toronto")
    assert not asks_quantity("rate is too low, why?")
    # Two questions: the first one's "min" says nothing of the second one.
    assert not asks_quantity("min pasword lenght for okta now? and do i still need a symbol")


def test_how_many_names_what_it_counts() -> None:
    assert counted_words("how many partitions does the shipment.events topic have") == [
        "partitions"
    ]
    assert counted_words("how many failed attempts before lockout?") == ["failed", "attempts"]
    assert counted_words("how many does the ceo have") == []
    assert counted_words("how many times do we retry a webhook") == []  # attempts, in any words
    assert counted_words("when does the cert renew") == []


MILEAGE = [
    {
        "number": 1,
        "title": "Travel and Expense Policy",
        "section": "2. Transport",
        "source": "policies/travel-and-expense-policy.md",
        "_rank": 0,
        "text": "| Mode | Allowed class |\n|---|---|\n"
        "| Own car | €0.23 per km (NL), €0.40 per km (PT), CAD 0.70 per km (CA) |",
    },
    {
        "number": 2,
        "title": "Event Streaming",
        "section": "Topics",
        "source": "domain/architecture.md",
        "_rank": 1,
        "text": "The shipment.events topic carries every tracking event; the event match "
        "target is 97%.",
    },
]


def test_another_countrys_rate_is_no_answer_for_the_country_asked() -> None:
    germany = compose_documents("what's the per km rate for my own car in Germany?", MILEAGE)
    assert not germany.found
    portugal = compose_documents("what's the per km rate for my own car in Portugal?", MILEAGE)
    assert portugal.found and "€0.40 per km (PT)" in portugal.text


def test_a_number_of_something_else_does_not_answer_how_many() -> None:
    answer = compose_documents("how many partitions does the shipment.events topic have", MILEAGE)
    assert not answer.found
    assert compose_documents(
        "what's the event match rate target for shipment.events?", MILEAGE
    ).found


def test_asking_for_permission_is_an_asking_clause() -> None:
    assert asking_clauses(
        "the dispatcher wants the driver's mobile number - ok if I paste it in our slack channel?"
    ) == ["ok if I paste it in our slack channel"]
    assert asking_clauses("my laptop is slow, fine to use my own one for a week?") == [
        "fine to use my own one for a week"
    ]


def test_a_quantity_in_a_sentence_too_weak_to_answer_alone_does_not_answer() -> None:
    """The booking rule's "14 days" joins the answer as a related sentence, but it is no
    answer to the insurance's limit."""
    hits = [
        *INSURANCE,
        {
            "number": 2,
            "title": "Travel and Expense Policy",
            "section": "1. Booking travel",
            "source": "policies/travel-and-expense-policy.md",
            "_rank": 1,
            "text": "Travel bookings, insurance included, are made at least 14 days in advance.",
        },
    ]
    known = lambda _stem: True  # noqa: E731  (the knowledge base holds every word asked)
    context = AnswerContext(lexicon=SAMPLE_LEXICON, known=known)
    answer = compose_documents(
        "what's the coverage limit on our Allianz travel insurance?", hits, context
    )
    assert not answer.found, answer.text
    context = AnswerContext(lexicon=SAMPLE_LEXICON)
    assert compose_documents(
        "does the Allianz travel insurance cover business trips?", hits, context
    ).found


def test_a_way_asked_for_by_a_message_reporting_a_problem_is_a_remedy() -> None:
    from services.offline.question import asks_remedy

    assert asks_remedy("ValueError: has host bits set. how do i get it to give me the network")
    assert asks_remedy("the build keeps failing on warnings, how can I see which file?")
    assert asks_remedy("matches the whole line instead of one tag, how do i fix it")
    assert not asks_remedy("how do I turn on WAL mode?")  # a way, no problem
    assert not asks_remedy("what does the error log record?")  # a problem word, no way asked


def test_the_noun_use_is_no_instruction() -> None:
    from services.offline.score import _METHOD

    assert _METHOD.search("Build the index, and use it for every query.")
    assert not _METHOD.search("Integer inputs are accepted, and use of one version is forced.")
    assert _METHOD.search("This is achieved by resetting the counter errorcontextlines.")
