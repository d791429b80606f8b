// The advice page (#/advice, #/advice/ID): a list of the reader's advice threads, kept on the
// server, and one thread: a question in, a card out, filled in as POST /advice streams.
// The stream's unnamed events add up to one StructuredAdvice (docs/advice.md): the text of
// `main_advice` grows first, then the last piece brings every other field, then an `end`
// event with empty data (`advice.fallback` says whether it is the stand-in advice). Each
// request names its thread (`thread_id`): the server keeps the advice and sends the thread's
// earlier questions and advice to the model. A new thread's id is chosen here, and the address
// becomes #/advice/ID once its first advice is kept.

import { api, ApiError, request } from "./api.js";
import { confidenceBadge, describeStreamError, feedbackButtons, icon } from "./answer.js";
import { dayGroup } from "./chat.js";
import { append, clear, confirmDialog, describeError, h, newId, notify } from "./dom.js";
import { loadMarkdown, markdownReady, renderMarkdown } from "./markdown.js";
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
  const state = {
    threadId: ctx.params.threadId || null, // null until the first advice of a new thread
    threads: [],
  };
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
  const form = h("form", { class: "card advice-form", "aria-label": "Ask for advice" },
    h("div", { class: "field" },
      h("label", { for: "advice-input" }, "Your question"),
      input,
      h("p", { class: "hint" }, "Enter asks, Shift+Enter starts a new line. Follow-up questions keep this thread's earlier advice in mind.")),
    h("div", { class: "row" }, askButton, stopButton));
  const list = h("div", { class: "chat-list-groups" });
  const listStatus = h("p", { class: "chat-list-status muted", role: "status" }, "Loading your advice threads…");
  const threadsPanel = h("nav", { class: "advice-threads", "aria-labelledby": "advice-threads-title" },
    h("a", { class: "button primary chat-new", href: "#/advice" }, icon("plus"), "New thread"),
    h("h2", { id: "advice-threads-title", class: "chat-list-title" }, "Your advice threads"),
    listStatus,
    list);

  root.append(h("div", { class: "advice-layout" },
    threadsPanel,
    h("div", { class: "advice-page" },
      h("h1", {}, "Advice"),
      h("p", { class: "muted advice-intro" },
        "Ask for a decision. The advice comes as a card: the verdict, why, the alternatives, the sources it rests on, and how confident it is. Each thread is kept: reopen it from the list."),
      cards,
      form)));

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

  // --- the thread list -------------------------------------------------------------------

  async function loadThreads() {
    try {
      state.threads = await api("GET", "/advice/threads?limit=100");
    } catch (error) {
      listStatus.hidden = false;
      listStatus.classList.add("chat-error-text");
      listStatus.textContent = `Your advice threads could not be loaded: ${describeError(error)}`;
      return;
    }
    renderThreads();
  }

  function renderThreads() {
    clear(list);
    listStatus.classList.remove("chat-error-text");
    listStatus.hidden = state.threads.length > 0;
    listStatus.textContent = "No advice threads yet. Ask a question to start one.";
    let group = null;
    for (const thread of state.threads) { // most recently active first, grouped by day
      const name = dayGroup(thread.updated_at);
      if (!group || group.name !== name) {
        const id = `advice-group-${list.childElementCount}`;
        group = { name, items: h("ul", { class: "chat-list", "aria-labelledby": id }) };
        list.append(h("h3", { id, class: "chat-list-group" }, name), group.items);
      }
      const current = thread.id === state.threadId;
      group.items.append(h("li", { class: current ? "chat-list-item current" : "chat-list-item" },
        h("a", {
          class: "chat-list-link", href: `#/advice/${encodeURIComponent(thread.id)}`,
          "aria-current": current ? "page" : null, title: thread.title,
        }, thread.title),
        h("button", {
          type: "button", class: "icon chat-list-action", "aria-label": `Delete “${thread.title}”`,
          title: "Delete", onclick: () => remove(thread),
        }, icon("trash"))));
    }
  }

  async function remove(thread) {
    const confirmed = await confirmDialog({
      title: "Delete this advice thread?", confirm: "Delete", danger: true,
      message: `“${thread.title}” and all its advice will be deleted. This cannot be undone.`,
    });
    if (!confirmed) return;
    try {
      await api("DELETE", threadPath(thread.id));
    } catch (error) {
      notify(`The thread was not deleted: ${describeError(error)}`, "error");
      return;
    }
    notify("Advice thread deleted.", "success");
    if (thread.id === state.threadId) ctx.navigate("#/advice");
    else {
      state.threads = state.threads.filter((t) => t.id !== thread.id);
      renderThreads();
    }
  }

  // --- one thread --------------------------------------------------------------------------

  async function openThread(threadId) {
    let transcript;
    try {
      transcript = await api("GET", threadPath(threadId));
    } catch (error) {
      state.threadId = null;
      const missing = error instanceof ApiError && error.status === 404;
      cards.append(h("p", { class: `notice ${missing ? "" : "error"}`, role: "alert" },
        missing ? "This advice thread does not exist (it may have been deleted). " : `The thread could not be loaded: ${describeError(error)} `,
        h("a", { href: "#/advice" }, "Start a new thread")));
      return;
    }
    ctx.setTitle(transcript.thread.title);
    for (const entry of transcript.entries) {
      const card = adviceCard(entry.question, ++counter);
      cards.append(card.el);
      card.complete(entry.advice, entry.advice.fallback === true, entry.feedback ?? null);
    }
    cards.lastElementChild?.scrollIntoView({ block: "nearest" });
  }

  async function ask(raw) {
    const question = raw.trim();
    if (!question || controller) return;
    const fresh = !state.threadId;
    const threadId = state.threadId || newId("a");
    const card = adviceCard(question, ++counter);
    cards.append(card.el); // oldest first: the newest advice comes last, above the question field
    card.el.scrollIntoView({ block: "nearest" });
    input.value = "";
    controller = new AbortController();
    askButton.hidden = true;
    stopButton.hidden = false;
    input.focus();
    try {
      const response = await request("/advice", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify({ conversation: [{ role: "user", content: question }], thread_id: threadId }),
        signal: controller.signal,
      });
      const advice = await readAdvice(response, card);
      if (advice && fresh && form.isConnected) {
        // The thread exists now: give it its address without remounting the page.
        state.threadId = threadId;
        history.replaceState(null, "", `#/advice/${encodeURIComponent(threadId)}`);
      }
      if (advice && form.isConnected) loadThreads();
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

  loadThreads();
  if (state.threadId) await openThread(state.threadId);
  return () => controller && controller.abort();
}

