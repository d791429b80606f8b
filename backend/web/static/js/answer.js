// Pieces every answer shows, in chat and in advice: the confidence badge, the feedback
// buttons, and the small line icons the chat page draws (SVG made here, no icon font).

import { api, ApiError } from "./api.js";
import { describeError, formatPercent, h } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const THUMB = "M7 10v11H3V10zM7 10l4-8c1.6 0 3 1.2 3 3v4h5.2a2 2 0 0 1 2 2.4l-1.4 7A2 2 0 0 1 17.8 21H7";
const ICONS = {
  "thumb-up": [THUMB],
  "thumb-down": [THUMB],
  send: ["M4 12 20 4l-6 16-2.5-6.5z", "M11.5 13.5 20 4"],
  stop: ["M7 7h10v10H7z"],
  plus: ["M12 5v14M5 12h14"],
  pencil: ["M4 20h4L19 9l-4-4L4 16z", "M13 7l4 4"],
  trash: ["M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13"],
  list: ["M4 6h16M4 12h16M4 18h16"],
  close: ["M6 6l12 12M18 6 6 18"],
  copy: ["M9 9h11v11H9z", "M5 15H4V4h11v1"],
  retry: ["M20 11a8 8 0 1 0-2.3 5.7", "M20 4v7h-7"],
  download: ["M12 4v11", "M7 10l5 5 5-5", "M5 20h14"],
};

/** A decorative line icon (the button or link around it carries the name). */
export function icon(name) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", `chat-icon chat-icon-${name}`);
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  for (const d of ICONS[name]) {
    const path = document.createElementNS(SVG, "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}

/** "high · 73%" as a coloured badge; nothing when the answer has no confidence. */
export function confidenceBadge(confidence, phrase) {
  if (confidence === null || confidence === undefined) return null;
  const tone = confidence >= 0.6 ? "good" : confidence >= 0.4 ? "warn" : "bad";
  return h("span", {
    class: `badge ${tone} chat-confidence`,
    title: "How likely this answer is right, calibrated on earlier feedback",
  }, `Confidence: ${phrase || "—"} · ${formatPercent(confidence)}`);
}

/** The state of a can't-find answer: neutral, not an error and not a low score, with what
 * to try next. */
export function notFoundBadge() {
  return h("span", {
    class: "badge chat-not-found",
    title: "Nothing relevant was found in the knowledge base, so no answer was made up. "
      + "Try other words, or name the document or topic you mean.",
  }, "Not in the documents");
}

/** Thumbs up/down for one logged response: POST /feedback; a second verdict replaces the
 * first (the server says so). Pressing the pressed thumb again, or Undo, withdraws the
 * verdict (DELETE /feedback/{id}). `initial` is the verdict already given (true/false/null). */
export function feedbackButtons(responseId, initial = null) {
  let verdict = initial;
  const status = h("span", { class: "chat-feedback-status", role: "status" });
  const button = (outcome, label) => h("button", {
    type: "button",
    class: "icon chat-thumb",
    "aria-label": label,
    title: label,
    "aria-pressed": String(verdict === outcome),
    onclick: () => give(outcome),
  }, icon(outcome ? "thumb-up" : "thumb-down"));
  const up = button(true, "Good answer");
  const down = button(false, "Wrong answer");
  const undo = h("button", { type: "button", class: "chat-feedback-undo", hidden: true, onclick: () => give(null) }, "Undo");

  function show(outcome) {
    verdict = outcome;
    up.setAttribute("aria-pressed", String(outcome === true));
    down.setAttribute("aria-pressed", String(outcome === false));
    undo.hidden = outcome === null;
    note.hidden = outcome !== false;
  }

  async function give(outcome) {
    if (verdict === outcome) outcome = null; // the pressed thumb again: take it back
    if (outcome === null && verdict === null) return;
    up.disabled = down.disabled = undo.disabled = true;
    status.classList.remove("chat-error-text");
    try {
      if (outcome === null) {
        await api("DELETE", `/feedback/${encodeURIComponent(responseId)}`);
        show(null);
        status.textContent = "Feedback withdrawn.";
        up.focus();
      } else {
        const receipt = await api("POST", "/feedback", { response_id: responseId, outcome });
        show(outcome);
        status.textContent = receipt.result === "replaced" ? "Feedback changed." : "Thanks for the feedback.";
        if (outcome === false) noteInput.focus();
      }
    } catch (error) {
      status.classList.add("chat-error-text");
      status.textContent = `Feedback not saved: ${describeError(error)}`;
    } finally {
      up.disabled = down.disabled = undo.disabled = false;
    }
  }

  // After a thumbs-down: what was wrong, in a sentence (sent as the verdict's notes).
  const noteInput = h("input", { type: "text", maxlength: 2000, autocomplete: "off", "aria-label": "What was wrong? (optional)", placeholder: "What was wrong? (optional)" });
  const note = h("form", { class: "chat-feedback-note", hidden: true },
    noteInput, h("button", { type: "submit" }, "Send"));
  note.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = noteInput.value.trim();
    if (!text) return;
    try {
      await api("POST", "/feedback", { response_id: responseId, outcome: false, feedback_notes: text });
      note.hidden = true;
      status.textContent = "Thanks: what was wrong is noted.";
    } catch (error) {
      status.classList.add("chat-error-text");
      status.textContent = `Note not saved: ${describeError(error)}`;
    }
  });

  undo.hidden = verdict === null;
  return h("div", { class: "chat-feedback", role: "group", "aria-label": "Was this answer right?" },
    up, down, status, undo, note);
}

