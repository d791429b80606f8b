// Prompts & models (#/admin/prompts): per prompt type, the system prompt in force, its
// versions (draft or active), a new version (saved as a draft or put in force), activating a
// version, reverting to the default, and trying a draft on a question beside the prompt in
// force; then the providers and each type's default model; then the prompt library, read-only
// (admin/library.js).

import { api } from "../api.js";
import { clear, confirmDialog, dataTable, describeError, field, formatDate, h, notify } from "../dom.js";
import { renderMarkdown } from "../markdown.js";
import { libraryBrowser } from "./library.js";

/** The embedded model: it answers from the documents alone and never reads a system prompt. */
const OFFLINE_MODEL = "offline-extractive";

/** The prompt types of docs/api.md; a type this server does not know (404) is left out. */
const PROMPT_TYPES = [
  { type: "chat", title: "Chat", about: "Every chat turn: the grounded answers with citations." },
  { type: "advice", title: "Advice", about: "Advice mode: the structured advice card." },
];
const VERSIONS_SHOWN = 20;

export async function mount(root) {
  root.append(
    h("h1", {}, "Prompts & models"),
    h("p", { class: "muted prompts-lead" },
      "The system prompt each kind of answer is sent, its versions, and the model a request gets when it names none. Changes apply to the next request."));
  const loading = h("p", { class: "loading", role: "status" }, "Loading prompts and models…");
  root.append(loading);
  const [models, ...prompts] = await Promise.all([
    api("GET", "/api/llm-defaults/providers"),
    ...PROMPT_TYPES.map((t) => loadPrompt(t.type).catch((error) => (error.status === 404 ? null : Promise.reject(error)))),
  ]);
  loading.remove();
  PROMPT_TYPES.forEach((info, i) => {
    if (!prompts[i]) return;
    const box = h("section", { class: "card prompts-type", "aria-labelledby": `prompts-${info.type}-title` });
    root.append(box);
    renderPromptType(box, info, prompts[i]);
  });
  const defaults = h("section", { class: "prompts-defaults", "aria-labelledby": "prompts-models-title" });
  root.append(defaults);
  await renderModels(defaults, models, PROMPT_TYPES.filter((_, i) => prompts[i]));
  root.append(libraryBrowser());
}

async function loadPrompt(type) {
  const [current, versions] = await Promise.all([
    api("GET", `/api/llm-prompts/${type}`),
    api("GET", `/api/llm-prompts/${type}/versions?limit=${VERSIONS_SHOWN}`),
  ]);
  return { current, versions };
}

function errorBox() {
  return h("div", { class: "notice error", role: "alert", hidden: true });
}

function showError(box, error) {
  clear(box);
  box.append(describeError(error));
  box.hidden = false;
}

function variableChips(names) {
  if (!names.length) return h("span", { class: "muted" }, "none");
  return h("span", { class: "prompts-vars" }, names.map((n) => h("code", {}, `{{${n}}}`)));
}

// --- one prompt type ---------------------------------------------------------------------------

function renderPromptType(box, info, data) {
  clear(box);
  const { current, versions } = data;
  const reload = async (message) => {
    try {
      renderPromptType(box, info, await loadPrompt(info.type));
      if (message) notify(message, "success");
    } catch (error) {
      notify(describeError(error), "error");
    }
  };
  box.append(
    h("h2", { id: `prompts-${info.type}-title` }, `${info.title} prompt`),
    h("p", { class: "muted" }, info.about),
    inForce(current, info, reload),
    versionsTable(info, versions, reload),
    editor(info, current, reload));
}

function inForce(current, info, reload) {
  const error = errorBox();
  const label = current.version === "default" ? "Default" : `Version ${current.version}`;
  const source = { version: "a stored version", "built-in": "Almanac's built-in prompt", setting: "the SYSTEM_PROMPT setting" }[current.source];
  return h("div", { class: "prompts-in-force" },
    h("h3", {}, "In force"),
    h("div", { class: "prompts-current" },
      h("span", { class: "badge good" }, label),
      h("span", {}, `From ${source}`, current.revision ? ` (revision ${current.revision})` : ""),
      current.author ? h("span", { class: "muted" }, `by ${current.author}, ${formatDate(current.created_at, true)}`) : null,
      h("span", {}, "Variables: ", variableChips(current.variables))),
    h("details", {}, h("summary", {}, "Show the text"), h("pre", { class: "prompts-text" }, current.text)),
    current.version === "default" ? null
      : h("div", { class: "row" }, h("button", { type: "button", class: "danger", onclick: () => confirmRevert(info, reload, error) }, "Revert to the default")),
    error);
}

