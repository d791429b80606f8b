// Evaluation runs (#/admin/evaluation): the datasets and the runs, a form to start a run, a
// comparison of two runs (computed by the server: GET /api/v1/eval-runs/compare), and one run's
// page (#/admin/evaluation/RUN_ID): its progress while it runs, then its results and downloads.
// A queued or running run can be cancelled, a finished one deleted (after a confirmation).

import { api } from "../api.js";
import { clear, dataTable, describeError, field, formatDate, h, notify } from "../dom.js";
import { ACTIVE, downloadButton, runActions } from "./run-actions.js";

const POLL_MS = 1500;
const RUN_LIST_LIMIT = 20;
const DATASET_LIST_LIMIT = 200;

/** How each metric of the export is shown: label and kind (rate, score, ms, usd, count). */
const METRICS = {
  cases: ["Cases", "count"],
  errors: ["Errors", "count"],
  correct: ["Correct", "rate"],
  exact_match: ["Exact match", "rate"],
  token_f1: ["Token F1", "score"],
  cited: ["Cited a source", "rate"],
  citation_precision: ["Citation precision", "rate"],
  citation_recall: ["Citation recall", "rate"],
  valid_citation_rate: ["Valid citations", "rate"],
  refusal_accuracy: ["Refusal accuracy", "rate"],
  sql_match: ["SQL rows match", "rate"],
  judge_correct: ["LLM judge: correct", "rate"],
  assertions_passed: ["Assertions passed", "rate"],
  hit: ["Hit@K", "rate"],
  recall: ["Recall@K", "rate"],
  mrr: ["MRR", "score"],
  ndcg: ["nDCG@K", "score"],
  brier: ["Brier score", "score"],
  ece: ["ECE", "score"],
  brier_raw: ["Brier score (raw)", "score"],
  ece_raw: ["ECE (raw)", "score"],
  latency_p50_ms: ["Latency p50", "ms"],
  latency_p95_ms: ["Latency p95", "ms"],
  latency_mean_ms: ["Latency mean", "ms"],
  input_tokens: ["Input tokens", "count"],
  output_tokens: ["Output tokens", "count"],
  cost_usd: ["Cost", "usd"],
  answer_drift: ["Answer drift", "rate"],
  retrieval_overlap: ["Retrieval overlap@K", "rate"],
};
/** The figures of a model's summary, in order (the `@K` ones take the run's k). */
const HEADLINE = [
  "correct", "cited", "refusal_accuracy", "token_f1", "hit@K", "ndcg@K", "mrr",
  "brier", "ece", "latency_p50_ms", "latency_p95_ms", "cost_usd",
];
const DIMENSION_COLUMNS = ["cases", "correct", "cited", "refusal_accuracy", "ndcg@K", "latency_p50_ms"];

export async function mount(root, ctx) {
  const runId = ctx.params.runId;
  if (runId) return mountRun(root, ctx, runId);
  return mountOverview(root, ctx);
}

// --- formatting ----------------------------------------------------------------------------

function metricInfo(key) {
  const [base, k] = key.split("@");
  const [label, kind] = METRICS[base] || [key, "score"];
  return { label: k ? label.replace("@K", `@${k}`) : label, kind };
}

/** One metric value as a person reads it: 0.75 -> "75%", 150.5 ms -> "151 ms". */
function formatMetric(key, value) {
  if (value === null || value === undefined) return "—";
  const { kind } = metricInfo(key);
  if (kind === "rate") return `${(value * 100).toFixed(1).replace(/\.0$/, "")}%`;
  if (kind === "ms") return `${Math.round(value).toLocaleString()} ms`;
  if (kind === "usd") return `$${value.toFixed(4)}`;
  if (kind === "count") return Math.round(value).toLocaleString();
  return value.toFixed(3);
}

/** A change of a metric: rates in points, the others in their unit, with a sign. */
function formatDelta(key, delta) {
  if (delta === null || delta === undefined) return "—";
  if (delta === 0) return "0";
  const { kind } = metricInfo(key);
  const sign = delta > 0 ? "+" : "−";
  const size = Math.abs(delta);
  if (kind === "rate") return `${sign}${(size * 100).toFixed(1)} pts`;
  if (kind === "ms") return `${sign}${Math.round(size).toLocaleString()} ms`;
  if (kind === "usd") return `${sign}$${size.toFixed(4)}`;
  if (kind === "count") return `${sign}${Math.round(size).toLocaleString()}`;
  return `${sign}${size.toFixed(3)}`;
}

