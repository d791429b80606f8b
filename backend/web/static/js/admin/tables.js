// Tables (admins): the structured tables the assistant's SQL tool reads, with their collection
// (who may read them), columns and row counts, their rows page by page, loading one from a
// CSV, TSV or JSON-lines file, or one per sheet from a workbook, into a collection (created or
// replaced; the form offers the types the server's table loader reads), and deleting one
// after a confirmation.

import { panelDialog } from "../answer.js";
import { api, upload } from "../api.js";
import { clear, confirmDialog, field, h, notify, plural } from "../dom.js";
import { collectionCell, collectionSelect, progressLine, refusal } from "./data-ui.js";

const ROWS_PAGE = 50;

const NAME_PATTERN = "[A-Za-z_][A-Za-z0-9_]{0,62}";

export async function mount(root) {
  let tables = [];
  const listBox = h("div", { class: "tables-list" });
  const count = h("p", { class: "muted", role: "status" });
  const viewer = rowsViewer();
  const loader = loadForm(() => tables, async (loaded) => {
    await reload();
    const row = listBox.querySelector(`[data-name="${CSS.escape(loaded.name)}"]`);
    if (row) row.classList.add("tables-new");
  });

  root.append(
    h("h1", {}, "Tables"),
    h("p", { class: "muted" }, "The assistant answers questions about numbers, people and lists by running one read-only SQL query over these tables."),
    loader.el,
    h("section", { class: "card tables-section", "aria-labelledby": "tables-list-title" },
      h("h2", { id: "tables-list-title" }, "Tables the assistant can query"),
      count,
      listBox),
    viewer.el);

  async function reload() {
    tables = (await api("GET", "/api/tables")).tables;
    count.textContent = `${tables.length} ${tables.length === 1 ? "table" : "tables"}`;
    clear(listBox);
    listBox.append(tables.length
      ? tableOfTables(tables, { onView: viewer.open, onDelete: remove })
      : h("p", { class: "empty" }, "No tables yet: load a CSV file above."));
  }

  async function remove(table) {
    const ok = await confirmDialog({
      title: `Delete the table “${table.name}”?`,
      message: [`Its ${plural(table.rows, "row")} leave the database: the assistant's lookups stop seeing it at once.`, "This cannot be undone."],
      confirm: "Delete table",
      danger: true,
    });
    if (!ok) return;
    try {
      await api("DELETE", `/api/tables/${encodeURIComponent(table.name)}`);
      notify(`Deleted the table “${table.name}”.`, "success");
      await reload();
    } catch (error) {
      notify(`Could not delete “${table.name}”. ${refusal(error)}`, "error");
    }
  }

  await Promise.all([reload(), loader.loadTypes()]);
}

function columnChip(column) {
  const samples = column.samples.length ? `e.g. ${column.samples.join(", ")}` : "no values";
  return h("li", { class: "tables-column", title: samples },
    h("code", {}, column.name), " ", h("span", { class: "tables-type" }, column.type.toLowerCase()));
}

function tableOfTables(tables, { onView, onDelete }) {
  return h("div", { class: "table-wrap" },
    h("table", { class: "tables-table" },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, "Name"),
        h("th", { scope: "col" }, "Collection"),
        h("th", { scope: "col", class: "num" }, "Rows"),
        h("th", { scope: "col" }, "Columns"),
        h("th", { scope: "col" }, h("span", { class: "data-sr-only" }, "Actions")))),
      h("tbody", {}, tables.map((table) => h("tr", { dataset: { name: table.name } },
        h("th", { scope: "row" }, h("code", { class: "tables-name" }, table.name)),
        collectionCell(table.collection, { class: "data-collection tables-collection" }),
        h("td", { class: "num" }, table.rows.toLocaleString()),
        h("td", {},
          h("span", { class: "data-sr-only" }, `${table.columns.length} columns: `),
          h("ul", { class: "tables-columns" }, table.columns.map(columnChip))),
        h("td", { class: "docs-actions" },
          h("button", { type: "button", onclick: (e) => onView(table, e.currentTarget), "aria-label": `Rows of ${table.name}` }, "Rows"),
          h("button", { type: "button", class: "danger", onclick: () => onDelete(table), "aria-label": `Delete ${table.name}` }, "Delete")))))));
}

