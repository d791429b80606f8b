"""robots.txt as RFC 9309 reads it: the group for our agent, longest match wins.

Rules:
- The group whose `User-agent` names our product token (`almanac`, case-insensitive) is used,
  else the `*` group, else everything is allowed. Consecutive `User-agent` lines share one
  group; several groups for the same agent are merged.
- `Allow` and `Disallow` paths match from the start of the path and query, with `*` (any
  characters) and a final `$` (the end); the longest matching rule wins and `Allow` wins a
  tie. An empty `Disallow` allows everything. `/robots.txt` itself is always allowed.
- `Crawl-delay` (seconds, from the chosen group) is kept; `Sitemap` lines are collected.
- The stdlib's `urllib.robotparser` is not used: it takes the first matching rule, not the
  longest, and knows no wildcards, so `Allow: /docs/public` under `Disallow: /docs` is lost.
- The text given is at most the size cap (RFC 9309 asks crawlers to read at least 500 KiB):
  the caller cuts a larger file there and this reads its complete lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote

AGENT_TOKEN = "almanac"


@dataclass(frozen=True)
class _Rule:
    allow: bool
    path: str
    pattern: re.Pattern[str]


@dataclass
class RobotsRules:
    """The rules of one site for our agent (`allow_all()` when it has none)."""

    rules: list[_Rule] = field(default_factory=list)
    crawl_delay: float | None = None
    sitemaps: list[str] = field(default_factory=list)

    @classmethod
    def allow_all(cls) -> RobotsRules:
        return cls()

    def allowed(self, path: str) -> bool:
        """Whether a URL's path (with its query) may be fetched."""
        if path == "/robots.txt":
            return True
        target = _canonical(path or "/")
        best: _Rule | None = None
        for rule in self.rules:
            if rule.pattern.match(target) and (
                best is None
                or len(rule.path) > len(best.path)
                or (len(rule.path) == len(best.path) and rule.allow)
            ):
                best = rule
        return best is None or best.allow


def parse_robots(text: str) -> RobotsRules:
    """The rules for `AGENT_TOKEN` in a robots.txt's text."""
    groups: list[tuple[set[str], list[tuple[str, str]]]] = []
    sitemaps: list[str] = []
    agents: set[str] = set()
    lines: list[tuple[str, str]] = []
    in_rules = False
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if ":" not in line:
            continue
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip()
        if name == "sitemap":
            if value:
                sitemaps.append(value)
            continue
        if name == "user-agent":
            if in_rules:  # a new group starts
                groups.append((agents, lines))
                agents, lines, in_rules = set(), [], False
            agents.add(value.lower())
            continue
        if name in ("allow", "disallow", "crawl-delay"):
            in_rules = True
            if agents:
                lines.append((name, value))
    if agents:
        groups.append((agents, lines))

    chosen = [lines for agents, lines in groups if any(_names_us(a) for a in agents)]
    if not chosen:
        chosen = [lines for agents, lines in groups if "*" in agents]
    result = RobotsRules(sitemaps=sitemaps)
    for group in chosen:
        for name, value in group:
            if name == "crawl-delay":
                try:
                    delay = float(value)
                except ValueError:
                    continue
                if delay >= 0 and delay == delay:  # not NaN
                    result.crawl_delay = max(result.crawl_delay or 0.0, delay)
            elif value:
                path = _canonical(value)
                result.rules.append(_Rule(name == "allow", path, _compile(path)))
    return result


def _names_us(agent: str) -> bool:
    return agent != "*" and agent.split("/", 1)[0].strip() == AGENT_TOKEN


def _canonical(path: str) -> str:
    """Percent-encoding undone on both sides, so a rule written `/caf%C3%A9` matches the
    path `/café` and the other way round."""
    return unquote(path)


def _compile(path: str) -> re.Pattern[str]:
    anchored = path.endswith("$")
    body = path[:-1] if anchored else path
    pattern = ".*".join(re.escape(part) for part in body.split("*"))
    return re.compile(pattern + ("$" if anchored else ""), re.DOTALL)
