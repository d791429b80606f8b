// The chat's citations: the [n] chips in an answer's text, the answer's list of sources, and
// the dialog that opens a cited passage (the document's section, with what the answer quotes
// highlighted) or a table lookup's rows.

import { api } from "../api.js";
import { markQuoted, panelDialog, quotedSentences } from "../answer.js";
import { append, clear, describeError, h } from "../dom.js";
import { renderMarkdown } from "../markdown.js";

/** The page's citations: `el` (the dialog), `citeNode` and `showSources`. */
export function sourcePanel() {
  const documents = new Map(); // document id -> promise of GET /api/documents/{id}
  const sourceDialog = buildSourceDialog(documents);

  /** What a citation marker becomes: a chip per source, or plain text if none is known. */
  function citeNode(keys, label, cited, answerText = () => "") {
    const found = keys.map((key) => cited.find((s) => (typeof key === "number" ? s.number === key : s.title === key)));
    if (!cited.length || found.some((s) => !s)) {
      return h("span", { class: "chat-cite chat-cite-pending" }, label.slice(1, -1));
    }
    const fragment = document.createDocumentFragment();
    for (const source of found) {
      fragment.append(h("button", {
        type: "button", class: "chat-cite",
        "aria-label": `Source ${source.number}: ${sourceName(source)}`,
        title: sourceName(source),
        onclick: (event) => sourceDialog.open(source, event.currentTarget, answerText()),
      }, source.kind === "table" ? "table" : String(source.number)));
    }
    return fragment;
  }

  // An answer that cites none of the passages it was given lists them `cited: false`: shown
  // apart, under their own title, so they never read as what the answer cites.
  function showSources(box, sources, answerText = () => "") {
    clear(box);
    box.hidden = !sources.length;
    if (!sources.length) return;
    const cited = sources.filter((source) => source.cited !== false);
    const given = sources.filter((source) => source.cited === false);
    for (const [title, list] of [["Sources", cited], ["Passages it was given (not cited)", given]]) {
      if (!list.length) continue;
      box.append(h("p", { class: "chat-sources-title" }, title),
        h("ul", { class: "chat-source-list" }, list.map((source) => h("li", { class: "chat-source-item" },
          h("button", {
            type: "button", class: "chat-source-chip",
            onclick: (event) => sourceDialog.open(source, event.currentTarget, answerText()),
          },
          h("span", { class: "chat-cite-n", "aria-hidden": "true" }, source.kind === "table" ? "T" : String(source.number)),
          h("span", { class: "chat-source-text" },
            h("span", { class: "chat-source-name" }, source.title),
            h("span", { class: "chat-source-detail" }, sourceDetail(source)))),
          pageLink(source, "chat-source-link", "Open the page")))));
    }
  }

  return { el: sourceDialog.el, citeNode, showSources };
}

// --- the source dialog -------------------------------------------------------------------

function buildSourceDialog(documents) {
  const { el: dialog, title, body, show } = panelDialog("chat-source-title", "chat-source-dialog");

  async function open(source, from, answerText = "") {
    title.textContent = source.kind === "table" ? "Table lookup" : source.title;
    clear(body);
    append(body, sourceFacts(source));
    const passage = h("div", { class: "chat-passage md", "aria-live": "polite" });
    body.append(h("h3", { class: "chat-passage-title" }, source.kind === "table" ? "Rows the answer read" : source.cited === false ? "Passage it was given" : "Cited passage"), passage);
    show(from);
    if (source.kind === "table") {
      passage.append(...tableRows(source),
        h("details", { class: "chat-sql" }, h("summary", {}, "The query"), h("pre", {}, h("code", {}, source.source))));
      return;
    }
    passage.append(h("p", { class: "muted", role: "status" }, "Loading the passage…"));
    try {
      const section = await findSection(documents, source);
      clear(passage);
      if (section) {
        passage.append(renderMarkdown(section.text));
        // The sentences the answer took from this passage, highlighted and in view.
        const first = markQuoted(passage, quotedSentences(answerText, source.number));
        if (first) {
          passage.before(h("p", { class: "chat-quoted-note muted" }, "Highlighted: what the answer quotes."));
          first.scrollIntoView({ block: "center" });
        }
      } else {
        passage.append(h("p", { class: "muted" }, "This section is no longer in the document."));
      }
    } catch (error) {
      clear(passage);
      passage.append(h("p", { class: "notice error", role: "alert" },
        `The passage could not be loaded: ${describeError(error)}`));
    }
  }

  return { el: dialog, open };
}

