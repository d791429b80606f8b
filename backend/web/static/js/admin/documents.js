// Documents (admins): the knowledge base's documents, which version of each is current, a
// filter, uploads with progress (large ones become background jobs we follow), replacing a
// document's content, deleting with a confirmation, and the files of the ingested folders
// that are not in the knowledge base (failed or skipped, with the reason).

import { ApiError, api, upload } from "../api.js";
import { clear, confirmDialog, field, formatDate, h, notify, plural } from "../dom.js";
import { panelDialog } from "../answer.js";
import { renderMarkdown } from "../markdown.js";
import { collectionCell, collectionSelect, progressLine, refusal, scrollBox } from "./data-ui.js";

const PAGE = 500; // the list endpoint's largest page
const POLL_MS = 600;
const SCAN_POLL_MS = 5000; // the conflicts endpoint's Retry-After while it scans

export async function mount(root) {
  const state = { documents: [], byId: new Map(), highlight: null, alive: true, timer: null };

  const count = h("p", { class: "muted docs-count", role: "status" });
  const listBox = h("div", { class: "docs-list" });
  const filterInput = h("input", { type: "search", placeholder: "Title, file or category", autocomplete: "off" });
  const categorySelect = h("select", {}, h("option", { value: "" }, "All categories"));
  const uploader = uploadForm(state);
  const conflicts = conflictsPanel(state);
  const problems = problemsPanel();
  const viewer = documentViewer();

  root.append(
    h("div", { class: "docs-head" },
      h("h1", {}, "Documents"),
      h("p", { class: "muted" }, "What the assistant searches and cites. Upload a file of a type the server reads (listed under the file picker); a file over 1 MiB is processed in the background."),
      h("p", { class: "muted" }, "Who reads which documents: ", h("a", { href: "#/admin/collections" }, "Collections"), ".")),
    uploader.el,
    problems.el,
    h("section", { class: "card docs-section", "aria-labelledby": "docs-list-title" },
      h("div", { class: "docs-toolbar" },
        h("h2", { id: "docs-list-title" }, "In the knowledge base"),
        h("div", { class: "docs-filters" },
          field("Filter", filterInput),
          field("Category", categorySelect))),
      count,
      listBox),
    conflicts.el,
    viewer.el);

  filterInput.addEventListener("input", render);
  categorySelect.addEventListener("change", render);

  async function reload() {
    state.documents = await fetchAll();
    state.byId = new Map(state.documents.map((d) => [d.id, d]));
    fillCategories(categorySelect, state.documents);
    uploader.setCategories([...new Set(state.documents.map((d) => d.category).filter(Boolean))].sort());
    render();
  }

  function render() {
    const query = filterInput.value.trim().toLowerCase();
    const category = categorySelect.value;
    const shown = state.documents.filter((d) =>
      (!category || d.category === category) &&
      (!query || [d.title, d.source, d.category || ""].some((text) => text.toLowerCase().includes(query))));
    count.textContent = shown.length === state.documents.length
      ? `${state.documents.length} documents`
      : `Showing ${shown.length} of ${state.documents.length} documents`;
    clear(listBox);
    listBox.append(shown.length
      ? documentTable(shown, state, {
        onDelete: remove, onReplace: (doc) => uploader.replace(doc), onView: viewer.open,
      })
      : h("p", { class: "empty" }, state.documents.length ? "No document matches the filter." : "No documents yet: upload one above."));
  }

  async function remove(doc) {
    const ok = await confirmDialog({
      title: `Delete “${doc.title}”?`,
      message: [`${doc.source} and its ${plural(doc.chunk_count, "chunk")} leave the knowledge base: search and answers stop using it at once.`, "This cannot be undone."],
      confirm: "Delete document",
      danger: true,
    });
    if (!ok) return;
    try {
      await api("DELETE", `/api/documents/${doc.id}`);
      notify(`Deleted “${doc.title}”.`, "success");
      await reload();
      filterInput.focus();
    } catch (error) {
      notify(`Could not delete “${doc.title}”. ${refusal(error)}`, "error");
    }
  }

  uploader.onDone = async (document) => {
    state.highlight = document ? document.id : null;
    await reload();
  };

  await Promise.all([reload(), uploader.loadTypes(), problems.load()]);
  return () => {
    state.alive = false;
    clearTimeout(state.timer);
  };
}

