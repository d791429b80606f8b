// Calibration (admins): is the confidence shown with each answer honest? The headline figures,
// the reliability diagram, ECE week by week, the phrase thresholds in force, auto-tuning them
// (a dry run first, then Apply) and refitting the recalibration map. See docs/calibration.md.

import { ApiError, api, objectUrl } from "../api.js";
import { clear, confirmDialog, describeError, field, formatDate, formatPercent, h, notify, plural } from "../dom.js";
import { refusal, scrollBox } from "./data-ui.js";

const WINDOWS = [7, 30, 90, 365];
const SVG_NS = "http://www.w3.org/2000/svg";

const fixed3 = (value) => (value === null || value === undefined ? "—" : value.toFixed(3));

export async function mount(root) {
  const state = { days: 30, imageUrl: null, alive: true };
  const windowSelect = h("select", {},
    WINDOWS.map((days) => h("option", { value: String(days), selected: days === state.days }, `Last ${days} days`)));
  const figures = h("div", { class: "calib-figures" });
  const diagram = h("div", { class: "calib-diagram" });
  const drift = h("div", { class: "calib-drift" });
  const phrases = h("div", { class: "calib-phrases" });
  const tune = tuneCard(() => state.days, () => refreshPhrases());
  const recalibrate = recalibrateCard(() => refreshPhrases());

  root.append(
    h("div", { class: "calib-head" },
      h("div", {},
        h("h1", {}, "Calibration"),
        h("p", { class: "muted" }, "Of the answers given with 80% confidence, about 80% should be right. These figures compare the confidence shown with the askers’ feedback.")),
      h("div", { class: "calib-window" }, field("Window", windowSelect))),
    figures,
    h("div", { class: "calib-charts" },
      h("section", { class: "card", "aria-labelledby": "calib-diagram-title" },
        h("h2", { id: "calib-diagram-title" }, "Reliability diagram"), diagram),
      h("section", { class: "card", "aria-labelledby": "calib-drift-title" },
        h("h2", { id: "calib-drift-title" }, "ECE over time"), drift)),
    h("section", { class: "card calib-section", "aria-labelledby": "calib-phrases-title" },
      h("h2", { id: "calib-phrases-title" }, "Confidence phrases in force"), phrases),
    h("div", { class: "calib-actions" }, tune.el, recalibrate.el));

  windowSelect.addEventListener("change", () => {
    state.days = Number(windowSelect.value);
    refreshFigures().catch((error) => notify(`The figures could not be loaded. ${refusal(error)}`, "error"));
  });

  async function refreshFigures() {
    const days = state.days;
    const [stats, report] = await Promise.all([
      api("GET", `/confidence/stats?days_back=${days}`),
      api("GET", `/confidence/calibration?days_back=${days}`),
    ]);
    if (!state.alive || days !== state.days) return;
    renderFigures(figures, stats, report);
    renderDrift(drift, report);
    await renderDiagram(diagram, state, report);
  }

  async function refreshPhrases() {
    const status = await api("GET", "/confidence/phrase-status");
    if (!state.alive) return;
    renderPhrases(phrases, status);
    recalibrate.show(status.recalibration);
  }

  await Promise.all([refreshFigures(), refreshPhrases()]);
  return () => {
    state.alive = false;
    if (state.imageUrl) URL.revokeObjectURL(state.imageUrl);
  };
}

function stat(label, value, note) {
  return h("div", { class: "card calib-stat" },
    h("div", { class: "stat-label" }, label),
    h("div", { class: "stat" }, value),
    note ? h("div", { class: "calib-stat-note muted" }, note) : null);
}

function renderFigures(box, stats, report) {
  clear(box);
  box.append(h("div", { class: "grid calib-grid" },
    stat("Answers logged", stats.total_responses.toLocaleString(), `${stats.with_feedback.toLocaleString()} with feedback: ${stats.positive} right, ${stats.negative} wrong`),
    stat("Observed accuracy", formatPercent(stats.observed_accuracy), `average confidence shown ${formatPercent(stats.average_confidence)}`),
    stat("Brier score", fixed3(stats.brier_score), "0 is perfect; always saying 50% scores 0.250"),
    stat("ECE, confidence shown", fixed3(report.ece), `raw, before recalibration: ${fixed3(report.raw_ece)}`)));
  const message = stats.message || report.message;
  if (message) box.append(h("p", { class: "notice calib-message" }, message));
}