/** A table lookup's rows as the answer read them (kept with its citation). */
function tableRows(source) {
  const columns = source.columns || [];
  const rows = source.rows || [];
  if (!columns.length) return [h("p", { class: "muted" }, "The rows are not kept with this answer.")];
  if (!rows.length) return [h("p", { class: "muted" }, "The query returned no rows.")];
  const shown = (value) => (value === null ? "—" : String(value));
  return [
    h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Rows" }, h("table", {},
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows.map((row) => h("tr", {}, row.map((v) => h("td", {}, shown(v)))))))),
    source.truncated ? h("p", { class: "muted" }, `The first ${rows.length} rows; the query returned more.`) : null,
  ].filter(Boolean);
}

async function findSection(documents, source) {
  if (!source.document_id) return null;
  if (!documents.has(source.document_id)) {
    const loading = api("GET", `/api/documents/${source.document_id}`);
    documents.set(source.document_id, loading);
    loading.catch(() => documents.delete(source.document_id));
  }
  const doc = await documents.get(source.document_id);
  const path = (section) => section.heading_path.join(" > ");
  return doc.sections.find((s) => path(s) === source.section)
    || doc.sections.find((s) => source.section.endsWith(s.heading_path[s.heading_path.length - 1] || "\u0000"))
    || null;
}

function sourceFacts(source) {
  const rows = [];
  if (source.kind === "table") {
    rows.push(["Tables", source.title.replace(/^table:\s*/, "")]);
  } else {
    rows.push(["Section", sectionName(source) || "—"], ["Updated", source.updated_at || "—"],
      ["File", source.source]);
    const link = pageLink(source, "chat-page-link");
    if (link) rows.push(["Page", link]);
    if (source.category) rows.push(["Category", source.category]);
  }
  const facts = h("dl", { class: "chat-facts" }, rows.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
  const version = source.superseded_by
    ? h("p", { class: "notice warn" }, `An older version: replaced by ${source.superseded_by.title}`
      + (source.superseded_by.updated_at ? ` of ${source.superseded_by.updated_at}` : "") + ".")
    : source.version_note ? h("p", { class: "chat-version muted" }, capitalise(source.version_note) + ".") : null;
  return [facts, version];
}

/** A synced web page's citation link (`source.link`), opened in a new tab; null for a file,
 * an upload, or a link that is not http(s) (the server sends none such: checked again here,
 * since an `href` of `javascript:` would run when clicked). The URL goes in as an attribute
 * and as text, never as markup. */
function pageLink(source, className, label = null) {
  const href = webLink(source.link);
  if (!href) return null;
  return h("a", { class: className, href, target: "_blank", rel: "noopener noreferrer",
    title: href, "aria-label": label ? `${label}: ${source.title} (opens in a new tab)` : null },
  label || href);
}

/** `value` when it is an absolute http(s) URL, else null. */
export function webLink(value) {
  if (typeof value !== "string" || !/^https?:\/\//i.test(value)) return null;
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:" ? value : null;
  } catch {
    return null;
  }
}

/** "Password Policy > 2. Passwords" -> "2. Passwords" (the document's title is shown apart). */
function sectionName(source) {
  const prefix = `${source.title} > `;
  return source.section && source.section.startsWith(prefix) ? source.section.slice(prefix.length) : source.section;
}

function sourceName(source) {
  const section = sectionName(source);
  return section ? `${source.title}, ${section}` : source.title;
}

function sourceDetail(source) {
  if (source.kind === "table") return "Table lookup";
  return [sectionName(source), source.updated_at].filter(Boolean).join(" · ");
}

function capitalise(text) {
  return text ? text[0].toUpperCase() + text.slice(1) : text;
}