/** Every document, page by page. */
async function fetchAll() {
  const documents = [];
  for (let offset = 0; ; offset += PAGE) {
    const page = await api("GET", `/api/documents?limit=${PAGE}&offset=${offset}`);
    documents.push(...page.documents);
    if (documents.length >= page.total || page.documents.length === 0) break;
  }
  return documents.sort((a, b) => a.title.localeCompare(b.title));
}

function fillCategories(select, documents) {
  const chosen = select.value;
  const categories = [...new Set(documents.map((d) => d.category).filter(Boolean))].sort();
  while (select.options.length > 1) select.remove(1);
  for (const category of categories) select.append(h("option", { value: category }, category));
  select.value = categories.includes(chosen) ? chosen : "";
}

/** The version relation in words: current, or which document replaces it. */
function versionCell(doc, byId) {
  const name = (id) => {
    const other = byId.get(id);
    if (!other) return `document #${id}`;
    return other.title === doc.title ? `${other.source} (${formatDate(other.updated_at)})` : `“${other.title}”`;
  };
  const parts = [];
  if (doc.superseded_by_id) {
    parts.push(h("span", { class: "badge warn" }, "superseded"),
      h("span", { class: "docs-version-note" }, `by ${name(doc.superseded_by_id)}`));
  } else {
    parts.push(h("span", { class: "badge good" }, "current"));
  }
  if (doc.supersedes_id) parts.push(h("span", { class: "docs-version-note muted" }, `replaces ${name(doc.supersedes_id)}`));
  return parts;
}

function documentTable(documents, state, { onDelete, onReplace, onView }) {
  const row = (doc) => h("tr", { class: doc.id === state.highlight ? "docs-new" : null, dataset: { id: String(doc.id) } },
    h("td", { "data-label": "Document" },
      h("span", { class: "docs-title" }, doc.title),
      h("span", { class: "docs-source muted" }, doc.source)),
    collectionCell(doc.collection, { "data-label": "Collection" }),
    h("td", { "data-label": "Category" }, doc.category || "—"),
    h("td", { "data-label": "Updated" }, formatDate(doc.updated_at)),
    h("td", { "data-label": "Chunks", class: "num" }, String(doc.chunk_count)),
    h("td", { "data-label": "Version", class: "docs-version" }, versionCell(doc, state.byId)),
    h("td", { class: "docs-actions" },
      h("button", { type: "button", onclick: (e) => onView(doc, e.currentTarget), "aria-label": `View ${doc.title}` }, "View"),
      h("button", { type: "button", onclick: () => onReplace(doc), "aria-label": `Replace ${doc.title}` }, "Replace…"),
      h("button", { type: "button", class: "danger", onclick: () => onDelete(doc), "aria-label": `Delete ${doc.title}` }, "Delete")));
  return h("div", { class: "table-wrap docs-table" },
    h("table", {},
      h("thead", {}, h("tr", {},
        ["Document", "Collection", "Category", "Updated", "Chunks", "Version"].map((label) =>
          h("th", { scope: "col", class: label === "Chunks" ? "num" : null }, label)),
        h("th", { scope: "col" }, h("span", { class: "data-sr-only" }, "Actions")))),
      h("tbody", {}, documents.map(row))));
}

