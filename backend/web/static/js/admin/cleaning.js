// The data-cleaning benchmark (#/admin/cleaning), through Almanac's own cleaning API (served
// whatever COMPAT_ROUTES says): the metrics of the latest completed run (GET
// /api/cleaning/metrics/overview), a form to start a run (POST /api/cleaning/runs), the runs
// (GET /api/cleaning/runs; cancel or delete one), the tasks of a seed (GET
// /api/cleaning/tasks), and one run's page (#/admin/cleaning/RUN_ID, GET /api/cleaning/runs/RUN_ID):
// its progress, then each model's figures and every task's result with the cleaner's
// justification and its auditability score. See docs/cleaning.md.

import { ApiError, api } from "../api.js";
import { clear, dataTable, describeError, field, formatDate, formatPercent, h, notify } from "../dom.js";
import { ACTIVE, downloadButton, runActions } from "./run-actions.js";

const POLL_MS = 1500;
const RUN_LIST_LIMIT = 20;
const ALL = "";

/** The figures shown of a model's overall (or a dimension's) aggregate, in order. */
const FIGURES = [
  ["tasks", "Tasks", "count"],
  ["precision", "Precision", "score"],
  ["recall", "Recall", "score"],
  ["f1", "F1", "score"],
  ["corruption_rate", "Corruption rate", "percent"],
  ["drift_score", "Drift (cleaned)", "score"],
  ["drift_dirty", "Drift (dirty)", "score"],
  ["auditability_score", "Auditability", "score"],
  ["latency_ms", "Latency (mean)", "ms"],
];

export async function mount(root, ctx) {
  if (ctx.params.runId) return mountRun(root, ctx, ctx.params.runId);
  return mountOverview(root, ctx);
}

function formatFigure(kind, value) {
  if (value === null || value === undefined) return "—";
  if (kind === "count") return Math.round(value).toLocaleString("en");
  if (kind === "percent") return formatPercent(value, 2);
  if (kind === "ms") return `${Math.round(value).toLocaleString("en")} ms`;
  return Number(value).toFixed(3);
}

function statusBadge(status) {
  const kind = { completed: "good", failed: "bad", cancelled: "bad", running: "warn", queued: "warn" }[status] || "";
  return h("span", { class: `badge ${kind}` }, status);
}

function section(id, title, ...children) {
  return h("section", { class: "eval-section", "aria-labelledby": id }, h("h2", { id }, title), ...children);
}

function cleaningRunActions(run, onChange) {
  const path = `/api/cleaning/runs/${encodeURIComponent(run.run_id)}`;
  return runActions({ id: run.run_id, status: run.status, cancelPath: `${path}/cancel`, deletePath: path, onChange });
}

// --- the overview ----------------------------------------------------------------------------

async function mountOverview(root, ctx) {
  root.append(
    h("h1", {}, "Cleaning benchmark"),
    h("p", { class: "muted eval-lead" },
      "Dirty tables with known, injected errors: each cleaner repairs them and says why. Scored on precision, recall and F1 of its repairs, the clean cells it broke, drift from the clean table, and how many of its repairs carry a justification (auditability)."));
  const loading = h("p", { class: "loading", role: "status" }, "Loading the benchmark…");
  root.append(loading);
  const [tasks, firstRuns, models] = await Promise.all([
    api("GET", "/api/cleaning/tasks"),
    api("GET", `/api/cleaning/runs?limit=${RUN_LIST_LIMIT}`),
    api("GET", "/api/models"),
  ]);
  loading.remove();
  const cleaners = models.models.filter((m) => m.uses.includes("cleaning"));
  const metrics = h("div", {});
  const runsBox = h("div", {});
  const controller = new AbortController();
  const reload = async () => {
    const [runs] = await Promise.all([
      api("GET", `/api/cleaning/runs?limit=${RUN_LIST_LIMIT}`, undefined, { signal: controller.signal }),
      loadOverview(metrics, controller.signal),
    ]);
    if (!controller.signal.aborted) renderRuns(runsBox, runs.runs, reload);
  };
  root.append(
    section("clean-metrics", "Latest completed run", metrics),
    section("clean-start", "Start a run", startForm(tasks.tasks, cleaners, ctx)),
    section("clean-runs", "Runs", runsBox),
    section("clean-tasks", "Tasks", tasksTable(tasks)));
  renderRuns(runsBox, firstRuns.runs, reload);
  await loadOverview(metrics, controller.signal);
  return () => controller.abort();
}

