// The chat page's conversation: the message log of an opened chat (GET /chats/{id}/messages)
// or a new chat's suggestions, following the newest answer as it streams, and the Edit and
// Retry actions on the last exchange. A long chat opens on its last page of messages; "Show
// earlier messages" above them reads the page before, as often as asked (`earlier`).

import { ApiError, api } from "../api.js";
import { icon } from "../answer.js";
import { clear, describeError, h } from "../dom.js";
import { loadMarkdown } from "../markdown.js";
import { chatPath, SOURCE_LABELS } from "./sidebar.js";
import { attachVersions, storedMessage } from "./turns.js";

const CHAT_ID = /^[A-Za-z0-9_-]{1,64}$/;
const SUGGESTIONS = [
  "How often must passwords be rotated?",
  "What is the acknowledgement time for a SEV1 incident?",
  "Can I deploy to production on a Friday?",
];

/** The log: `el`, `load` (the chat's messages), `scrollToEnd`, `lastTurns`, `clearActions`,
 * `lastExchangeActions` and `showVersions`. `page` holds `ctx`, `state`, `showTitle`,
 * `heading`, `draftLink`, `sources` (./sources.js), `context` (./context.js) and, once
 * built, `composer` (./composer.js). */
export function messageLog(page) {
  const { ctx, state } = page;
  const log = h("div", {
    class: "chat-log", role: "log", "aria-label": "Conversation", "aria-live": "polite", tabindex: "0",
  });

  async function load() {
    if (!state.chatId) {
      showEmpty();
      return;
    }
    if (!CHAT_ID.test(state.chatId)) {
      showMissing();
      return;
    }
    log.setAttribute("aria-busy", "true");
    log.append(h("p", { class: "chat-loading", role: "status" }, "Loading the conversation…"));
    try {
      const data = await api("GET", `${chatPath(state.chatId)}/messages`);
      // Shown once, as Markdown with its chips, rather than as plain text first.
      if (data.messages.length) await loadMarkdown().catch(() => {});
      clear(log);
      page.showTitle(data.chat.title);
      if (data.chat.source) log.append(importedNote(data.chat));
      log.append(page.context.box(state.chatId, data.summary));
      page.draftLink.href = `#/chat/${encodeURIComponent(state.chatId)}/draft`;
      page.draftLink.hidden = false;
      page.context.attachButton.hidden = false;
      if (data.earlier !== null) log.append(earlierButton(state.chatId, data.earlier));
      for (const message of data.messages) log.append(storedMessage(message, page.sources, scrollToEnd));
      if (!data.messages.length) showEmpty();
      lastExchangeActions();
      scrollToEnd(true);
    } catch (error) {
      clear(log);
      if (error instanceof ApiError && error.status === 404) showMissing();
      else log.append(h("p", { class: "notice error", role: "alert" },
        `This chat could not be loaded: ${describeError(error)}`));
    } finally {
      log.removeAttribute("aria-busy");
    }
  }

  /** "Show earlier messages": each click reads the page before the first one shown, puts it
   * above, and keeps the messages in view where they were; gone once the chat's start is in. */
  function earlierButton(chatId, first) {
    let before = first;
    const status = h("span", { class: "muted", role: "status" });
    const button = h("button", { type: "button", class: "link", onclick: showEarlier }, "Show earlier messages");
    const box = h("p", { class: "chat-earlier" }, button, " ", status);

    async function showEarlier() {
      button.disabled = true;
      status.textContent = "Loading…";
      try {
        const data = await api("GET", `${chatPath(chatId)}/messages?before=${before}`);
        if (state.chatId !== chatId || !box.isConnected) return;
        const fromBottom = log.scrollHeight - log.scrollTop;
        box.after(...data.messages.map((message) => storedMessage(message, page.sources, scrollToEnd)));
        log.scrollTop = log.scrollHeight - fromBottom;
        status.textContent = "";
        if (data.earlier === null) box.remove();
        else before = data.earlier;
      } catch (error) {
        status.textContent = `Earlier messages could not be loaded: ${describeError(error)}`;
      } finally {
        button.disabled = false;
      }
    }
    return box;
  }

  function showEmpty() {
    log.append(h("div", { class: "chat-empty" },
      h("h2", { class: "chat-empty-title" }, "Ask the knowledge base"),
      h("p", { class: "muted" },
        "Answers cite the documents they come from: open a numbered source to read the passage."),
      h("ul", { class: "chat-suggestions", "aria-label": "Example questions" },
        SUGGESTIONS.map((text) => h("li", {}, h("button", {
          type: "button", class: "chat-suggestion", onclick: () => page.composer.send(text),
        }, text))))));
  }

  function showMissing() {
    state.chatId = null;
    page.heading.textContent = "Chat not found";
    ctx.setTitle("Chat not found");
    log.append(h("div", { class: "notice error", role: "alert" },
      "There is no chat of yours at this address. ",
      h("a", { href: "#/chat" }, "Start a new chat")));
    page.composer.hide();
  }

  /** After an answer given again: show what it replaced, as the server kept it. */
  async function showVersions(turnEl) {
    try {
      const data = await api("GET", `${chatPath(state.chatId)}/messages?limit=1`);
      const last = data.messages[data.messages.length - 1];
      if (last?.role === "assistant" && last.previous_versions?.length && turnEl.isConnected) {
        attachVersions(turnEl, last.previous_versions);
      }
    } catch {
      // Not shown now; they are there the next time the chat is opened.
    }
  }

  /** The last question's turn and the answer after it (either may be missing). */
  function lastTurns() {
    const users = log.querySelectorAll(".chat-turn-user");
    const question = users[users.length - 1] || null;
    const answer = question?.nextElementSibling?.classList.contains("chat-turn-assistant")
      ? question.nextElementSibling : null;
    return [question, answer];
  }

  function clearActions() {
    for (const node of log.querySelectorAll(".chat-retry-wrap, .chat-edit-wrap")) node.remove();
  }

  /** Retry on the last answer, Edit on the last question: each replaces that exchange. */
  function lastExchangeActions() {
    clearActions();
    const [question, answer] = lastTurns();
    if (!question || !state.chatId || state.controller) return;
    const text = question.querySelector(".chat-user-text").textContent;
    question.querySelector(".chat-bubble").after(h("div", { class: "chat-edit-wrap" },
      h("button", {
        type: "button", class: "icon chat-copy chat-edit", title: "Edit this question",
        onclick: () => page.composer.startEditing(text),
      }, icon("pencil"), h("span", {}, "Edit"))));
    const meta = answer?.querySelector(".chat-meta");
    if (meta) {
      meta.append(h("span", { class: "chat-retry-wrap" }, h("button", {
        type: "button", class: "icon chat-copy chat-retry", title: "Answer this question again",
        onclick: () => page.composer.send(text, { replace: true }),
      }, icon("retry"), h("span", {}, "Retry"))));
    }
  }

  function scrollToEnd(force = false) {
    if (!force && !state.following) return;
    log.scrollTop = log.scrollHeight;
    // On a phone the log does not scroll itself: the page does, under the sticky composer.
    if (getComputedStyle(log).overflowY !== "visible") return;
    const doc = document.scrollingElement;
    if (doc.scrollHeight > doc.clientHeight) doc.scrollTop = doc.scrollHeight;
  }

  log.addEventListener("scroll", () => {
    state.following = log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  });

  return { el: log, load, scrollToEnd, lastTurns, clearActions, lastExchangeActions, showVersions };
}

// An imported chat (docs/conversation-import.md) says where it came from: a note above its
// messages, linking to the original when it has a web address (and a badge in the list).
function importedNote(chat) {
  const label = SOURCE_LABELS[chat.source] || chat.source;
  const url = /^https?:\/\//i.test(chat.source_url || "") ? chat.source_url : null;
  return h("p", { class: "notice chat-imported", role: "note" }, `Imported from ${label}`,
    url ? [" · ", h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, "original")] : null);
}
