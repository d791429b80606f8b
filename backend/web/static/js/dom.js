// DOM helpers. Text always goes in as text nodes: nothing here parses HTML, so no string
// from a document, a model or a user can become markup.

/** Build an element: h("button", {class: "primary", onclick: fn, "aria-label": "Send"}, "Send").
 * Props: `class`, `dataset` (object), `on<event>` (listener), `hidden`/`disabled`/... (booleans
 * set as properties), `value`, anything else as an attribute. Children: nodes, strings,
 * numbers, arrays, null/false (skipped). */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "value" || name === "checked" || name === "selected") el[name] = value;
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

/** Append children (see `h`) to a node. */
export function append(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Remove every child of a node. */
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** Show a short message in the page's live region (read out by screen readers). */
export function notify(message, kind = "info") {
  const box = document.getElementById("toasts");
  const toast = h("div", { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : null }, message);
  box.append(toast);
  setTimeout(() => toast.remove(), kind === "error" ? 8000 : 4000);
}

/** An error as one line for a person: a problem document's detail, or the message. */
export function describeError(error) {
  if (error && error.detail) return error.detail;
  if (error && error.message) return error.message;
  return String(error);
}

/**
 * A date or timestamp in the one form every page uses, as the chat does: "2025-09-15", with
 * the local time "2025-09-15 14:05" when asked ("—" for nothing). A calendar date stays as
 * written: read as a UTC midnight, west of Greenwich it would show the day before.
 */
export function formatDate(value, withTime = false) {
  if (!value) return "—";
  const text = String(value);
  if (!withTime && /^\d{4}-\d{2}-\d{2}$/.test(text)) return text;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return text;
  const pad = (n) => String(n).padStart(2, "0");
  const day = `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
  return withTime ? `${day} ${pad(date.getHours())}:${pad(date.getMinutes())}` : day;
}

/** Random letters and digits for a new chat, message or advice-thread id (crypto.randomUUID
 * needs a secure context; a server reached over plain http on the network is not one). */
export function newId(prefix) {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return prefix + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** "1 chunk", "2 chunks", "1,200 rows": a count with its noun in the right number. */
export function plural(count, one, many = `${one}s`) {
  return `${Number(count).toLocaleString("en")} ${count === 1 ? one : many}`;
}

/** A file's size for a person: 820 -> "820 B", 12_345 -> "12.1 KB", 3_400_000 -> "3.2 MB". */
export function formatBytes(size) {
  if (size < 1024) return `${size} B`;
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(1)} KB`;
  return `${(size / (1024 * 1024)).toFixed(1)} MB`;
}

/** 0.734 -> "73%" ("—" for null). */
export function formatPercent(value, digits = 0) {
  if (value === null || value === undefined) return "—";
  return `${(value * 100).toFixed(digits)}%`;
}

/** A labelled form field: field("Title", h("input", {...})) -> <label>Title <input></label>. */
export function field(label, control, hint = null) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  return h("div", { class: "field" },
    h("label", { for: id }, label),
    control,
    hint ? h("p", { class: "hint" }, hint) : null);
}

/** A table of rows: columns = [{label, value: row => node|string, class?}]. */
export function dataTable(columns, rows, { caption = null, empty = "Nothing yet." } = {}) {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  // Focusable, so a table wider than the screen scrolls from the keyboard too.
  return h("div", { class: "table-wrap", tabindex: "0" },
    h("table", {},
      caption ? h("caption", {}, caption) : null,
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.class }, c.label)))),
      h("tbody", {}, rows.map((row) => h("tr", {}, columns.map((c) => h("td", { class: c.class }, c.value(row))))))));
}

let dialogCount = 0;

/** Ask a person in a modal <dialog> (focus stays inside; Esc cancels; focus then returns to
 * whatever opened it). With `value` (a string) it asks for one line of text under `label`.
 * Resolves to the text ("" for a plain confirmation), or null when cancelled. */
export function askDialog({ title, message = null, value = null, label = "", confirm, danger = false }) {
  const opener = document.activeElement;
  const id = `dialog-${++dialogCount}`;
  const input = value === null ? null
    : h("input", { id: `${id}-input`, type: "text", value, maxlength: "200", required: true });
  const ok = h("button", { type: "submit", class: danger ? "danger" : "primary" }, confirm);
  const cancel = h("button", { type: "button" }, "Cancel");
  const form = h("form", {},
    [message].flat().filter(Boolean).map((text) => h("p", {}, text)),
    input ? h("div", { class: "field" }, h("label", { for: input.id }, label), input) : null,
    h("div", { class: "row dialog-actions" }, cancel, ok));
  const dialog = h("dialog", { class: "dialog", "aria-labelledby": id }, h("h2", { id }, title), form);
  return new Promise((resolve) => {
    let answer = null;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      answer = input ? input.value : "";
      dialog.close();
    });
    cancel.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => {
      dialog.remove();
      if (opener && opener.isConnected && typeof opener.focus === "function") opener.focus();
      resolve(answer);
    });
    document.body.append(dialog);
    dialog.showModal();
    if (input) input.select();
    else cancel.focus();
  });
}

/** askDialog as a yes/no question: resolves true for the confirm button. */
export async function confirmDialog(options) {
  return (await askDialog(options)) !== null;
}