/** The upload form: a new document, or (replace(doc)) new content for a stored one. */
function uploadForm(state) {
  // The file picker offers the types the server reads (`loadTypes`).
  const fileInput = h("input", { type: "file", name: "file", required: true });
  const categoryInput = h("input", { type: "text", name: "category", list: "docs-categories", maxlength: 100, autocomplete: "off" });
  const categories = h("datalist", { id: "docs-categories" });
  const collection = collectionSelect("Default (a replaced document keeps its own)");
  const replacing = h("p", { class: "notice docs-replacing", hidden: true });
  const cancelReplace = h("button", { type: "button", class: "link", hidden: true }, "Upload a new document instead");
  const submit = h("button", { type: "submit", class: "primary" }, "Upload");
  const progress = progressLine("Upload progress");
  const problem = h("div", { class: "notice error docs-problem", role: "alert", hidden: true });
  let target = null; // the document being replaced

  // The hint names the types the server reads once it has said which (`loadTypes`).
  const fileField = field("File", fileInput, "Any type the server reads, up to 20 MiB.");
  const fileHint = fileField.querySelector(".hint");
  const form = h("form", { class: "docs-upload-form" },
    replacing,
    h("div", { class: "docs-upload-fields" },
      fileField,
      field("Category (optional)", categoryInput, "e.g. policies, runbooks"),
      field("Collection", collection, "Who may read it: the default collection is every user's."),
      h("div", { class: "row docs-upload-actions" }, submit, cancelReplace)),
    progress.el,
    problem);
  const card = h("section", { class: "card docs-section", "aria-labelledby": "docs-upload-title" },
    h("h2", { id: "docs-upload-title" }, "Upload a document"), form, categories);

  const self = {
    el: card,
    onDone: async () => {},
    /** Offer and name the file types the server's loaders read (GET /api/documents/types).
     * Unknown (the call failed): any file is offered; the server still refuses another type
     * (415). */
    async loadTypes() {
      try {
        const { extensions } = await api("GET", "/api/documents/types");
        fileInput.accept = extensions.join(",");
        fileHint.textContent = `${extensions.join(", ")}; up to 20 MiB.`;
      } catch (error) {
        console.warn(error);
      }
    },
    setCategories(names) {
      clear(categories);
      for (const name of names) categories.append(h("option", { value: name }));
    },
    replace(doc) {
      target = doc;
      replacing.hidden = false;
      replacing.textContent = `Replacing “${doc.title}” (${doc.source}): choose the file with its new content. It keeps its id and file name.`;
      cancelReplace.hidden = false;
      submit.textContent = "Replace";
      categoryInput.value = doc.category || "";
      card.scrollIntoView({ block: "start", behavior: "smooth" });
      fileInput.focus();
    },
  };

  function reset() {
    target = null;
    replacing.hidden = true;
    cancelReplace.hidden = true;
    submit.textContent = "Upload";
    form.reset();
  }
  cancelReplace.addEventListener("click", reset);

  function showProblem(error, file) {
    clear(problem);
    problem.hidden = false;
    problem.append(h("p", {}, `${file.name} was not stored. ${refusal(error)}`));
    const existing = error instanceof ApiError && error.code === "document_exists"
      ? state.documents.find((d) => d.source === file.name) : null;
    if (existing) {
      problem.append(h("button", { type: "button", onclick: () => send(file, existing) },
        `Replace “${existing.title}” with this file`));
    }
  }

  async function send(file, replaceDoc) {
    problem.hidden = true;
    submit.disabled = true;
    const data = new FormData();
    data.append("file", file);
    if (categoryInput.value.trim()) data.append("category", categoryInput.value.trim());
    if (collection.value) data.append("collection", collection.value);
    const method = replaceDoc ? "PUT" : "POST";
    const path = replaceDoc ? `/api/documents/${replaceDoc.id}` : "/api/documents";
    try {
      progress.set(`Sending ${file.name}…`, 0);
      const answer = await upload(method, path, data, (fraction) =>
        progress.set(fraction < 1 ? `Sending ${file.name}… ${Math.round(fraction * 100)}%` : `Reading and indexing ${file.name}…`, fraction < 1 ? fraction : null));
      const result = answer.status === 202 ? await followJob(answer.body, progress, state) : answer.body;
      if (!result) return;
      progress.done(outcomeText(result, answer.status === 202), "success");
      notify(outcomeText(result, false), "success");
      const category = replaceDoc ? "" : categoryInput.value; // kept for the next new file
      reset();
      categoryInput.value = category;
      await self.onDone(result.document);
    } catch (error) {
      progress.hide();
      showProblem(error, file);
    } finally {
      submit.disabled = false;
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const file = fileInput.files[0];
    if (file) send(file, target);
  });
  return self;
}

