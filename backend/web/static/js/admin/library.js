// The prompt library (part of #/admin/prompts): projects -> use cases -> prompts (with their
// tags) -> versions with their run statistics. Each level loads when it is opened; an opened
// project, use case or prompt can be edited (PATCH: name, description, a prompt's tags) or
// deleted after a confirmation (DELETE; a built-in prompt, or a project holding one, is
// refused with 409 and says why). Every name, description, tag and text goes in as text
// (dom.js `h`), never as markup.

import { api } from "../api.js";
import {
  append, clear, confirmDialog, dataTable, describeError, formatDate, formatPercent, h, notify,
} from "../dom.js";

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

/** A <details> whose body `load(body)` fills the first time it is opened; with `editing`
 * ({kind, item, path, fields, render}) the opened body starts with Edit and Delete. */
function opening(summary, load, className, editing = null) {
  const body = h("div", { class: "library-body" });
  const details = h("details", { class: className }, h("summary", {}, summary), body);
  let loaded = false;
  details.addEventListener("toggle", () => {
    if (details.open && !loaded) {
      loaded = true;
      const content = h("div", {});
      if (editing) body.append(editActions(details, editing));
      body.append(content);
      load(content);
    }
  });
  return details;
}

/** Edit (a dialog with the item's fields, then PATCH; the item is drawn again from the
 * answer) and Delete (after a confirmation; the item leaves the list). */
function editActions(details, { kind, item, path, fields, render }) {
  const edit = async () => {
    const changes = await fieldsDialog(`Edit ${kind} “${item.name}”`, fields(item));
    if (!changes) return;
    try {
      const updated = await api("PATCH", path, changes);
      notify(`${capital(kind)} saved.`, "success");
      details.replaceWith(render({ ...item, ...updated }));
    } catch (error) {
      notify(`Not saved: ${describeError(error)}`, "error");
    }
  };
  const remove = async () => {
    const sure = await confirmDialog({
      title: `Delete ${kind} “${item.name}”?`,
      message: kind === "prompt" ? "Its versions and runs are kept." : `Everything in it is deleted too. This cannot be undone.`,
      confirm: "Delete",
      danger: true,
    });
    if (!sure) return;
    try {
      await api("DELETE", path);
      notify(`${capital(kind)} “${item.name}” deleted.`, "success");
      details.remove();
    } catch (error) {
      notify(`Not deleted: ${describeError(error)}`, "error");
    }
  };
  return h("div", { class: "row library-actions" },
    h("button", { type: "button", onclick: edit }, `Edit ${kind}`),
    h("button", { type: "button", class: "danger", onclick: remove }, `Delete ${kind}`));
}

function capital(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

let dialogCount = 0;

/** A modal form of labelled text fields [{name, label, value, hint?, multiline?}]: resolves
 * to {name: value} of the fields changed ({} for none), or null when cancelled. */
function fieldsDialog(title, fields) {
  const opener = document.activeElement;
  const id = `library-dialog-${++dialogCount}`;
  const controls = fields.map((f, i) => {
    const props = { id: `${id}-${i}`, name: f.name, value: f.value };
    return f.multiline ? h("textarea", { ...props, rows: "3" }) : h("input", { ...props, type: "text", required: f.required });
  });
  const cancel = h("button", { type: "button" }, "Cancel");
  const form = h("form", {},
    fields.map((f, i) => h("div", { class: "field" },
      h("label", { for: controls[i].id }, f.label), controls[i], f.hint ? h("p", { class: "hint" }, f.hint) : null)),
    h("div", { class: "row dialog-actions" }, cancel, h("button", { type: "submit", class: "primary" }, "Save")));
  const dialog = h("dialog", { class: "dialog", "aria-labelledby": id }, h("h2", { id }, title), form);
  return new Promise((resolve) => {
    let answer = null;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      answer = {};
      fields.forEach((f, i) => {
        const value = f.parse ? f.parse(controls[i].value) : controls[i].value.trim();
        if (JSON.stringify(value) !== JSON.stringify(f.parse ? f.parse(f.value) : f.value)) answer[f.name] = value;
      });
      dialog.close();
    });
    cancel.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => {
      dialog.remove();
      if (opener && opener.isConnected && typeof opener.focus === "function") opener.focus();
      resolve(answer && Object.keys(answer).length ? answer : null);
    });
    document.body.append(dialog);
    dialog.showModal();
    controls[0].select();
  });
}

function nameFields(item) {
  return [
    { name: "name", label: "Name", value: item.name, required: true },
    { name: "description", label: "Description", value: item.description || "", multiline: true },
  ];
}

function promptFields(prompt) {
  const tags = (text) => text.split(",").map((t) => t.trim()).filter(Boolean);
  return [...nameFields(prompt),
    { name: "tags", label: "Tags", value: prompt.tags.join(", "), parse: tags, hint: "Comma-separated." }];
}

function described(name, description, extra = null) {
  return [h("strong", {}, name), extra, description ? h("span", { class: "muted" }, ` — ${description}`) : null];
}

function projectItem(project) {
  const path = `/api/v1/projects/${encodeURIComponent(project.id)}`;
  return opening(described(project.name, project.description),
    (body) => lazyList(body, `${path}/use-cases`, "No use case yet.", useCaseItem),
    "library-project",
    { kind: "project", item: project, path, fields: nameFields, render: projectItem });
}

function useCaseItem(useCase) {
  return opening(described(useCase.name, useCase.description),
    (body) => lazyList(body, `/api/v1/prompts?use_case_id=${encodeURIComponent(useCase.id)}`, "No prompt yet.", promptItem),
    "library-use-case",
    { kind: "use case", item: useCase, path: `/api/v1/use-cases/${encodeURIComponent(useCase.id)}`, fields: nameFields, render: useCaseItem });
}

function tagChips(tags) {
  if (!tags.length) return null;
  return h("span", { class: "library-tags" }, " ", tags.map((t) => h("span", { class: "badge" }, t)));
}

function promptItem(prompt) {
  return opening(described(prompt.name, prompt.description, tagChips(prompt.tags)),
    (body) => loadVersions(body, prompt),
    "library-prompt",
    { kind: "prompt", item: prompt, path: `/api/v1/prompts/${encodeURIComponent(prompt.id)}`, fields: promptFields, render: promptItem });
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