function threadPath(id) {
  return `/advice/threads/${encodeURIComponent(id)}`;
}

/** The advice as one line of plain text: no citation markers, emphasis or line breaks. */
function plainText(text) {
  return (text || "").replace(/\s*\[\d+(?:\s*,\s*\d+)*\]/g, "").replace(/[*_`]/g, "").replace(/\s+/g, " ").trim();
}

/** The advice's headline: its first sentence, without citation markers or emphasis. */
export function verdictOf(text) {
  const flat = plainText(text);
  const end = flat.search(/[.!?](\s|$)/);
  const sentence = end >= 0 ? flat.slice(0, end + 1) : flat;
  return sentence.length > 200 ? `${sentence.slice(0, 199).trimEnd()}…` : sentence;
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
  const verdict = h("p", { class: "advice-verdict", hidden: true });
  const main = h("div", { class: "advice-main md" }, h("p", { class: "muted", role: "status" }, "Thinking…"));
  const details = h("div", { class: "advice-details" });
  const notes = h("div", { class: "advice-notes" });
  const foot = h("div", { class: "advice-foot" });
  const el = h("article", { class: "card advice-card", "aria-labelledby": titleId, "aria-busy": "true" },
    h("div", { class: "advice-head" },
      h("h2", { id: titleId, class: "advice-question" }, question),
      badge),
    verdict,
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
    complete(advice, fallback, feedback = null) {
      sourceItems = new Map(advice.sources.map((src) => [src.n, h("li", {
        value: src.n, tabindex: "-1", dataset: { name: src.document },
      },
      h("span", { class: "advice-source-name" }, src.document),
      src.section ? `, ${src.section}` : "",
      src.date ? h("span", { class: "muted" }, ` (${src.date})`) : "")]));
      clear(main);
      main.append(render(advice.main_advice));
      // The headline verdict, unless the advice is that one sentence.
      const headline = fallback ? "" : verdictOf(advice.main_advice);
      verdict.hidden = !headline || headline.length >= plainText(advice.main_advice).length - 1;
      clear(verdict);
      if (!verdict.hidden) verdict.append(h("span", { class: "advice-verdict-label" }, "Verdict"), " ", headline);
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
        advice.response_id && !fallback ? feedbackButtons(advice.response_id, feedback) : null]);
      // Busy until the advice shows as Markdown with its chips: the first card may render
      // before markdown-it has arrived, and its text is swapped in when it does.
      if (markdownReady()) el.removeAttribute("aria-busy");
      else loadMarkdown().catch(() => {}).finally(() => el.removeAttribute("aria-busy"));
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
