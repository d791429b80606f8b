// The advice page (#/advice): a question in, a card out, filled in as POST /advice streams.
// The stream's unnamed events add up to one StructuredAdvice (docs/advice.md): the text of
// `main_advice` grows first, then the last piece brings every other field, then an `end`
// event with empty data (`advice.fallback` says whether it is the stand-in advice). Earlier
// questions and advice go along as the conversation.

import { request } from "./api.js";
import { confidenceBadge, describeStreamError, feedbackButtons, icon } from "./answer.js";
import { append, clear, h } from "./dom.js";
import { renderMarkdown } from "./markdown.js";
import { readEvents } from "./sse.js";

const OPENING = '{"main_advice":"';
const DECISIONS = {
  MANDATORY: "searched (required for this question)",
  DISALLOWED: "no search (not allowed for this question)",
  USER_OVERRIDE_YES: "searched (asked for)",
  USER_OVERRIDE_NO: "no search (asked for)",
  DEFAULT_YES: "searched",
  DEFAULT_NO: "no search needed",
};

export async function mount(root, ctx) {
  ctx.setTitle("Advice");
  const conversation = []; // {role, content}: what the next request sends before its question
  let controller = null;
  let counter = 0;

  const cards = h("div", { class: "advice-cards", role: "log", "aria-label": "Advice given" });
  const input = h("textarea", {
    id: "advice-input", class: "advice-input", rows: "3",
    placeholder: ctx.session?.advice_placeholder || "",
  });
  const askButton = h("button", { type: "submit", class: "primary" }, icon("send"), "Get advice");
  const stopButton = h("button", { type: "button", hidden: true, onclick: () => controller && controller.abort() },
    icon("stop"), "Stop");
  const resetButton = h("button", { type: "button", class: "link", hidden: true, onclick: reset }, "Start over");
  const form = h("form", { class: "card advice-form", "aria-label": "Ask for advice" },
    h("div", { class: "field" },
      h("label", { for: "advice-input" }, "Your question"),
      input,
      h("p", { class: "hint" }, "Enter asks, Shift+Enter starts a new line. Follow-up questions keep the earlier advice in mind.")),
    h("div", { class: "row" }, askButton, stopButton, resetButton));

  root.append(h("div", { class: "advice-page" },
    h("h1", {}, "Advice"),
    h("p", { class: "muted advice-intro" },
      "Ask for a decision. The advice comes as a card: what to do, why, the alternatives, the sources it rests on, and how confident it is."),
    form,
    cards));

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    ask(input.value);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      ask(input.value);
    }
  });

  function reset() {
    conversation.length = 0;
    clear(cards);
    resetButton.hidden = true;
    input.focus();
  }

  async function ask(raw) {
    const question = raw.trim();
    if (!question || controller) return;
    const card = adviceCard(question, ++counter);
    cards.prepend(card.el); // the newest advice first, right under the question field
    input.value = "";
    controller = new AbortController();
    askButton.hidden = true;
    stopButton.hidden = false;
    input.focus();
    try {
      const response = await request("/advice", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify({ conversation: [...conversation, { role: "user", content: question }] }),
        signal: controller.signal,
      });
      const advice = await readAdvice(response, card);
      if (advice) {
        conversation.push({ role: "user", content: question }, { role: "assistant", content: advice.main_advice });
        resetButton.hidden = false;
      }
    } catch (error) {
      if (error.name === "AbortError") card.stopped();
      else {
        card.fail(describeStreamError(error));
        input.value = question;
      }
    } finally {
      controller = null;
      askButton.hidden = false;
      stopButton.hidden = true;
      if (form.isConnected) input.focus();
    }
  }

  return () => controller && controller.abort();
}

/** Read the advice stream into the card; the parsed StructuredAdvice, or null. */
async function readAdvice(response, card) {
  let buffer = "";
  let ended = false;
  // Read on to the end of the body even after `end`: leaving early cancels the response,
  // which the browser reports as a failed request (net::ERR_ABORTED).
  for await (const { event, data } of readEvents(response)) {
    if (ended) continue;
    if (event === "end") ended = true;
    else {
      buffer += data;
      const text = growingText(buffer);
      if (text !== null) card.grow(text);
    }
  }
  if (!ended) {
    card.fail("The advice stream ended early. Try again.");
    return null;
  }
  let advice;
  try {
    advice = JSON.parse(buffer);
  } catch {
    card.fail("The advice arrived garbled. Try again.");
    return null;
  }
  card.complete(advice, advice.fallback === true);
  return advice;
}

