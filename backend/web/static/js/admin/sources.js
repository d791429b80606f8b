// Sources (admins): folders, S3 buckets and websites kept in sync with the knowledge base. Each source
// with its documents, its last sync (counts, errors, why a listing failed) and when the next
// is due; a sync now (a job, its progress shown until it ends), its history, removal; and a
// form to declare one (docs/sources.md; websites: docs/websites.md).

import { api } from "../api.js";
import { clear, confirmDialog, field, formatDate, h, notify, plural } from "../dom.js";
import { progressLine, refusal, scrollBox } from "./data-ui.js";

const POLL_MS = 700;

/** The kinds a source can be, as the API names them (`kind`, and the body's key) -> words. */
const KINDS = { folder: "Folder", s3: "S3 bucket", url: "Website" };
const LOCATION_HINTS = {
  folder: "A folder on the server's machine.",
  s3: "s3://BUCKET/PREFIX (credentials from the server's environment).",
  url: "A website's start page (its links are followed within its folder) or its sitemap (a URL ending in .xml or .xml.gz: its pages are the site).",
};
const PLACEHOLDERS = { folder: "/srv/handbook", s3: "s3://acme-docs/handbook/", url: "https://intranet.example/handbook/" };

export async function mount(root) {
  let stopped = false;
  const listBox = h("div", { class: "sources-list" });
  const count = h("p", { class: "muted", role: "status" });
  const progress = progressLine("Sync progress");
  const historyBox = h("section", { class: "card sources-history", hidden: true, "aria-labelledby": "sources-history-title" });

  root.append(
    h("h1", {}, "Sources"),
    h("p", { class: "muted" }, "Folders, S3 buckets and websites whose documents are kept in sync: new files are added, changed ones re-indexed, deleted ones removed. A failed listing removes nothing."),
    addForm(async () => { await reload(); }),
    h("section", { class: "card", "aria-labelledby": "sources-list-title" },
      h("h2", { id: "sources-list-title" }, "Synced sources"),
      count,
      progress.el,
      listBox),
    historyBox);

  async function reload() {
    const sources = await api("GET", "/api/sources");
    count.textContent = plural(sources.length, "source");
    clear(listBox);
    listBox.append(sources.length
      ? scrollBox("Synced sources", sourcesTable(sources, { onSync: sync, onHistory: history, onRemove: remove }))
      : h("p", { class: "empty" }, "No sources yet: add a folder, a bucket or a website above."));
  }

  async function sync(source) {
    try {
      const job = await api("POST", `/api/sources/${encodeURIComponent(source.name)}/sync`);
      progress.set(`Syncing ${source.name}…`);
      await follow(source.name, job.id);
    } catch (error) {
      progress.done(`Could not sync ${source.name}. ${refusal(error)}`, "error");
    }
  }

  async function follow(name, jobId) {
    while (!stopped) {
      const job = await api("GET", `/api/sources/${encodeURIComponent(name)}/jobs/${encodeURIComponent(jobId)}`);
      if (job.status === "done" || job.status === "failed") {
        await reload();
        const [last] = await api("GET", `/api/sources/${encodeURIComponent(name)}/history?limit=1`);
        if (job.status === "failed" || !last || last.status !== "done") {
          const why = (last && last.error) || (job.error && job.error.detail) || "the sync failed";
          progress.done(`${name}: ${why}`, "error");
        } else {
          progress.done(`${name}: ${last.summary}`, last.failed ? "info" : "success");
        }
        return;
      }
      progress.set(`Syncing ${name}: ${plural(job.done, "item")} done`, job.total ? job.done / job.total : null);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  async function history(source) {
    const runs = await api("GET", `/api/sources/${encodeURIComponent(source.name)}/history?limit=20`);
    clear(historyBox);
    historyBox.hidden = false;
    historyBox.append(
      h("h2", { id: "sources-history-title" }, `Syncs of ${source.name}`),
      runs.length ? scrollBox(`Syncs of ${source.name}`, runsTable(runs)) : h("p", { class: "empty" }, "Not synced yet."));
  }

  async function remove(source) {
    const ok = await confirmDialog({
      title: `Remove the source “${source.name}”?`,
      message: [`Its ${plural(source.documents, "document")} leave the knowledge base with it.`, "The files themselves are not touched."],
      confirm: "Remove source",
      danger: true,
    });
    if (!ok) return;
    try {
      const removed = await api("DELETE", `/api/sources/${encodeURIComponent(source.name)}`);
      notify(`Removed ${source.name} and ${plural(removed.documents_removed, "document")}.`, "success");
      historyBox.hidden = true;
      await reload();
    } catch (error) {
      notify(`Could not remove ${source.name}. ${refusal(error)}`, "error");
    }
  }

  await reload();
  return () => { stopped = true; };
}

function lastSync(run) {
  if (!run) return h("span", { class: "muted" }, "never");
  const parts = [h("span", { class: `sources-status sources-${run.status}` }, run.status), " ", formatDate(run.started_at, true), h("br"), run.summary];
  if (run.error) parts.push(h("br"), h("span", { class: "sources-error" }, `Listing failed: ${run.error}`));
  if (run.errors.length) {
    parts.push(h("details", {}, h("summary", {}, plural(run.errors.length, "failed item")),
      h("ul", {}, run.errors.map((e) => h("li", {}, h("code", {}, e.key), ": ", e.reason)))));
  }
  return h("div", {}, parts);
}

function sourcesTable(sources, { onSync, onHistory, onRemove }) {
  return h("table", { class: "sources-table" },
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Name"),
      h("th", { scope: "col" }, "Where"),
      h("th", { scope: "col", class: "num" }, "Documents"),
      h("th", { scope: "col" }, "Last sync"),
      h("th", { scope: "col" }, "Next sync"),
      h("th", { scope: "col" }, h("span", { class: "data-sr-only" }, "Actions")))),
    h("tbody", {}, sources.map((source) => h("tr", { dataset: { name: source.name } },
      h("th", { scope: "row" }, h("code", {}, source.name)),
      h("td", {}, `${KINDS[source.kind] || source.kind}: `, h("code", {}, source.location),
        source.collection ? h("div", { class: "muted" }, `collection ${source.collection}`) : null),
      h("td", { class: "num" }, String(source.documents)),
      h("td", {}, lastSync(source.last_sync)),
      h("td", {}, source.next_sync_at ? formatDate(source.next_sync_at, true) : h("span", { class: "muted" }, "when asked")),
      h("td", { class: "docs-actions" },
        h("button", { type: "button", onclick: () => onSync(source), "aria-label": `Sync ${source.name} now` }, "Sync now"),
        h("button", { type: "button", onclick: () => onHistory(source), "aria-label": `Syncs of ${source.name}` }, "History"),
        h("button", { type: "button", class: "danger", onclick: () => onRemove(source), "aria-label": `Remove ${source.name}` }, "Remove"))))));
}