/** Ask, then put the default prompt back in force. */
async function confirmRevert(info, reload, error) {
  const ok = await confirmDialog({
    title: `Revert the ${info.title.toLowerCase()} prompt to the default?`,
    message: "The default prompt is put in force at the next request. The stored versions are kept: any of them can be activated again.",
    confirm: "Revert",
  });
  if (!ok) return;
  try {
    await api("DELETE", `/api/llm-prompts/${info.type}`);
    await reload(`The ${info.title.toLowerCase()} prompt is the default again.`);
  } catch (err) {
    showError(error, err);
  }
}

function editor(info, current, reload) {
  const error = errorBox();
  const text = h("textarea", { name: "text", rows: "10", spellcheck: "true", value: current.text });
  const draft = h("button", { type: "submit", value: "draft" }, "Save as draft");
  const activate = h("button", { type: "submit", value: "activate", class: "primary" }, "Save and activate");
  const form = h("form", { class: "prompts-editor" },
    h("h3", {}, "New version"),
    field("Text of the new version", text,
      "Variables are written {{name}}. The service fills {{today}}; a text with other variables can only be a draft (tried here or in an evaluation run)."),
    error,
    h("div", { class: "row prompts-actions" }, h("div", { class: "row" }, draft, activate)));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const makeActive = event.submitter === activate;
    draft.disabled = activate.disabled = true;
    try {
      const saved = await api("POST", `/api/llm-prompts/${info.type}`, { text: text.value, activate: makeActive });
      await reload(makeActive ? `Version ${saved.version} is in force.` : "Draft saved.");
    } catch (err) {
      showError(error, err);
      draft.disabled = activate.disabled = false;
    }
  });
  if (info.type === "chat") form.append(tryIt(text));
  return form;
}

function versionsTable(info, page, reload) {
  const error = errorBox();
  const activate = async (button, version) => {
    error.hidden = true;
    button.disabled = true;
    try {
      await api("POST", `/api/llm-prompts/${info.type}/versions/${version}/activate`);
      await reload(`Version ${version} is in force.`);
    } catch (err) {
      showError(error, err);
      button.disabled = false;
      error.scrollIntoView({ block: "nearest" });
    }
  };
  const more = page.total > page.versions.length ? ` (the newest ${page.versions.length} of ${page.total})` : "";
  return h("div", { class: "prompts-versions" },
    h("h3", {}, `Versions${more}`),
    error,
    dataTable([
      { label: "Version", value: (v) => String(v.version), class: "num" },
      { label: "State", value: (v) => (v.active ? h("span", { class: "badge good" }, "active") : h("span", { class: "badge" }, "draft")) },
      { label: "Author", value: (v) => v.author },
      { label: "Created", value: (v) => formatDate(v.created_at, true) },
      { label: "Variables", value: (v) => variableChips(v.variables) },
      { label: "Text", value: (v) => h("details", {}, h("summary", {}, `${v.text.length.toLocaleString()} characters`), h("pre", { class: "prompts-text" }, v.text)) },
      {
        label: "Action",
        value: (v) => (v.active ? h("span", { class: "muted" }, "in force")
          : h("button", { type: "button", onclick: (e) => activate(e.currentTarget, v.version), "aria-label": `Activate version ${v.version}` }, "Activate")),
      },
    ], page.versions, { empty: "No stored version: the default is in force." }));
}

// --- trying a draft ------------------------------------------------------------------------------