function outcomeText(result, background) {
  const doc = result.document;
  const how = background ? " (processed in the background)" : "";
  if (result.status === "unchanged") return `“${doc.title}” is already stored with exactly this content: nothing changed.`;
  if (result.status === "updated") return `Replaced the content of “${doc.title}”: ${plural(result.chunks, "chunk")}${how}.`;
  return `Added “${doc.title}”: ${plural(result.chunks, "chunk")}${how}.`;
}

/** Poll a background job until it is done (its result) or failed (throws its problem). */
async function followJob(job, progress, state) {
  for (;;) {
    if (!state.alive) return null;
    showJob(job, progress);
    if (job.status === "done") return job.result;
    if (job.status === "failed") throw new ApiError(job.error?.status || 0, job.error || {});
    await new Promise((resolve) => { state.timer = setTimeout(resolve, POLL_MS); });
    if (!state.alive) return null;
    job = await api("GET", `/api/jobs/${encodeURIComponent(job.id)}`);
  }
}

function showJob(job, progress) {
  const { chunks_done: done, chunks_total: total } = job.progress;
  if (job.status === "queued") progress.set(`Background job for ${job.name}: waiting for the worker…`, null);
  else if (job.status === "running" && total) progress.set(`Background job for ${job.name}: ${done} of ${plural(total, "chunk")} indexed`, done / total);
  else if (job.status === "running") progress.set(`Background job for ${job.name}: reading the file…`, null);
}

const PROBLEM_LABELS = { failed: "failed", skipped: "skipped", duplicate: "duplicate", conflict: "name taken" };

/** The files of the ingested folders that are not in the knowledge base (GET
 * /api/documents/problems, admins only): each with why (failed to read, a type not read, a
 * duplicate or a name conflict) and since when, as the last ingest of its folder left them. */
function problemsPanel() {
  const status = h("p", { class: "muted", role: "status" });
  const list = h("div", { class: "docs-problems-list" });
  const el = h("section", { class: "card docs-section", "aria-labelledby": "docs-problems-title" },
    h("h2", { id: "docs-problems-title" }, "Files not in the knowledge base"),
    h("p", { class: "muted" }, "Files of the ingested folders (almanac ingest, almanac serve --knowledge) that the last ingest of their folder failed to read or skipped. Temporary and lock files are ignored, not listed."),
    status,
    list);

  async function load() {
    clear(list);
    try {
      const { problems } = await api("GET", "/api/documents/problems");
      status.textContent = problems.length
        ? `${plural(problems.length, "file")} not in the knowledge base.`
        : "None: every file of the ingested folders is in the knowledge base.";
      if (!problems.length) return;
      list.append(scrollBox("Each file and why", h("table", { class: "docs-problems" },
        h("thead", {}, h("tr", {}, ["File", "Status", "Reason", "Since"].map((label) => h("th", { scope: "col" }, label)))),
        h("tbody", {}, problems.map((p) => h("tr", { dataset: { source: p.source } },
          h("td", {}, h("code", {}, p.source)),
          h("td", {}, h("span", { class: `badge ${p.status === "skipped" ? "" : "warn"}` }, PROBLEM_LABELS[p.status] || p.status)),
          h("td", { class: "docs-problem-reason" }, p.reason),
          h("td", {}, formatDate(p.reported_at, true))))))));
    } catch (error) {
      status.textContent = `Could not list the files not in the knowledge base. ${refusal(error)}`;
    }
  }
  return { el, load };
}

/** Documents that disagree: on request, the server's background scan of the current documents
 * for sentences that state different values for the same thing, followed until it is done. */