/**
 * A button that copies `text()` (read when pressed) to the clipboard and says so, in its
 * label for a moment and in a status line for screen readers. `label` names what it copies.
 */
export function copyButton(text, label = "Copy", className = "chat-copy") {
  const status = h("span", { class: "chat-sr-only", role: "status" });
  const caption = h("span", {}, label);
  let reset = null;
  const button = h("button", {
    type: "button",
    class: `icon ${className}`,
    title: label,
    onclick: async () => {
      let said;
      try {
        await navigator.clipboard.writeText(text());
        said = "Copied";
      } catch {
        said = "Copy failed";
      }
      caption.textContent = status.textContent = said;
      clearTimeout(reset);
      reset = setTimeout(() => { caption.textContent = label; status.textContent = ""; }, 2000);
    },
  }, icon("copy"), caption);
  return h("span", { class: `${className}-wrap` }, button, status);
}

/** The element's code blocks, each with a button copying its text. */
export function withCodeCopy(element) {
  for (const pre of element.querySelectorAll("pre")) {
    if (pre.parentElement?.classList.contains("chat-code")) continue;
    const box = h("div", { class: "chat-code" });
    pre.replaceWith(box);
    box.append(copyButton(() => pre.textContent, "Copy code", "chat-code-copy"), pre);
  }
  return element;
}

/** A problem answered before a stream began, as one sentence for a person. */
export function describeStreamError(error) {
  if (error instanceof ApiError && error.status === 429) {
    const wait = Number(error.retryAfter);
    return Number.isFinite(wait) && wait > 0
      ? `Too many requests just now. Try again in ${wait} second${wait === 1 ? "" : "s"}.`
      : "Too many requests just now. Try again in a moment.";
  }
  return describeError(error);
}

/**
 * A modal dialog with a title, a close button and a scrolling body (the cited passage, a
 * document, a table's rows): Esc, the button or a click outside closes it, and focus goes
 * back to what opened it. `show(from)` opens it; fill `title` and `body` around that.
 */
export function panelDialog(id, className) {
  const title = h("h2", { id, class: "chat-dialog-title" });
  const body = h("div", { class: "chat-dialog-body" });
  const close = h("button", { type: "button", class: "icon chat-dialog-close", "aria-label": "Close" }, icon("close"));
  const el = h("dialog", { class: `chat-dialog ${className}`, "aria-labelledby": id },
    h("div", { class: "chat-dialog-head" }, title, close), body);
  let opener = null;
  close.addEventListener("click", () => el.close());
  el.addEventListener("close", () => { if (opener && opener.isConnected) opener.focus(); });
  el.addEventListener("click", (event) => { if (event.target === el) el.close(); });
  return {
    el, title, body,
    show(from) {
      opener = from;
      el.showModal();
    },
  };
}

// --- what an answer quotes from a source ---------------------------------------------------

const MARKERS = /((?:\s*\[\d+(?:\s*,\s*\d+)*\])+)/;

/** The sentences of an answer (Markdown, its Sources list left out) that cite source
 * `number` with a [n] marker: what the citation dialog highlights in the passage. */
export function quotedSentences(answer, number) {
  const body = answer.split(/\n\s*\*\*Sources\*\*/)[0];
  const quoted = [];
  // Each marker closes the text since the previous marker or sentence end.
  const pieces = body.split(MARKERS);
  for (let i = 1; i < pieces.length; i += 2) {
    const numbers = [...pieces[i].matchAll(/\d+/g)].map((m) => Number(m[0]));
    if (!numbers.includes(number)) continue;
    const before = pieces[i - 1].split(/(?<=[.!?])\s+|\n+/).filter((s) => s.trim()).pop();
    if (before && words(before).length >= 3) quoted.push(before.trim());
  }
  return quoted;
}

function words(text) {
  return text.toLowerCase().match(/[\p{L}\p{N}]{2,}/gu) || [];
}

/** Marks (class `quoted`) the block of `container` (a paragraph, list item, table row, term
 * or description) that best holds each sentence — at least `share` of its words — and
 * returns the first marked block, or null: the passage is rendered from the document's
 * Markdown and the answer quotes it cleaned, so blocks are matched by words, not text. */
export function markQuoted(container, sentences, share = 0.6) {
  const blocks = [...container.querySelectorAll("p, li, tr, dt, dd, blockquote, h1, h2, h3, h4, h5, h6")]
    .filter((block) => !block.querySelector("p, li, tr"));
  const marked = [];
  for (const sentence of sentences) {
    const wanted = new Set(words(sentence.replace(/`/g, "")));
    if (!wanted.size) continue;
    let best = null;
    let bestShare = share;
    for (const block of blocks) {
      const held = new Set(words(block.textContent));
      const hits = [...wanted].filter((w) => held.has(w)).length / wanted.size;
      if (hits >= bestShare) { best = block; bestShare = hits; }
    }
    if (best && !marked.includes(best)) {
      best.classList.add("quoted");
      marked.push(best);
    }
  }
  return marked[0] || null;
}

