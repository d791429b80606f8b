"""docs/websites.md stays true to the code: its robots.txt example reads as the page says, its
SOURCE_ALLOWED_HOSTS example is accepted, and its limits table has every website setting with
the code's default."""

from __future__ import annotations

import re

from backend.config import PROJECT_ROOT, Settings, WebsiteSourceSettings
from services.crawler.robots import parse_robots

DOC = (PROJECT_ROOT / "docs" / "websites.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"^```\n(.*?)^```", DOC, flags=re.M | re.S)


def test_the_robots_example_allows_and_disallows_what_the_page_says() -> None:
    robots = next(block for block in BLOCKS if block.startswith("User-agent"))
    rules = parse_robots(robots)
    assert not rules.allowed("/handbook/drafts/plan.html")
    assert rules.allowed("/handbook/drafts/published-plan.html")
    assert rules.allowed("/handbook/index.html")
    assert rules.crawl_delay == 2
    assert "`/handbook/drafts/plan.html` is not read" in DOC


def test_the_allowed_hosts_example_is_accepted() -> None:
    line = next(block for block in BLOCKS if block.startswith("SOURCE_ALLOWED_HOSTS="))
    name, _, value = line.strip().partition("=")
    group = Settings(**{name.lower(): value}).website_sources
    assert group.allowed_host_list == ("intranet.example", "wiki.corp.example", "10.20.0.15")


def test_the_limits_table_has_every_website_setting_with_its_default() -> None:
    rows = dict(re.findall(r"^\| `(SOURCE_\w+)` \| ([^|]+) \|", DOC, flags=re.M))
    fields = WebsiteSourceSettings.model_fields
    field_of = {
        env.upper(): name for name, env in WebsiteSourceSettings.environment_names().items()
    }
    assert set(rows) == set(field_of) - {"SOURCE_ALLOWED_HOSTS"}
    for name, shown in rows.items():
        default = fields[field_of[name]].default
        assert float(shown) == float(default), name