async function renderDiagram(box, state, report) {
  const url = await objectUrl(`/confidence/reliability-diagram.svg?days_back=${state.days}`);
  if (!state.alive) { URL.revokeObjectURL(url); return; }
  if (state.imageUrl) URL.revokeObjectURL(state.imageUrl);
  state.imageUrl = url;
  const n = report.responses_with_feedback;
  const alt = `Reliability diagram for the last ${state.days} days: observed accuracy against the confidence shown, in ten bands, over ${plural(n, "answer")} with feedback` +
    (report.ece === null ? "." : `; expected calibration error ${fixed3(report.ece)}.`);
  clear(box);
  box.append(
    h("img", { class: "calib-diagram-img", src: url, alt, width: 640, height: 480 }),
    h("p", { class: "hint" }, "Points on the diagonal are honest; below it the answers claimed too much, above it too little."),
    bandsDetails(report.bands));
}

function bandsDetails(bands) {
  const rows = bands.filter((b) => b.responses > 0);
  return h("details", { class: "calib-bands" },
    h("summary", {}, "The bands as a table"),
    rows.length ? scrollBox("Confidence bands", h("table", {},
      h("thead", {}, h("tr", {}, ["Confidence", "Answers", "With feedback", "Mean confidence", "Accuracy", "Honest?"].map((label, i) =>
        h("th", { scope: "col", class: i > 0 && i < 5 ? "num" : null }, label)))),
      h("tbody", {}, rows.map((b) => h("tr", {},
        h("th", { scope: "row" }, b.label),
        h("td", { class: "num" }, String(b.responses)),
        h("td", { class: "num" }, String(b.with_feedback)),
        h("td", { class: "num" }, formatPercent(b.mean_confidence)),
        h("td", { class: "num" }, formatPercent(b.observed_accuracy)),
        h("td", {}, honestBadge(b.is_calibrated)))))))
      : h("p", { class: "empty" }, "No answers in this window."));
}

function honestBadge(calibrated) {
  if (calibrated === null) return h("span", { class: "muted" }, "no feedback");
  return calibrated ? h("span", { class: "badge good" }, "yes") : h("span", { class: "badge bad" }, "no");
}

/** An SVG element with attributes (a chart drawn as DOM nodes: no markup strings). */
function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  for (const child of children) el.append(child);
  return el;
}

function renderDrift(box, report) {
  clear(box);
  const weeks = report.drift.filter((w) => w.ece !== null);
  if (!weeks.length) {
    box.append(h("p", { class: "empty" }, "No week in this window has answers with feedback yet."));
    return;
  }
  box.append(driftChart(weeks), driftTable(report.drift));
}

/** A line of ECE per ISO week (the table under it has the same figures, for reading them out). */
function driftChart(weeks) {
  const width = 560, height = 220, left = 48, right = 16, top = 16, bottom = 36;
  const highest = Math.max(...weeks.map((w) => w.ece));
  const step = highest <= 0.2 ? 0.05 : highest <= 0.5 ? 0.1 : 0.25;
  const top_ = Math.max(step, Math.ceil(highest / step) * step);
  const x = (i) => left + (weeks.length === 1 ? (width - left - right) / 2 : (i * (width - left - right)) / (weeks.length - 1));
  const y = (value) => top + (1 - value / top_) * (height - top - bottom);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "calib-chart", role: "img", "aria-labelledby": "calib-drift-caption" });
  for (let tick = 0; tick <= Math.round(top_ / step); tick++) {
    const value = tick * step;
    chart.append(
      svg("line", { x1: left, x2: width - right, y1: y(value), y2: y(value), class: "calib-grid-line" }),
      svg("text", { x: left - 8, y: y(value) + 4, class: "calib-axis", "text-anchor": "end" }, value.toFixed(2)));
  }
  const points = weeks.map((w, i) => `${x(i)},${y(w.ece)}`).join(" ");
  chart.append(svg("polyline", { points, class: "calib-line" }));
  const every = Math.ceil(weeks.length / 8); // at most eight week labels
  weeks.forEach((w, i) => {
    chart.append(svg("circle", { cx: x(i), cy: y(w.ece), r: 4, class: "calib-point" },
      svg("title", {}, `${w.week}: ECE ${fixed3(w.ece)} over ${plural(w.responses, "answer")}`)));
    if (i % every === 0 || i === weeks.length - 1) {
      chart.append(svg("text", { x: x(i), y: height - 12, class: "calib-axis", "text-anchor": "middle" }, w.week.replace(/^\d{4}-/, "")));
    }
  });
  const first = weeks[0], last = weeks[weeks.length - 1];
  const caption = weeks.length === 1
    ? `Expected calibration error in ${first.week}: ${fixed3(first.ece)}.`
    : `Expected calibration error per week, from ${fixed3(first.ece)} in ${first.week} to ${fixed3(last.ece)} in ${last.week}. Lower is better.`;
  return h("figure", { class: "calib-figure" }, chart, h("figcaption", { id: "calib-drift-caption", class: "hint" }, caption));
}