/** A table's rows, a page at a time, in a dialog (what the assistant's lookups read). */
function rowsViewer() {
  const { el, title, body, show: showDialog } = panelDialog("tables-rows-title", "tables-rows");

  async function show(name, offset) {
    clear(body);
    body.append(h("p", { class: "muted", role: "status" }, "Loading the rows…"));
    try {
      const page = await api("GET", `/api/tables/${encodeURIComponent(name)}/rows?limit=${ROWS_PAGE}&offset=${offset}`);
      clear(body);
      const last = Math.min(page.offset + page.rows.length, page.total);
      const status = h("p", { class: "muted", role: "status" }, page.rows.length
        ? `Rows ${(page.offset + 1).toLocaleString()}–${last.toLocaleString()} of ${page.total.toLocaleString()}`
        : "No rows.");
      const previous = h("button", { type: "button", disabled: page.offset === 0, onclick: () => show(name, Math.max(0, page.offset - ROWS_PAGE)) }, "Previous");
      const next = h("button", { type: "button", disabled: last >= page.total, onclick: () => show(name, page.offset + ROWS_PAGE) }, "Next");
      body.append(status,
        h("div", { class: "table-wrap" }, h("table", {},
          h("caption", { class: "data-sr-only" }, `Rows of ${page.name}`),
          h("thead", {}, h("tr", {}, page.columns.map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, page.rows.map((row) => h("tr", {}, row.map((value) =>
            h("td", {}, value === null ? h("span", { class: "muted" }, "—") : String(value)))))))),
        h("div", { class: "row" }, previous, next));
    } catch (error) {
      clear(body);
      body.append(h("p", { class: "notice error", role: "alert" }, `The rows could not be loaded. ${refusal(error)}`));
    }
  }

  function open(table, from) {
    title.textContent = table.name;
    showDialog(from);
    show(table.name, 0);
  }
  return { el, open };
}

/** A name for a table from a file name: "Sales 2024.csv" -> "sales_2024". */
function suggestName(fileName) {
  let name = fileName.replace(/\.[^.]*$/, "").toLowerCase().replace(/[^a-z0-9_]+/g, "_").replace(/^_+|_+$/g, "");
  if (/^[0-9]/.test(name)) name = `t_${name}`;
  return name.slice(0, 63);
}

function loadForm(currentTables, onLoaded) {
  const nameInput = h("input", { type: "text", name: "name", required: true, pattern: NAME_PATTERN, maxlength: 63, autocomplete: "off", spellcheck: "false" });
  // The file picker offers the types the server reads once it has said which (`loadTypes`).
  const fileInput = h("input", { type: "file", name: "file", required: true });
  const collection = collectionSelect("Default (a replaced table keeps its own)");
  const submit = h("button", { type: "submit", class: "primary" }, "Load table");
  const replaceNote = h("p", { class: "notice warn", hidden: true });
  const progress = progressLine("Table upload progress");
  const problem = h("p", { class: "notice error", role: "alert", hidden: true });
  let nameTouched = false;

  function checkReplace() {
    const taken = currentTables().find((t) => t.name.toLowerCase() === nameInput.value.trim().toLowerCase());
    replaceNote.hidden = !taken;
    if (taken) replaceNote.textContent = `A table named ${taken.name} exists (${plural(taken.rows, "row")}): loading replaces it.`;
    submit.textContent = taken ? "Replace table" : "Load table";
  }

  nameInput.addEventListener("input", () => { nameTouched = true; checkReplace(); });
  fileInput.addEventListener("change", () => {
    const file = fileInput.files[0];
    if (file && (!nameTouched || !nameInput.value)) {
      nameInput.value = suggestName(file.name);
      checkReplace();
    }
  });

  const fileField = field("File", fileInput, "Any type the server's table loader reads.");
  const fileHint = fileField.querySelector(".hint");
  const form = h("form", { class: "tables-form" },
    h("div", { class: "tables-fields" },
      fileField,
      field("Table name", nameInput, "Letters, digits and _; not starting with a digit (e.g. sales_2024)."),
      field("Collection", collection, "Who may read it: the default collection is every user's."),
      h("div", { class: "row tables-actions" }, submit)),
    replaceNote,
    progress.el,
    problem);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = fileInput.files[0];
    if (!file) return;
    problem.hidden = true;
    submit.disabled = true;
    const data = new FormData();
    data.append("name", nameInput.value.trim());
    data.append("file", file);
    if (collection.value) data.append("collection", collection.value);
    try {
      progress.set(`Sending ${file.name}…`, 0);
      const answer = await upload("POST", "/api/tables", data, (fraction) =>
        progress.set(fraction < 1 ? `Sending ${file.name}… ${Math.round(fraction * 100)}%` : `Checking and loading ${file.name}…`, fraction < 1 ? fraction : null));
      const { table, status, replaced, tables: loaded = [table] } = answer.body;
      const message = loaded.length > 1
        ? `Loaded ${plural(loaded.length, "table")} from ${file.name}, one per sheet: ${loaded.map((t) => t.name).join(", ")}.`
        : status === "replaced"
          ? `Replaced table ${table.name}: ${plural(table.rows, "row")} (was ${replaced.rows.toLocaleString()}).`
          : `Loaded table ${table.name}: ${plural(table.rows, "row")}, ${plural(table.columns.length, "column")}.`;
      progress.done(message, "success");
      notify(message, "success");
      form.reset();
      collection.value = "";
      nameTouched = false;
      replaceNote.hidden = true;
      submit.textContent = "Load table";
      await onLoaded(table);
    } catch (error) {
      progress.hide();
      problem.hidden = false;
      problem.textContent = `${file.name} was not loaded; nothing changed. ${refusal(error)}`;
    } finally {
      submit.disabled = false;
    }
  });

  return {
    el: h("section", { class: "card tables-section", "aria-labelledby": "tables-load-title" },
      h("h2", { id: "tables-load-title" }, "Load a table"), form),
    /** Offer and name the file types the server's table loader reads (GET /api/tables/types),
     * workbooks apart. Unknown (the call failed): any file is offered; the server still
     * refuses another type (415). */
    async loadTypes() {
      try {
        const { extensions, workbooks } = await api("GET", "/api/tables/types");
        fileInput.accept = extensions.join(",");
        const tables = extensions.filter((e) => !workbooks.includes(e));
        fileHint.textContent = `${tables.join(", ")}: a header line, or one JSON object per line`
          + (workbooks.length ? `; workbooks ${workbooks.join(", ")}: a table per sheet, the name a prefix.` : ".");
      } catch (error) {
        console.warn(error);
      }
    },
  };
}