/** GET /api/cleaning/metrics/overview: every model's overall figures in the latest completed run. */
async function loadOverview(box, signal) {
  let overview;
  try {
    overview = await api("GET", "/api/cleaning/metrics/overview", undefined, { signal });
  } catch (error) {
    if (signal.aborted) return;
    clear(box);
    box.append(error instanceof ApiError && error.status === 404
      ? h("p", { class: "empty" }, "No completed run yet: start one below.")
      : h("p", { class: "notice error", role: "alert" }, describeError(error)));
    return;
  }
  clear(box);
  box.append(
    h("p", { class: "muted" }, "Run ", h("a", { href: `#/admin/cleaning/${overview.run_id}` }, h("code", {}, overview.run_id)),
      `, finished ${formatDate(overview.finished_at, true)}.`),
    figuresTable(overview.models, "Every model's overall figures"));
}

/** One row per model: {model: figures}. */
function figuresTable(byModel, caption) {
  const rows = Object.entries(byModel).map(([model, figures]) => ({ model, ...figures }));
  return dataTable([
    { label: "Model", value: (r) => r.model },
    ...FIGURES.map(([key, label, kind]) => ({ label, value: (r) => formatFigure(kind, r[key]), class: "num" })),
  ], rows, { caption, empty: "No figures." });
}

function renderRuns(box, runs, reload) {
  clear(box);
  box.append(dataTable([
    { label: "Run", value: (r) => h("a", { href: `#/admin/cleaning/${r.run_id}` }, h("code", {}, r.run_id)) },
    { label: "Status", value: (r) => statusBadge(r.status) },
    { label: "Models", value: (r) => r.models.join(", ") },
    { label: "Tasks", value: (r) => String(r.tasks), class: "num" },
    { label: "Started", value: (r) => formatDate(r.created_at, true) },
    { label: "Actions", value: (r) => cleaningRunActions(r, reload) },
  ], runs, { caption: "Newest first", empty: "No runs yet: start one above." }));
}

function tasksTable(tasks) {
  return h("div", {},
    h("p", { class: "muted" }, `Seed ${tasks.seed}: every table × dimension × difficulty, with the errors injected into each.`),
    dataTable([
      { label: "Task", value: (t) => h("code", {}, t.task_id) },
      { label: "Table", value: (t) => t.table },
      { label: "Dimension", value: (t) => t.dimension },
      { label: "Difficulty", value: (t) => t.difficulty },
      { label: "Rows", value: (t) => String(t.rows), class: "num" },
      { label: "Errors", value: (t) => String(t.errors), class: "num" },
    ], tasks.tasks, { empty: "No tasks." }));
}

function choice(label, name, values) {
  return field(label, h("select", { name },
    h("option", { value: ALL }, "All"),
    values.map((v) => h("option", { value: v }, v))));
}

function distinct(tasks, key) {
  return [...new Set(tasks.map((t) => t[key]))];
}