/** The main advice so far: the pieces after the opening are JSON-escaped text. */
function growingText(buffer) {
  if (!buffer.startsWith(OPENING)) return null;
  try {
    return JSON.parse(`"${buffer.slice(OPENING.length)}"`);
  } catch {
    return null; // the last piece (the rest of the object) is parsed at the end
  }
}

function adviceCard(question, number) {
  const titleId = `advice-q-${number}`;
  const badge = h("span", { class: "advice-badge" });
  const main = h("div", { class: "advice-main md" }, h("p", { class: "muted", role: "status" }, "Thinking…"));
  const details = h("div", { class: "advice-details" });
  const notes = h("div", { class: "advice-notes" });
  const foot = h("div", { class: "advice-foot" });
  const el = h("article", { class: "card advice-card", "aria-labelledby": titleId, "aria-busy": "true" },
    h("div", { class: "advice-head" },
      h("h2", { id: titleId, class: "advice-question" }, question),
      badge),
    h("section", { class: "advice-section", "aria-label": "Advice" },
      h("h3", { class: "advice-label" }, "Advice"), main),
    notes,
    details,
    foot);

  // A [n] is a chip that takes the reader to source n of this card's list (highlighted),
  // once the sources are known; while the advice streams it is plain text.
  let sourceItems = new Map(); // n -> the <li> of the Sources list
  const cite = (keys, label) => {
    const items = keys.map((key) => sourceItems.get(key));
    if (!items.length || items.some((item) => !item)) return h("span", { class: "advice-ref" }, label);
    const fragment = document.createDocumentFragment();
    keys.forEach((key, i) => fragment.append(h("button", {
      type: "button", class: "chat-cite",
      "aria-label": `Source ${key}: ${items[i].dataset.name}`, title: items[i].dataset.name,
      onclick: () => showSource(items[i]),
    }, String(key))));
    return fragment;
  };
  const render = (text) => renderMarkdown(text, { cite });

  function showSource(item) {
    for (const other of sourceItems.values()) other.classList.remove("advice-source-shown");
    item.classList.add("advice-source-shown");
    item.scrollIntoView({ block: "nearest" });
    item.focus({ preventScroll: true });
  }

  return {
    el,
    grow(text) {
      clear(main);
      main.append(render(text || "…"));
    },
    complete(advice, fallback) {
      sourceItems = new Map(advice.sources.map((src) => [src.n, h("li", {
        value: src.n, tabindex: "-1", dataset: { name: src.document },
      },
      h("span", { class: "advice-source-name" }, src.document),
      src.section ? `, ${src.section}` : "",
      src.date ? h("span", { class: "muted" }, ` (${src.date})`) : "")]));
      clear(main);
      main.append(render(advice.main_advice));
      clear(badge);
      append(badge, confidenceBadge(advice.confidence_score, advice.confidence_phrase));
      if (fallback) notes.append(h("p", { class: "notice warn" }, "This is the stand-in advice: the model's answer could not be used."));
      clear(details);
      append(details, [
        advice.reasoning ? section("Reasoning", h("div", { class: "md" }, render(advice.reasoning))) : null,
        advice.alternatives.length ? section("Alternatives", h("ul", { class: "advice-alternatives" },
          advice.alternatives.map((alt) => h("li", {}, h("strong", {}, alt.option), alt.reason ? ` — ${alt.reason}` : "")))) : null,
        advice.sources.length ? section("Sources", h("ol", { class: "advice-sources" },
          [...sourceItems.values()])) : null]);
      clear(foot);
      append(foot, [
        h("span", { class: "muted" }, `Model ${advice.model_identifier} · ${DECISIONS[advice.search_decision] || advice.search_decision}`),
        advice.response_id && !fallback ? feedbackButtons(advice.response_id) : null]);
      el.removeAttribute("aria-busy");
    },
    stopped() {
      notes.append(h("p", {}, h("span", { class: "badge warn" }, "Stopped"), h("span", { class: "muted" }, " The advice was stopped before it was complete.")));
      el.removeAttribute("aria-busy");
    },
    fail(message) {
      clear(main);
      main.append(h("p", { class: "notice error", role: "alert" }, message));
      el.removeAttribute("aria-busy");
    },
  };
}

function section(title, body) {
  return h("section", { class: "advice-section", "aria-label": title }, h("h3", { class: "advice-label" }, title), body);
}