function driftTable(drift) {
  return scrollBox("ECE per week", h("table", {},
    h("caption", {}, "ECE and Brier score per week"),
    h("thead", {}, h("tr", {}, ["Week", "Answers", "ECE", "Brier score"].map((label, i) => h("th", { scope: "col", class: i ? "num" : null }, label)))),
    h("tbody", {}, drift.map((w) => h("tr", {},
      h("th", { scope: "row" }, w.week),
      h("td", { class: "num" }, String(w.responses)),
      h("td", { class: "num" }, fixed3(w.ece)),
      h("td", { class: "num" }, fixed3(w.brier_score)))))), "calib-drift-table");
}

function renderPhrases(box, status) {
  const t = status.thresholds;
  const who = t.version === 0 ? "the built-in default" : `version ${t.version} (${t.source}${t.author ? `, by ${t.author}` : ""}, ${formatDate(t.created_at)})`;
  clear(box);
  box.append(
    h("p", {}, `In force: ${who}. Each phrase promises that its answers are right at least as often as its lower bound.`),
    scrollBox("Phrase thresholds", h("table", { class: "calib-phrase-table" },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, "Phrase"),
        h("th", { scope: "col" }, "Confidence"),
        h("th", { scope: "col", class: "num" }, "Promise: right at least"))),
      h("tbody", {}, t.ranges.map((range) => h("tr", {},
        h("th", { scope: "row" }, range.phrase),
        h("td", {}, `${formatPercent(range.min)} to ${range.max >= 1 ? "100%" : `under ${formatPercent(range.max)}`}`),
        h("td", { class: "num" }, range.phrase in status.promises ? formatPercent(status.promises[range.phrase]) : "—")))))));
}