function withK(key, k) {
  return key.replace("@K", `@${k}`);
}

function statusBadge(status) {
  const kind = { completed: "good", failed: "bad", cancelled: "bad", running: "warn", queued: "warn" }[status] || "";
  return h("span", { class: `badge ${kind}` }, status);
}

function runLink(run) {
  return h("a", { href: `#/admin/evaluation/${run.run_id}` }, h("code", {}, run.run_id));
}

function errorBox() {
  return h("div", { class: "notice error", role: "alert", hidden: true });
}

/** Show an ApiError in a box: its detail, and the fields a 422 names. */
function showError(box, error) {
  clear(box);
  box.append(h("p", { class: "eval-error-detail" }, describeError(error)));
  const fields = (error.errors || []).map((e) => {
    const where = Array.isArray(e.loc) ? e.loc.filter((p) => p !== "body").join(".") : e.field || "";
    return h("li", {}, where ? `${where}: ${e.msg || e.message || e.detail}` : e.msg || e.detail || String(e));
  });
  if (fields.length) box.append(h("ul", {}, fields));
  box.hidden = false;
}

function section(title, ...children) {
  const id = `eval-${title.toLowerCase().replace(/[^a-z]+/g, "-")}`;
  return h("section", { class: "eval-section", "aria-labelledby": id },
    h("h2", { id }, title), ...children);
}

// --- the overview: datasets, runs, start, compare ----------------------------------------------

async function mountOverview(root, ctx) {
  root.append(
    h("h1", {}, "Evaluation"),
    h("p", { class: "muted eval-lead" },
      "Run a dataset of questions through the real chat and score every answer: correctness, citations, refusals, retrieval, calibration, latency and cost."),
  );
  const loading = h("p", { class: "loading", role: "status" }, "Loading runs and datasets…");
  root.append(loading);
  const [tasks, firstRuns, models] = await Promise.all([
    api("GET", `/api/v1/datasets?limit=${DATASET_LIST_LIMIT}`),
    api("GET", `/api/v1/eval-runs?limit=${RUN_LIST_LIMIT}`),
    api("GET", "/api/models"),
  ]);
  let runs = firstRuns;
  const answerModels = models.models.filter((m) => m.uses.includes("answers"));
  loading.remove();
  const headlines = new Map();
  const comparison = h("div", { class: "eval-compare-result", "aria-live": "polite" });
  const layout = h("div", { class: "eval-columns" },
    section("Start a run", startForm(tasks, answerModels, ctx)),
    section("Compare two runs", compareForm(runs, comparison)));
  const runsTable = h("div", {});
  root.append(layout, comparison, section("Runs", runsTable), section("Datasets", datasetsTable(tasks)));
  const controller = new AbortController();
  /** The list again, after a run was cancelled or deleted here. */
  const reload = async () => {
    runs = await api("GET", `/api/v1/eval-runs?limit=${RUN_LIST_LIMIT}`, undefined, { signal: controller.signal });
    if (!controller.signal.aborted) renderRuns(runsTable, runs, headlines, reload);
  };
  renderRuns(runsTable, runs, headlines, reload);
  loadHeadlines(runs, headlines, controller.signal).then(() => {
    if (!controller.signal.aborted) renderRuns(runsTable, runs, headlines, reload);
  });
  return () => controller.abort();
}

function evalRunActions(run, onChange) {
  const path = `/api/v1/eval-runs/${encodeURIComponent(run.run_id)}`;
  return runActions({ id: run.run_id, status: run.status, cancelPath: `${path}/cancel`, deletePath: path, onChange });
}

/** The headline figures of the completed runs listed (one overview call each). */
async function loadHeadlines(runs, headlines, signal) {
  const done = runs.filter((r) => r.status === "completed");
  await Promise.all(done.map(async (run) => {
    try {
      const overview = await api("GET", `/api/v1/eval-metrics/overview?run_id=${run.run_id}`, undefined, { signal });
      headlines.set(run.run_id, overview.models);
    } catch {
      // A run without figures keeps its dashes; its own page says why.
    }
  }));
}

