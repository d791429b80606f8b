// Small pieces the Documents, Tables and Calibration pages share: an upload/job progress
// line, a refusal put into words a person can act on, and the collection an upload goes to.

import { api } from "../api.js";
import { describeError, h } from "../dom.js";

/** A select of the collection an upload goes to: "" (`blank`: the server's own choice: the
 * default collection, or a replaced item's own), `default`, then every collection, listed
 * once they are read (none when they cannot be: the default collection is still offered). */
export function collectionSelect(blank) {
  const select = h("select", { name: "collection" },
    h("option", { value: "" }, blank),
    h("option", { value: "default" }, "default"));
  api("GET", "/api/collections").then(({ collections }) => {
    select.append(...collections.map((c) => h("option", { value: c.name }, c.name)));
  }, (error) => console.warn(error));
  return select;
}

/** A table cell naming an item's collection (`default`, muted, when it has none). */
export function collectionCell(collection, attributes = {}) {
  return h("td", { class: "data-collection", ...attributes }, collection
    ? collection
    : h("span", { class: "muted", title: "Every user reads the default collection" }, "default"));
}

/** A status line with a progress bar: set(text, fraction|null) (null: busy, no known amount),
 * done(text, kind) ends it with a message (kind: success|error|info). Announced politely. */
export function progressLine(label) {
  const text = h("span", { class: "data-progress-text" });
  const bar = h("progress", { max: 1, "aria-label": label });
  const box = h("div", { class: "data-progress", role: "status", "aria-live": "polite", hidden: true }, text, bar);
  return {
    el: box,
    set(message, fraction = null) {
      box.hidden = false;
      box.className = "data-progress";
      bar.hidden = false;
      text.textContent = message;
      if (fraction === null) bar.removeAttribute("value");
      else bar.value = Math.max(0, Math.min(1, fraction));
    },
    done(message, kind = "success") {
      box.hidden = false;
      box.className = `data-progress data-progress-${kind}`;
      bar.hidden = true;
      text.textContent = message;
    },
    hide() {
      box.hidden = true;
    },
  };
}

const STATUS_WORDS = {
  0: "No connection",
  400: "Bad request",
  403: "Not allowed",
  404: "Not found",
  409: "Already there",
  413: "Too large",
  415: "Unsupported file type",
  422: "Not accepted",
  429: "Too many requests",
  503: "Busy",
};

/** "Unsupported file type: <the server's detail>": what went wrong, then what it said. */
export function refusal(error) {
  const word = STATUS_WORDS[error && error.status];
  return word ? `${word}: ${describeError(error)}` : describeError(error);
}

/** A table in a box that may scroll sideways on a phone: focusable and named, so a keyboard
 * can scroll it too. */
export function scrollBox(label, table, extraClass = "") {
  return h("div", { class: `table-wrap ${extraClass}`.trim(), tabindex: 0, role: "region", "aria-label": label }, table);
}
