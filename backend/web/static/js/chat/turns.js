// The chat's messages: a question's turn, an answer's turn (its tool activity, text, sources,
// confidence, feedback and status, streamed or stored) and the answers an answer replaced.

import {
  confidenceBadge, copyButton, feedbackButtons, notFoundBadge, withCodeCopy,
} from "../answer.js";
import { append, clear, formatDate, h, plural } from "../dom.js";
import { loadMarkdown, markdownReady, renderMarkdown } from "../markdown.js";

const SOURCES_BLOCK = /(^|\n)\*\*Sources\*\*[ \t]*(\n[\s\S]*)?$/;
const TOOL_LABELS = {
  search_knowledge_base: ["Searching the knowledge base…", "Searched the knowledge base"],
  lookup_structured_data: ["Looking it up in the tables…", "Looked it up in the tables"],
};

export function userTurn(text) {
  return h("div", { class: "chat-turn chat-turn-user" },
    h("div", { class: "chat-bubble" },
      h("span", { class: "chat-sr-only" }, "You: "),
      h("p", { class: "chat-user-text" }, text)));
}

/** A stored message (GET /chats/{id}/messages) as its turn. */
export function storedMessage(message, sources, scrollToEnd) {
  if (message.role === "user") return userTurn(message.content);
  const turn = assistantTurn(sources, scrollToEnd);
  for (const call of message.tool_calls || []) turn.tool(call.id, call.name, call.args, true);
  turn.setText(message.content);
  if (message.status === "interrupted") turn.stopped();
  else if (message.status === "failed") turn.fail("This answer failed before it was complete.");
  else if (message.status === "streaming") turn.note("This answer is still being written. Reload to see it.");
  turn.finish(message, message.feedback);
  if (message.previous_versions?.length) attachVersions(turn.el, message.previous_versions);
  return turn.el;
}

/** The answers an answer replaced (Retry, an edited question), under a disclosure. */
export function attachVersions(turnEl, versions) {
  turnEl.querySelector(".chat-versions")?.remove();
  const question = turnEl.previousElementSibling?.querySelector(".chat-user-text")?.textContent;
  const plainCite = (keys, label) => h("span", { class: "advice-ref" }, label);
  turnEl.querySelector(".chat-bubble").append(h("details", { class: "chat-versions" },
    h("summary", {}, `Previous ${plural(versions.length, "answer")}`),
    h("ol", { class: "chat-version-list", reversed: true },
      [...versions].reverse().map((version) => h("li", { class: "chat-version-item" },
        h("p", { class: "chat-version-when muted" }, `Answered ${formatDate(version.created_at, true)}`,
          version.question && version.question !== question ? ` to “${version.question}”` : "",
          version.status === "interrupted" ? " (stopped)" : ""),
        h("div", { class: "md" }, renderMarkdown(version.content, { cite: plainCite })))))));
}

/** One answer: tool activity, the text, its sources, confidence, feedback and status.
 * `sources` is the page's citations (./sources.js); `scrollToEnd` follows the text. */
export function assistantTurn({ citeNode, showSources }, scrollToEnd) {
  let text = "";
  let sources = null; // null until the answer's data part arrives
  let scheduled = false;
  const tools = h("ul", { class: "chat-tools", hidden: true });
  const toolItems = new Map();
  const answer = h("div", { class: "chat-answer md" });
  const sourceBox = h("div", { class: "chat-sources", hidden: true });
  const meta = h("div", { class: "chat-meta" });
  const notes = h("div", { class: "chat-notes" });
  const thinking = h("p", { class: "chat-thinking", role: "status" }, "Thinking…");
  const el = h("article", { class: "chat-turn chat-turn-assistant", "aria-label": "Answer" },
    h("div", { class: "chat-bubble" },
      h("span", { class: "chat-sr-only" }, "Almanac: "),
      tools, thinking, answer, notes, sourceBox, meta));

  function render() {
    scheduled = false;
    const cited = sources || [];
    const split = text.match(SOURCES_BLOCK);
    // The answer's own "Sources" list is replaced by the chips, once they are known.
    const shown = split && (sources === null || cited.length) ? text.slice(0, split.index) : text;
    clear(answer);
    answer.append(renderMarkdown(shown, { cite: (keys, label) => citeNode(keys, label, cited, () => text) }));
    withCodeCopy(answer);
    if (!markdownReady()) loadMarkdown().then(schedule); // again, with the code's copy buttons
    thinking.hidden = Boolean(text) || sources !== null;
    scrollToEnd();
  }

  /** The turn is done: it stops being busy once its text is shown as Markdown, with its
   * citation chips (markdown-it may still be on its way for the first answer). */
  function settle() {
    const done = () => el.removeAttribute("aria-busy");
    if (markdownReady()) return done();
    loadMarkdown().then(render, () => {}).finally(done); // not loaded: the text stays as written
  }

  function schedule() {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(render);
  }

  return {
    el,
    addText(delta) { text += delta; schedule(); },
    newPart() { if (text && !text.endsWith("\n")) text += "\n\n"; },
    setText(value) { text = value || ""; render(); },
    tool(id, name, args, done = false) {
      const labels = TOOL_LABELS[name] || [`Using ${name}…`, `Used ${name}`];
      const query = args && (args.query || args.sql_query);
      const item = h("li", { class: "chat-tool" }, done ? labels[1] : labels[0],
        query && name === "search_knowledge_base" ? h("span", { class: "chat-tool-query" }, ` “${query}”`) : null);
      item.dataset.done = labels[1];
      toolItems.set(id, item);
      tools.append(item);
      tools.hidden = false;
    },
    toolDone(id, failed = false) {
      const item = toolItems.get(id);
      if (!item) return;
      item.firstChild.textContent = failed ? `${item.dataset.done} (failed)` : item.dataset.done;
    },
    finish(data, feedback = null) {
      // The stored answer: a draft the server sent back to the model may have streamed.
      if (typeof data.answer === "string") text = data.answer;
      sources = data.sources || [];
      render();
      showSources(sourceBox, sources, () => text);
      clear(meta);
      append(meta, [
        data.not_found ? notFoundBadge() : confidenceBadge(data.confidence, data.confidence_phrase),
        data.response_id ? feedbackButtons(data.response_id, feedback) : null,
        // The answer as stored, in Markdown: its [n] markers and its Sources list.
        copyButton(() => text, "Copy"),
        data.model ? h("span", { class: "chat-model muted" }, data.model) : null]);
      settle();
    },
    stopped() {
      sources = sources || [];
      render();
      notes.append(h("span", { class: "badge warn chat-status" }, "Stopped"),
        h("span", { class: "muted" }, " The answer was stopped; what was written so far is kept."));
      settle();
    },
    fail(message) {
      sources = sources || [];
      render();
      notes.append(h("p", { class: "notice error chat-error", role: "alert" }, message));
      settle();
    },
    note(message) {
      notes.append(h("p", { class: "muted" }, message));
    },
    flush() { if (scheduled) render(); },
  };
}