function runsTable(runs) {
  return h("table", {},
    h("thead", {}, h("tr", {}, ["Started", "Status", "Trigger", "Added", "Updated", "Unchanged", "Removed", "Failed", "Why"].map((label) => h("th", { scope: "col" }, label)))),
    h("tbody", {}, runs.map((run) => h("tr", {},
      h("td", {}, formatDate(run.started_at, true)),
      h("td", {}, run.status),
      h("td", {}, run.trigger),
      ...[run.added, run.updated, run.unchanged, run.removed, run.failed].map((n) => h("td", { class: "num" }, String(n))),
      h("td", {}, run.error || (run.errors.length ? run.errors.map((e) => `${e.key}: ${e.reason}`).join("; ") : ""))))));
}

function addForm(onAdded) {
  const name = h("input", { name: "name", required: true, pattern: "[a-z0-9][a-z0-9_\\-]{0,62}", autocomplete: "off", spellcheck: "false" });
  const kind = h("select", { name: "kind" }, Object.entries(KINDS).map(([value, label]) => h("option", { value }, label)));
  const location = h("input", { name: "location", required: true, autocomplete: "off", spellcheck: "false" });
  const locationField = field("Location", location, LOCATION_HINTS.folder);
  const locationHint = locationField.querySelector(".hint");
  // Websites only: what the URL is read as, and what the reader honours (docs/websites.md).
  const siteNote = h("p", { class: "muted sources-site-note", hidden: true });
  const every = h("input", { name: "every", placeholder: "30m", autocomplete: "off" });
  const collection = h("input", { name: "collection", autocomplete: "off" });
  const status = h("p", { class: "notice error", role: "alert", hidden: true });
  const form = h("form", { class: "card sources-add", "aria-labelledby": "sources-add-title" },
    h("h2", { id: "sources-add-title" }, "Add a source"),
    field("Name", name, "Lower-case letters, digits, - and _: the first part of its documents' keys."),
    field("Kind", kind),
    locationField,
    siteNote,
    field("Sync every", every, "90s, 30m, 2h or 1d; empty: only when asked."),
    field("Collection", collection),
    status,
    h("button", { type: "submit" }, "Add source"));
  function describe() {
    locationHint.textContent = LOCATION_HINTS[kind.value];
    location.placeholder = PLACEHOLDERS[kind.value];
    siteNote.hidden = kind.value !== "url";
    if (siteNote.hidden) return;
    const url = location.value.trim();
    const read = !url ? "" : /\.xml(\.gz)?$/i.test(url.split(/[?#]/)[0])
      ? "Read as a sitemap: its pages are the site, their links are not followed. "
      : "Read as a start page: links are followed within its host and folder. ";
    siteNote.textContent = `${read}robots.txt (and its Crawl-delay), noindex and nofollow are honoured; unchanged pages cost a 304. A host on a private network is reached only when SOURCE_ALLOWED_HOSTS lists it.`;
  }
  kind.addEventListener("change", describe);
  location.addEventListener("input", describe);
  form.addEventListener("reset", () => setTimeout(describe));
  describe();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.hidden = true;
    const body = { name: name.value.trim(), [kind.value]: location.value.trim() };
    if (every.value.trim()) body.every = every.value.trim();
    if (collection.value.trim()) body.collection = collection.value.trim();
    try {
      const added = await api("POST", "/api/sources", body);
      notify(`Added the source ${added.name}.`, "success");
      form.reset();
      await onAdded(added);
    } catch (error) {
      status.textContent = refusal(error);
      status.hidden = false;
    }
  });
  return form;
}