/** Auto-tune: a dry run shows the suggestion; Apply stores it (after a confirmation). */
function tuneCard(days, onApplied) {
  const result = h("div", { class: "calib-result", role: "status", "aria-live": "polite" });
  const run = h("button", { type: "button", class: "primary" }, "Suggest thresholds (dry run)");
  run.addEventListener("click", async () => {
    run.disabled = true;
    clear(result).append(h("p", { class: "muted" }, "Working out a suggestion…"));
    try {
      showSuggestion(await api("POST", `/confidence/auto-tune?days_back=${days()}&dry_run=true`));
    } catch (error) {
      clear(result).append(h("p", { class: "notice error" }, refusal(error)));
    } finally {
      run.disabled = false;
    }
  });

  function showSuggestion(tuned) {
    clear(result);
    result.append(h("p", { class: "notice" }, tuned.message));
    if (!tuned.suggested) return;
    const current = tuned.current.thresholds;
    const changed = Object.keys(tuned.suggested).some((phrase) => tuned.suggested[phrase] !== current[phrase]);
    result.append(scrollBox("Suggested thresholds", h("table", {},
      h("caption", {}, "Lower bound of each phrase"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Phrase"), h("th", { scope: "col", class: "num" }, "In force"), h("th", { scope: "col", class: "num" }, "Suggested"))),
      h("tbody", {}, Object.keys(tuned.suggested).map((phrase) => h("tr", { class: tuned.suggested[phrase] !== current[phrase] ? "calib-changed" : null },
        h("th", { scope: "row" }, phrase),
        h("td", { class: "num" }, formatPercent(current[phrase])),
        h("td", { class: "num" }, formatPercent(tuned.suggested[phrase]))))))));
    if (!changed) {
      result.append(h("p", { class: "muted" }, "The suggestion is what is in force already: nothing to apply."));
      return;
    }
    result.append(h("div", { class: "row" }, h("button", { type: "button", class: "primary", onclick: apply }, "Apply these thresholds…")));
  }

  async function apply() {
    const ok = await confirmDialog({
      title: "Apply the suggested thresholds?",
      message: "They become the next version of the phrase thresholds: every new answer is phrased with them. The change is recorded in the audit log.",
      confirm: "Apply",
    });
    if (!ok) return;
    try {
      const tuned = await api("POST", `/confidence/auto-tune?days_back=${days()}&dry_run=false`);
      clear(result).append(h("p", { class: "notice" }, tuned.message));
      notify(tuned.applied ? `Thresholds version ${tuned.current.version} is in force.` : tuned.message, tuned.applied ? "success" : "info");
      await onApplied();
    } catch (error) {
      clear(result).append(h("p", { class: "notice error" }, refusal(error)));
    }
  }

  return {
    el: h("section", { class: "card calib-section", "aria-labelledby": "calib-tune-title" },
      h("h2", { id: "calib-tune-title" }, "Auto-tune the phrases"),
      h("p", { class: "muted" }, "Moves each phrase’s lower bound so that the phrase keeps its promise on the feedback of the window chosen above. A dry run changes nothing."),
      run, result),
  };
}

/** Recalibrate: refit the map from raw confidence to observed accuracy (409 without enough feedback). */
function recalibrateCard(onDone) {
  const summary = h("p", { class: "muted" });
  const result = h("div", { class: "calib-result", role: "status", "aria-live": "polite" });
  const run = h("button", { type: "button" }, "Recalibrate now…");
  run.addEventListener("click", async () => {
    const ok = await confirmDialog({
      title: "Refit the recalibration map?",
      message: "Almanac fits a new map on all the feedback and measures it on held-out answers; it is used for new answers only if it does not make the calibration worse. The fit is recorded in the audit log.",
      confirm: "Recalibrate",
    });
    if (!ok) return;
    run.disabled = true;
    clear(result).append(h("p", { class: "muted" }, "Fitting…"));
    try {
      const fitted = await api("POST", "/confidence/recalibrate");
      const fit = fitted.fit;
      clear(result).append(h("p", { class: "notice" }, fitted.message),
        h("p", { class: "muted" }, `Held-out ECE ${fixed3(fit.ece_before)} before, ${fixed3(fit.ece_after)} after (${fit.method}, ${plural(fit.feedback_used, "answer")} with feedback).`));
      await onDone();
    } catch (error) {
      const text = error instanceof ApiError && error.status === 409
        ? `Not enough feedback yet. ${describeError(error)}` : refusal(error);
      clear(result).append(h("p", { class: "notice warn" }, text));
    } finally {
      run.disabled = false;
    }
  });

  return {
    el: h("section", { class: "card calib-section", "aria-labelledby": "calib-recal-title" },
      h("h2", { id: "calib-recal-title" }, "Recalibration"), summary, run, result),
    show(recal) {
      const active = recal.active
        ? `Map version ${recal.active.version} (${recal.active.method}) is in use: held-out ECE ${fixed3(recal.active.ece_before)} → ${fixed3(recal.active.ece_after)}.`
        : "No recalibration map is in use yet: answers show their raw confidence.";
      const auto = recal.auto ? ` The next automatic fit runs at ${plural(recal.next_fit_at, "answer")} with feedback.` : "";
      summary.textContent = `${active} ${plural(recal.feedback, "answer")} ${recal.feedback === 1 ? "has" : "have"} feedback (${recal.min_feedback} needed for a fit).${auto}`;
    },
  };
}