function renderRuns(box, runs, headlines, reload) {
  clear(box);
  const first = (run, key) => {
    const figures = headlines.get(run.run_id);
    const model = figures && figures[run.models[0]];
    return model ? formatMetric(key, model[key]) : "—";
  };
  box.append(dataTable([
    { label: "Run", value: runLink },
    { label: "Status", value: (r) => statusBadge(r.status) },
    { label: "Dataset", value: (r) => r.task_id },
    { label: "Models", value: (r) => r.models.join(", ") },
    { label: "Items", value: (r) => String(r.total), class: "num" },
    { label: "Correct", value: (r) => first(r, "correct"), class: "num" },
    { label: "Cited", value: (r) => first(r, "cited"), class: "num" },
    { label: "Started", value: (r) => formatDate(r.created_at, true) },
    { label: "Actions", value: (r) => evalRunActions(r, reload) },
  ], runs, { caption: "Newest first", empty: "No runs yet: start one above." }));
}

function datasetsTable(tasks) {
  return dataTable([
    { label: "Dataset", value: (t) => h("span", {}, h("strong", {}, t.name), " ", h("code", {}, t.id)) },
    { label: "Cases", value: (t) => String(t.cases), class: "num" },
    { label: "Source", value: (t) => t.source },
    { label: "Version", value: (t) => h("code", {}, t.version) },
    { label: "Added", value: (t) => formatDate(t.created_at) },
  ], tasks, { empty: "No datasets. Upload one with POST /api/v1/datasets/upload." });
}

function modelChoices(models) {
  return h("fieldset", { class: "eval-models" },
    h("legend", {}, "Models"),
    models.map((m) => {
      const box = h("input", { type: "checkbox", name: "model", value: m.id, checked: m.default && m.usable, disabled: !m.usable });
      return h("label", { class: `eval-model${m.usable ? "" : " muted"}` }, box, " ", m.id,
        m.default ? h("span", { class: "badge" }, "default") : null,
        m.usable ? null : h("span", { class: "hint eval-model-reason" }, m.reason || "Not usable here."));
    }));
}