/** Run the editor's text and the prompt in force on one question (the playground), side by side. */
function tryIt(text) {
  const question = h("input", { type: "text", name: "question", autocomplete: "off", value: "How often must passwords be rotated?" });
  const button = h("button", { type: "button" }, "Try it");
  const results = h("div", { class: "prompts-try-results", "aria-live": "polite" });
  const error = errorBox();
  button.addEventListener("click", async () => {
    error.hidden = true;
    clear(results);
    button.disabled = true;
    results.append(h("p", { class: "loading", role: "status" }, "Asking…"));
    const run = (prompt) => api("POST", "/api/playground/run", { prompt, question: question.value });
    try {
      const [draft, inForceNow] = await Promise.all([run({ type: "chat", template: text.value }), run({ type: "chat" })]);
      clear(results);
      if ([...draft.results, ...inForceNow.results].some((r) => r.model === OFFLINE_MODEL)) {
        results.append(h("p", { class: "notice prompts-try-offline" },
          `${OFFLINE_MODEL}, the embedded model, answers from the documents alone and does not read the system prompt, so its two answers are the same. Choose a model that reads prompts as the default for chat (Models, below) to compare drafts.`));
      }
      results.append(tryResult("This text", draft), tryResult("The prompt in force", inForceNow));
    } catch (err) {
      clear(results);
      showError(error, err);
    } finally {
      button.disabled = false;
    }
  });
  return h("div", { class: "prompts-try" },
    h("h3", {}, "Try it"),
    field("Question", question, "Asks the offline or default model with the text above and with the prompt in force; nothing is stored."),
    h("div", { class: "row" }, button),
    error,
    results);
}

function tryResult(title, answer) {
  return h("div", { class: "card" },
    h("h4", {}, title),
    answer.results.map((r) => h("div", {},
      h("p", { class: "muted" }, `${r.model} · ${r.latency_ms ?? "—"} ms`),
      r.error ? h("p", { class: "notice error" }, r.error) : h("div", { class: "md prompts-try-output" }, renderMarkdown(r.output)))));
}

// --- default models -------------------------------------------------------------------------------

async function renderModels(box, providers, types) {
  const defaults = await Promise.all(types.map((t) => api("GET", `/api/llm-defaults/${t.type}`)));
  box.append(
    h("h2", { id: "prompts-models-title" }, "Models"),
    dataTable([
      { label: "Provider", value: (p) => p.provider },
      { label: "Models", value: (p) => p.models.join(", ") },
      { label: "Key", value: keyState },
    ], providers.providers, { caption: "Providers" }),
    h("div", { class: "grid prompts-default-grid" }, types.map((t, i) => defaultForm(t, defaults[i], providers.allowed))));
}

function keyState(provider) {
  if (provider.key_present === null) return h("span", { class: "muted" }, provider.key_setting ? "unknown" : "none needed");
  return h("span", {},
    h("span", { class: `badge ${provider.key_present ? "good" : "warn"}` }, provider.key_present ? "set" : "not set"),
    " ", h("code", {}, provider.key_setting));
}

function defaultForm(info, current, allowed) {
  const box = h("form", { class: "card prompts-default" });
  const select = h("select", { name: "model" },
    h("option", { value: "" }, "Not set (the server's default)"),
    allowed.map((m) => h("option", { value: m, selected: m === current.model }, m)));
  const state = h("p", { class: "hint", role: "status" });
  const error = errorBox();
  const save = h("button", { type: "submit", class: "primary" }, "Save");
  const describe = (d) => {
    state.textContent = `In force: ${d.effective_model} (${d.source === "setting" ? "this setting" : "DEFAULT_MODEL or the built-in default"})`
      + (d.stale ? ". The setting names a model that is no longer allowed, so it is passed over." : ".")
      + (d.updated_by ? ` Set by ${d.updated_by}, ${formatDate(d.updated_at, true)}.` : "");
  };
  describe(current);
  box.append(h("h3", {}, `Default model for ${info.title.toLowerCase()}`), field(`${info.title} default model`, select), state, error, h("div", { class: "row" }, save));
  box.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    save.disabled = true;
    try {
      const saved = await api("PUT", `/api/llm-defaults/${info.type}`, { model: select.value || null });
      describe(saved);
      notify(saved.model ? `The ${info.title.toLowerCase()} default is ${saved.model}.` : `The ${info.title.toLowerCase()} default is cleared.`, "success");
    } catch (err) {
      showError(error, err);
    } finally {
      save.disabled = false;
    }
  });
  return box;
}