function conflictsPanel(state) {
  const status = h("p", { class: "muted", role: "status" });
  const list = h("div", { class: "conflicts-list" });
  const check = h("button", { type: "button" }, "Check now");
  const el = h("section", { class: "card docs-section", "aria-labelledby": "conflicts-title" },
    h("h2", { id: "conflicts-title" }, "Documents that disagree"),
    h("p", { class: "muted" }, "Current documents that state different values for the same thing. Answers that quote both say so; settle it by declaring which one is in force (supersedes:) or by correcting one."),
    h("div", { class: "row" }, check),
    status,
    list);

  async function load() {
    check.disabled = true;
    try {
      for (;;) {
        const report = await api("GET", "/api/documents/conflicts?limit=100");
        if (!state.alive) return;
        show(report);
        if (report.status === "current") return;
        await new Promise((resolve) => { state.timer = setTimeout(resolve, SCAN_POLL_MS); });
        if (!state.alive) return;
      }
    } catch (error) {
      status.textContent = `Could not check the documents. ${refusal(error)}`;
    } finally {
      check.disabled = false;
    }
  }

  function show(report) {
    clear(list);
    const found = report.conflicts.length;
    if (report.status === "scanning") {
      status.textContent = report.scanned_at
        ? `Checking the documents again (they changed since ${formatDate(report.scanned_at, true)}); the last check is shown meanwhile…`
        : "Checking every section of the current documents; this takes a few seconds per hundred sections…";
    } else {
      const partly = report.complete ? "" : " (stopped early: the list may be incomplete)";
      status.textContent = `Checked ${plural(report.sections_checked, "section")} on ${formatDate(report.scanned_at, true)}: ${found ? plural(found, "disagreement") : "no disagreements"}${partly}.`;
    }
    if (!found) return;
    const side = (s) => h("div", { class: "conflict-side" },
      h("span", { class: "docs-title" }, s.title),
      h("span", { class: "docs-source muted" }, s.source),
      h("blockquote", {}, s.sentence),
      h("span", { class: "badge" }, s.values.join(", ")));
    list.append(h("ul", { class: "conflicts" }, report.conflicts.map((c) =>
      h("li", { class: "conflict" }, side(c.first), h("span", { class: "conflict-vs", "aria-hidden": "true" }, "vs"), side(c.second)))));
  }

  check.addEventListener("click", load);
  return { el };
}

/** A document's whole indexed text, section by section, in a dialog (what search reads and
 * answers quote; withheld instructions are listed apart). */
function documentViewer() {
  const { el, title, body, show } = panelDialog("docs-view-title", "docs-view");

  async function open(doc, from) {
    title.textContent = doc.title;
    clear(body);
    body.append(h("p", { class: "muted", role: "status" }, "Loading the document…"));
    show(from);
    try {
      const detail = await api("GET", `/api/documents/${doc.id}`);
      clear(body);
      body.append(h("dl", { class: "chat-facts" },
        h("dt", {}, "File"), h("dd", {}, detail.source),
        h("dt", {}, "Category"), h("dd", {}, detail.category || "—"),
        h("dt", {}, "Updated"), h("dd", {}, formatDate(detail.updated_at)),
        h("dt", {}, "Sections"), h("dd", {}, `${plural(detail.sections.length, "section")}, ${plural(detail.chunk_count, "chunk")}`)));
      for (const section of detail.sections) {
        const path = section.heading_path.join(" › ");
        body.append(h("section", { class: "docs-view-section" },
          path ? h("h3", { class: "chat-passage-title" }, path) : null,
          h("div", { class: "chat-passage md" }, renderMarkdown(section.text))));
      }
      if (detail.withheld_instructions?.length) {
        body.append(h("h3", { class: "chat-passage-title" }, "Withheld: addressed to an AI assistant, never searched or quoted"),
          h("ul", {}, detail.withheld_instructions.map((text) => h("li", {}, text))));
      }
    } catch (error) {
      clear(body);
      body.append(h("p", { class: "notice error", role: "alert" }, `The document could not be loaded. ${refusal(error)}`));
    }
  }
  return { el, open };
}