function startForm(tasks, models, ctx) {
  const dataset = h("select", { name: "task_id", required: true },
    tasks.map((t) => h("option", { value: t.id, selected: t.id === "answers" }, `${t.name} (${t.cases} cases)`)));
  const split = h("select", { name: "split" },
    h("option", { value: "" }, "Every case"),
    h("option", { value: "dev" }, "dev"),
    h("option", { value: "test" }, "test"));
  const tags = h("input", { type: "text", name: "tags", placeholder: "e.g. quota, sql", autocomplete: "off" });
  const limit = h("input", { type: "number", name: "limit", min: "1", inputmode: "numeric", placeholder: "all" });
  const concurrency = h("input", { type: "number", name: "concurrency", min: "1", inputmode: "numeric", placeholder: "default" });
  const robustness = h("input", { type: "checkbox", name: "robustness" });
  const error = errorBox();
  const submit = h("button", { type: "submit", class: "primary" }, "Start run");
  const form = h("form", { class: "card eval-start", novalidate: true },
    field("Dataset", dataset),
    modelChoices(models),
    h("div", { class: "eval-inline" },
      field("Split", split, "The bundled set tags its cases dev or test."),
      field("Other tags", tags, "Comma-separated: cases with any of them.")),
    h("div", { class: "eval-inline" },
      field("Limit", limit, "Run only the first N cases."),
      field("Concurrency", concurrency, "Cases at once.")),
    h("label", { class: "eval-check" }, robustness, " Robustness: also ask each question with typos, other case, filler and word order"),
    error,
    h("div", { class: "row" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const body = { task_id: dataset.value };
    const chosen = [...form.querySelectorAll("input[name=model]:checked")].map((i) => i.value);
    if (chosen.length) body.models = chosen;
    const tagList = [split.value, ...tags.value.split(",").map((t) => t.trim())].filter(Boolean);
    if (tagList.length) body.tags = tagList;
    if (limit.value !== "") body.limit = Number(limit.value);
    if (concurrency.value !== "") body.concurrency = Number(concurrency.value);
    if (robustness.checked) body.robustness = true;
    submit.disabled = true;
    try {
      const started = await api("POST", "/api/v1/benchmark-runs", body);
      notify(`Run ${started.run_id} started.`, "success");
      ctx.navigate(`#/admin/evaluation/${started.run_id}`);
    } catch (err) {
      showError(error, err);
      submit.disabled = false;
    }
  });
  return form;
}

// --- comparison ----------------------------------------------------------------------------

function runOption(run, selected) {
  const when = formatDate(run.created_at, true);
  return h("option", { value: run.run_id, selected },
    `${run.run_id} · ${run.task_id} · ${run.models.join(", ")} · ${when}`);
}

function compareForm(runs, result) {
  if (runs.length < 2) {
    return h("div", { class: "card" }, h("p", { class: "empty" }, "Two runs are needed to compare: start another one."));
  }
  const a = h("select", { name: "a" }, runs.map((r, i) => runOption(r, i === 1)));
  const b = h("select", { name: "b" }, runs.map((r, i) => runOption(r, i === 0)));
  const error = errorBox();
  const submit = h("button", { type: "submit", class: "primary" }, "Compare");
  const form = h("form", { class: "card eval-compare" },
    field("Run A (baseline)", a),
    field("Run B", b),
    error,
    h("div", { class: "row" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    clear(result);
    submit.disabled = true;
    try {
      const query = new URLSearchParams({ a: a.value, b: b.value });
      renderComparison(result, await api("GET", `/api/v1/eval-runs/compare?${query}`));
    } catch (err) {
      showError(error, err);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

const VERDICT = { improved: ["good", "improved"], regressed: ["bad", "regressed"], unchanged: ["", "unchanged"] };

function renderComparison(box, comparison) {
  box.append(h("h2", { class: "eval-compare-title" }, "Comparison: A ", h("code", {}, comparison.run_a), " → B ", h("code", {}, comparison.run_b)));
  for (const warning of comparison.warnings) box.append(h("p", { class: "notice warn" }, warning));
  if (!comparison.models.length) {
    box.append(h("p", { class: "empty" }, "The runs have no model in common."));
  }
  for (const model of comparison.models) {
    const all = Object.entries(model.metrics).map(([key, m]) => ({ key, ...m }));
    const rows = all.filter((r) => r.a !== null || r.b !== null);
    box.append(dataTable([
      { label: "Metric", value: (r) => metricInfo(r.key).label },
      { label: "A", value: (r) => formatMetric(r.key, r.a), class: "num" },
      { label: "B", value: (r) => formatMetric(r.key, r.b), class: "num" },
      { label: "Change", value: (r) => formatDelta(r.key, r.delta), class: "num" },
      { label: "Verdict", value: (r) => verdictBadge(r.verdict) },
    ], rows, { caption: model.model }));
    if (rows.length < all.length) {
      box.append(h("p", { class: "hint" }, `Left out, without a value in either run: ${all.filter((r) => !rows.includes(r)).map((r) => metricInfo(r.key).label).join(", ")}.`));
    }
  }
  const apart = [...comparison.only_in_a.map((m) => `${m} (A only)`), ...comparison.only_in_b.map((m) => `${m} (B only)`)];
  if (apart.length) box.append(h("p", { class: "muted" }, `Not compared: ${apart.join(", ")}.`));
}

function verdictBadge(verdict) {
  if (!verdict) return h("span", { class: "muted" }, "—");
  const [kind, text] = VERDICT[verdict];
  return h("span", { class: `badge ${kind}` }, verdict === "improved" ? "▲ " : verdict === "regressed" ? "▼ " : "", text);
}

// --- one run -------------------------------------------------------------------------------

async function mountRun(root, ctx, runId) {
  ctx.setTitle(`Run ${runId}`);
  const status = h("div", { class: "eval-status", role: "status", "aria-live": "polite" });
  const body = h("div", {});
  root.append(
    h("p", { class: "eval-back" }, h("a", { href: "#/admin/evaluation" }, "← All runs")),
    h("h1", {}, "Run ", h("code", {}, runId)),
    status,
    body);
  let timer = null;
  let stopped = false;
  const controller = new AbortController();

  const refresh = async () => {
    let run;
    try {
      run = await api("GET", `/api/v1/eval-runs/${encodeURIComponent(runId)}`, undefined, { signal: controller.signal });
    } catch (error) {
      if (stopped) return;
      clear(status);
      status.append(h("p", { class: "notice error", role: "alert" }, describeError(error)));
      return;
    }
    if (stopped) return;
    renderStatus(status, run, async (action) => {
      if (action === "deleted") ctx.navigate("#/admin/evaluation");
      else {
        clearTimeout(timer);
        await refresh();
      }
    });
    if (ACTIVE.has(run.status)) {
      timer = setTimeout(refresh, POLL_MS);
    } else {
      clear(body);
      renderResults(body, run, ctx);
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
  const done = p.completed + p.failed;
  const label = { completed: "Completed", failed: "Failed", cancelled: "Cancelled", queued: "Queued" }[run.status] || "Running";
  box.append(h("div", { class: "card eval-progress" },
    h("div", { class: "row eval-progress-line" },
      statusBadge(run.status),
      h("span", { class: "eval-status-text" }, `${label}: ${done} of ${p.total} items`, p.failed ? ` (${p.failed} failed)` : ""),
      h("span", { class: "muted" }, `${Math.round(p.percent)}%`),
      evalRunActions(run, onChange)),
    h("progress", { max: String(p.total || 1), value: String(done), "aria-label": "Run progress" }),
    h("p", { class: "muted eval-meta" },
      `${run.task.name} (${run.task.id}) · ${run.models.join(", ")} · started ${formatDate(run.created_at, true)} by ${run.created_by}`,
      run.finished_at ? ` · finished ${formatDate(run.finished_at, true)}` : ""),
    run.error ? h("p", { class: "notice error" }, run.error) : null));
}

function renderResults(box, run, ctx) {
  box.append(downloads(run, ctx));
  const k = run.settings.k;
  const settings = [
    `k = ${k}`,
    run.settings.limit ? `first ${run.settings.limit} cases` : "every case",
    run.settings.tags && run.settings.tags.length ? `tags ${run.settings.tags.join(", ")}` : null,
    `concurrency ${run.settings.concurrency}`,
    run.settings.robustness && run.settings.robustness.length ? `robustness: ${run.settings.robustness.join(", ")}` : null,
    run.prompt_version ? `prompt ${run.prompt_version.type} v${run.prompt_version.version}` : null,
  ].filter(Boolean);
  box.append(h("p", { class: "muted" }, `Settings: ${settings.join(" · ")}`));
  const models = Object.entries(run.aggregates || {});
  if (!models.length) box.append(h("p", { class: "empty" }, "This run has no scored case."));
  for (const [model, aggregate] of models) box.append(modelResults(model, aggregate, k));
  if ((run.cases || []).length) box.append(failures(run)); // none: said above
}

function downloads(run, ctx) {
  const id = run.run_id;
  return h("div", { class: "row eval-downloads" },
    downloadButton("Download report (HTML)", `/api/v1/eval-runs/${id}/report`, `${id}-report.html`),
    downloadButton("Export JSON", `/api/v1/eval-runs/${id}/export?format=json`, `${id}.json`),
    downloadButton("Export CSV", `/api/v1/eval-runs/${id}/export?format=csv`, `${id}.csv`),
    // Without keys the report's own URL works in a tab, under its own policy (styled);
    // with keys a tab cannot send the key, so the download is the way.
    ctx.session.auth_enabled ? null
      : h("a", { class: "button", href: `/api/v1/eval-runs/${id}/report`, target: "_blank", rel: "noopener" }, "Open report in a new tab"));
}

function modelResults(model, aggregate, k) {
  const overall = aggregate.overall || {};
  const stats = HEADLINE.map((key) => withK(key, k)).filter((key) => key in overall).map((key) =>
    h("div", { class: "card eval-stat" },
      h("div", { class: "stat-label" }, metricInfo(key).label),
      h("div", { class: "stat" }, formatMetric(key, overall[key]))));
  const cards = h("section", { class: "eval-model-results", "aria-label": `Results of ${model}` },
    h("h2", {}, model, " ", h("span", { class: "muted eval-cases" }, `${overall.cases ?? 0} cases, ${overall.errors ?? 0} errors`)),
    h("div", { class: "eval-stats" }, stats));
  const dims = Object.entries(aggregate.by_dimension || {}).map(([name, figures]) => ({ name, ...figures }));
  if (dims.length) {
    cards.append(h("h3", {}, "By dimension"), dataTable([
      { label: "Dimension", value: (d) => d.name },
      ...DIMENSION_COLUMNS.map((key) => withK(key, k)).map((key) => ({
        label: metricInfo(key).label, value: (d) => formatMetric(key, d[key]), class: "num",
      })),
    ], dims));
  }
  cards.append(calibration(aggregate.reliability || []));
  const robust = aggregate.robustness || {};
  if (robust.perturbations && robust.perturbations.length) cards.append(robustness(robust, k));
  return cards;
}

/** The reliability bands: how often answers in each confidence band were correct. */
function calibration(bands) {
  const used = bands.filter((b) => b.count > 0);
  if (!used.length) return h("p", { class: "muted" }, "No confidence figures to calibrate.");
  return h("div", {}, h("h3", {}, "Calibration"),
    h("p", { class: "hint" }, "For answers in each confidence band: how often they were correct. A calibrated model's bars match its band."),
    dataTable([
      { label: "Confidence band", value: (b) => b.band },
      { label: "Answers", value: (b) => String(b.count), class: "num" },
      { label: "Mean confidence", value: (b) => formatMetric("correct", b.mean_confidence), class: "num" },
      { label: "Correct", value: (b) => accuracyBar(b.accuracy) },
    ], used));
}

function accuracyBar(value) {
  if (value === null || value === undefined) return "—";
  const bar = h("span", { class: "eval-bar-fill" });
  bar.style.width = `${Math.round(value * 100)}%`;
  return h("span", { class: "eval-bar" }, h("span", { class: "eval-bar-track", "aria-hidden": "true" }, bar),
    h("span", { class: "eval-bar-label" }, formatMetric("correct", value)));
}

function robustness(robust, k) {
  const overlap = `retrieval_overlap@${k}`;
  const rows = Object.entries(robust.by_perturbation || {}).map(([name, f]) => ({ name, ...f }));
  return h("div", {}, h("h3", {}, "Robustness"),
    h("p", {}, `Answer drift ${formatMetric("answer_drift", robust.answer_drift)}, retrieval overlap ${formatMetric(overlap, robust[overlap])}.`),
    dataTable([
      { label: "Perturbation", value: (r) => r.name },
      { label: "Correct", value: (r) => formatMetric("correct", r.correct), class: "num" },
      { label: "Answer drift", value: (r) => formatMetric("answer_drift", r.answer_drift), class: "num" },
      { label: "Retrieval overlap", value: (r) => formatMetric(overlap, r[overlap]), class: "num" },
    ], rows));
}

/** The cases answered wrongly or not at all, with the answer given. */
function failures(run) {
  const failed = (run.cases || []).filter((c) => c.error || c.correct === false);
  const list = h("section", { class: "eval-failures", "aria-labelledby": "eval-failures-title" },
    h("h2", { id: "eval-failures-title" }, `Failures (${failed.length})`));
  if (!failed.length) {
    list.append(h("p", { class: "empty" }, "Every scored case was answered correctly."));
    return list;
  }
  for (const c of failed) {
    list.append(h("article", { class: "card eval-failure" },
      h("h3", {}, c.question),
      h("p", { class: "muted eval-failure-meta" },
        [c.case_id, c.model, c.variant !== "clean" ? c.variant : null, c.kind, c.dimension].filter(Boolean).join(" · ")),
      c.error ? h("p", { class: "notice error" }, `Error: ${c.error}`) : null,
      c.must_refuse ? h("p", {}, h("strong", {}, "Expected: "), "a refusal")
        : c.expect_any && c.expect_any.length ? h("p", {}, h("strong", {}, "Expected any of: "), c.expect_any.join(" | ")) : null,
      c.answer !== null && c.answer !== undefined
        ? h("div", {}, h("strong", {}, "Answer given:"), h("pre", { class: "eval-answer" }, c.answer)) : null));
  }
  return list;
}