function startForm(tasks, cleaners, ctx) {
  const model = h("select", { name: "model", required: true },
    cleaners.map((m) => h("option", { value: m.id, selected: m.default, disabled: !m.usable }, m.id)));
  const table = choice("Table", "table", distinct(tasks, "table"));
  const dimension = choice("Dimension", "dimension", distinct(tasks, "dimension"));
  const difficulty = choice("Difficulty", "difficulty", distinct(tasks, "difficulty"));
  const error = h("div", { class: "notice error", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", class: "primary" }, "Start cleaning run");
  const form = h("form", { class: "card eval-start" },
    field("Cleaner", model),
    h("div", { class: "eval-inline" }, table, dimension, difficulty),
    error,
    h("div", { class: "row" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const body = { models: [model.value] };
    const picked = (name) => form.elements[name].value;
    if (picked("table") !== ALL) body.tables = [picked("table")];
    if (picked("dimension") !== ALL) body.dimensions = [picked("dimension")];
    if (picked("difficulty") !== ALL) body.difficulties = [picked("difficulty")];
    submit.disabled = true;
    try {
      const started = await api("POST", "/api/cleaning/runs", body);
      notify(`Cleaning run ${started.run_id} started.`, "success");
      ctx.navigate(`#/admin/cleaning/${started.run_id}`);
    } catch (err) {
      error.textContent = describeError(err);
      error.hidden = false;
      submit.disabled = false;
    }
  });
  return form;
}

// --- one run ------------------------------------------------------------------------------------

async function mountRun(root, ctx, runId) {
  ctx.setTitle(`Cleaning run ${runId}`);
  const status = h("div", { class: "eval-status", role: "status", "aria-live": "polite" });
  const body = h("div", {});
  root.append(
    h("p", { class: "eval-back" }, h("a", { href: "#/admin/cleaning" }, "← Cleaning benchmark")),
    h("h1", {}, "Cleaning run ", h("code", {}, runId)),
    status,
    body);
  let timer = null;
  let stopped = false;
  const controller = new AbortController();
  const onChange = async (action) => {
    if (action === "deleted") ctx.navigate("#/admin/cleaning");
    else {
      clearTimeout(timer);
      await refresh();
    }
  };
  const refresh = async () => {
    let run;
    try {
      run = await api("GET", `/api/cleaning/runs/${encodeURIComponent(runId)}`, undefined, { signal: controller.signal });
    } catch (error) {
      if (stopped) return;
      clear(status);
      status.append(h("p", { class: "notice error", role: "alert" }, describeError(error)));
      return;
    }
    if (stopped) return;
    renderStatus(status, run, onChange);
    if (ACTIVE.has(run.status)) timer = setTimeout(refresh, POLL_MS);
    else {
      clear(body);
      renderResults(body, run);
    }
  };
  await refresh();
  return () => {
    stopped = true;
    clearTimeout(timer);
    controller.abort();
  };
}

function renderStatus(box, run, onChange) {
  clear(box);
  const p = run.progress;
  const label = { completed: "Completed", failed: "Failed", cancelled: "Cancelled", queued: "Queued" }[run.status] || "Running";
  box.append(h("div", { class: "card eval-progress" },
    h("div", { class: "row eval-progress-line" },
      statusBadge(run.status),
      h("span", { class: "eval-status-text" }, `${label}: ${p.done} of ${p.total} tasks`, p.failed ? ` (${p.failed} failed)` : ""),
      h("span", { class: "muted" }, `${Math.round(p.percent)}%`),
      cleaningRunActions(run, onChange)),
    h("progress", { max: String(p.total || 1), value: String(p.done), "aria-label": "Run progress" }),
    h("p", { class: "muted eval-meta" },
      `${run.models.join(", ")} · seed ${run.settings.seed} · started ${formatDate(run.timestamp, true)}`,
      run.finished_at ? ` · finished ${formatDate(run.finished_at, true)}` : ""),
    run.error ? h("p", { class: "notice error" }, run.error) : null));
}

function renderResults(box, run) {
  const overall = Object.fromEntries(Object.entries(run.aggregates || {}).map(([m, a]) => [m, a.overall]));
  const path = `/api/cleaning/runs/${encodeURIComponent(run.run_id)}`;
  box.append(
    h("div", { class: "row eval-downloads" },
      downloadButton("Download report (HTML)", `${path}/report`, `${run.run_id}-report.html`),
      downloadButton("Export JSON", `${path}/export?format=json`, `${run.run_id}.json`),
      downloadButton("Export CSV", `${path}/export?format=csv`, `${run.run_id}.csv`)),
    section("clean-run-figures", "Figures", figuresTable(overall, "Each model over every task")),
    section("clean-run-tasks", `Task results (${run.task_results.length})`, taskResults(run.task_results)));
}

/** Every task's result: its scores, the cleaner's justification and its auditability. */
function taskResults(results) {
  if (!results.length) return h("p", { class: "empty" }, "No task was scored.");
  return dataTable([
    { label: "Task", value: (r) => h("code", {}, r.task_id) },
    { label: "Model", value: (r) => r.model },
    { label: "F1", value: (r) => formatFigure("score", r.f1), class: "num" },
    { label: "Corruption", value: (r) => formatFigure("percent", r.corruption_rate), class: "num" },
    { label: "Drift", value: (r) => formatFigure("score", r.drift_score), class: "num" },
    { label: "Auditability", value: (r) => formatFigure("score", r.auditability_score), class: "num" },
    { label: "Justification", value: (r) => r.error
      ? h("span", { class: "notice error" }, `Error: ${r.error}`)
      : h("span", { class: "clean-justification" }, r.justification || "—") },
  ], results);
}
