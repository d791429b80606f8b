// The prompt library (part of #/admin/prompts), read-only: projects -> use cases -> prompts
// (with their tags) -> versions with their run statistics. Each level loads when it is
// opened. Every name, description, tag and text goes in as text (dom.js `h`), never as markup.

import { api } from "../api.js";
import { append, clear, dataTable, describeError, formatDate, formatPercent, h } from "../dom.js";

const PAGE = 100;

export function libraryBrowser() {
  const box = h("section", { class: "card prompts-library", "aria-labelledby": "prompts-library-title" },
    h("h2", { id: "prompts-library-title" }, "Library"),
    h("p", { class: "muted" },
      "Projects, their use cases, their prompts and each prompt's versions with the statistics of the evaluation runs that used them. The chat and advice prompts above are the built-in prompts of the Default project."));
  const list = h("div", { class: "library-projects" });
  box.append(list);
  lazyList(list, "/api/v1/projects", "No project yet.", projectItem);
  return box;
}

/** Load the list at `path` (a JSON array) into `into`: one <details> per item, or `empty`. */
async function lazyList(into, path, empty, item) {
  clear(into);
  into.append(h("p", { class: "loading", role: "status" }, "Loading…"));
  try {
    const items = await api("GET", `${path}${path.includes("?") ? "&" : "?"}limit=${PAGE}`);
    clear(into);
    if (!items.length) into.append(h("p", { class: "empty" }, empty));
    append(into, items.map(item));
    if (items.length === PAGE) {
      into.append(h("p", { class: "muted" }, `The first ${PAGE}.`));
    }
  } catch (error) {
    clear(into);
    into.append(h("p", { class: "notice error", role: "alert" }, describeError(error)));
  }
}

/** A <details> whose body `load(body)` fills the first time it is opened. */
function opening(summary, load, className) {
  const body = h("div", { class: "library-body" });
  const details = h("details", { class: className }, h("summary", {}, summary), body);
  let loaded = false;
  details.addEventListener("toggle", () => {
    if (details.open && !loaded) {
      loaded = true;
      load(body);
    }
  });
  return details;
}

function described(name, description, extra = null) {
  return [h("strong", {}, name), extra, description ? h("span", { class: "muted" }, ` — ${description}`) : null];
}

function projectItem(project) {
  return opening(described(project.name, project.description),
    (body) => lazyList(body, `/api/v1/projects/${encodeURIComponent(project.id)}/use-cases`, "No use case yet.", useCaseItem),
    "library-project");
}

function useCaseItem(useCase) {
  return opening(described(useCase.name, useCase.description),
    (body) => lazyList(body, `/api/v1/prompts?use_case_id=${encodeURIComponent(useCase.id)}`, "No prompt yet.", promptItem),
    "library-use-case");
}

function tagChips(tags) {
  if (!tags.length) return null;
  return h("span", { class: "library-tags" }, " ", tags.map((t) => h("span", { class: "badge" }, t)));
}

function promptItem(prompt) {
  return opening(described(prompt.name, prompt.description, tagChips(prompt.tags)),
    (body) => loadVersions(body, prompt),
    "library-prompt");
}

async function loadVersions(body, prompt) {
  body.append(h("p", { class: "loading", role: "status" }, "Loading…"));
  try {
    const page = await api("GET", `/api/v1/prompts/${encodeURIComponent(prompt.id)}/versions?limit=${PAGE}`);
    clear(body);
    body.append(
      h("p", { class: "muted" }, `Key `, h("code", {}, prompt.key), ` · ${page.total} version${page.total === 1 ? "" : "s"}`),
      dataTable([
        { label: "Version", value: (v) => String(v.version), class: "num" },
        { label: "State", value: (v) => (v.active ? h("span", { class: "badge good" }, "active") : h("span", { class: "badge" }, "draft")) },
        { label: "Runs", value: (v) => String(v.stats.runs), class: "num" },
        { label: "Pass rate", value: (v) => (v.stats.pass_rate === null ? "—" : formatPercent(v.stats.pass_rate)), class: "num" },
        { label: "Mean latency", value: (v) => (v.stats.mean_latency_ms === null ? "—" : `${Math.round(v.stats.mean_latency_ms).toLocaleString()} ms`), class: "num" },
        { label: "Cost", value: (v) => (v.stats.cost_usd === null ? "—" : `$${v.stats.cost_usd.toFixed(4)}`), class: "num" },
        { label: "Last run", value: (v) => formatDate(v.stats.last_run_at, true) },
        { label: "Text", value: (v) => h("details", {}, h("summary", {}, `${v.text.length.toLocaleString()} characters`), h("pre", { class: "prompts-text" }, v.text)) },
      ], page.items, { caption: `Versions of ${prompt.name}`, empty: "No version yet." }));
  } catch (error) {
    clear(body);
    body.append(h("p", { class: "notice error", role: "alert" }, describeError(error)));
  }
}
