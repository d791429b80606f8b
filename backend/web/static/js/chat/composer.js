// The chat page's composer: the question box (Enter sends, Shift+Enter starts a line, Esc
// stops an answer or ends an edit), Send and Stop, and sending: POST /api/chat, read as the
// UI message stream (../sse.js) into the answer's turn. A new chat's id is chosen here, as
// useChat does, and the address becomes #/chat/ID once the chat exists.

import { request } from "../api.js";
import { describeStreamError, icon } from "../answer.js";
import { clear, h, newId } from "../dom.js";
import { readEvents } from "../sse.js";
import { assistantTurn, userTurn } from "./turns.js";

/** The composer: `el`, `send`, `startEditing`, `stop` and `hide`. `page` holds `ctx`,
 * `state`, `el`, `heading`, `showTitle`, `sources`, `models`, `sidebar` and `conversation`. */
export function chatComposer(page) {
  const { ctx, state } = page;
  const input = h("textarea", {
    id: "chat-input", class: "chat-input", rows: "1", maxlength: "8000", autocomplete: "off",
    placeholder: ctx.session?.chat_placeholder || "",
  });
  const sendButton = h("button", { type: "submit", class: "primary chat-send" }, icon("send"), "Send");
  const stopButton = h("button", { type: "button", class: "chat-stop", hidden: true }, icon("stop"), "Stop");
  const composer = h("form", { class: "chat-composer", "aria-label": "Ask a question" },
    h("label", { for: "chat-input", class: "chat-sr-only" }, "Your question"),
    input, sendButton, stopButton);
  const hint = h("p", { class: "chat-hint" }, "Enter sends · Shift+Enter starts a new line · Esc stops an answer");
  const editNote = h("p", { class: "notice chat-edit-note", role: "status", hidden: true },
    "Editing your last question: sending it replaces that question and its answer. Esc cancels.");
  const el = h("div", { class: "chat-composer-wrap" }, editNote, composer, hint);

  async function send(raw, { replace = state.editing } = {}) {
    const text = raw.trim();
    if (!text || state.controller) return;
    const { conversation } = page;
    const log = conversation.el;
    replace = replace && Boolean(state.chatId);
    endEditing();
    const isNew = !state.chatId;
    const chatId = state.chatId || newId("c");
    const empty = log.querySelector(".chat-empty");
    if (empty) empty.remove();
    if (replace) { // the last question and its answer give way to the new exchange
      for (const turn of conversation.lastTurns()) turn?.remove();
    }
    conversation.clearActions();
    log.append(userTurn(text));
    const turn = assistantTurn(page.sources, conversation.scrollToEnd);
    turn.el.setAttribute("aria-busy", "true");
    log.append(turn.el);
    input.value = "";
    fitInput();
    state.following = true;
    conversation.scrollToEnd(true);
    const controller = new AbortController();
    let answering = false;
    let refused = false;
    state.controller = controller;
    setStreaming(true);
    try {
      const response = await request("/api/chat", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify({
          // regenerate-message: answer this question in place of the chat's last exchange
          // (a retry, or the last question edited).
          trigger: replace ? "regenerate-message" : "submit-message",
          id: chatId,
          ...(replace ? { messageId: newId("m") } : {}),
          messages: [{ id: newId("m"), role: "user", parts: [{ type: "text", text }] }],
          ...page.models.choice(),
        }),
        signal: controller.signal,
      });
      answering = true;
      if (isNew) started(chatId, text);
      await readAnswer(response, turn);
    } catch (error) {
      if (error.name === "AbortError") turn.stopped();
      else {
        turn.fail(describeStreamError(error));
        if (!answering && !input.value) input.value = text; // refused, nothing stored: ask again
        refused = !answering;
      }
    } finally {
      turn.flush();
      if (state.controller === controller) state.controller = null;
      setStreaming(false);
      if (page.el.isConnected) page.sidebar.loadChats();
    }
    // A refused retry stored nothing and kept the old exchange: show what the server holds.
    if (refused && replace && page.el.isConnected) {
      clear(log);
      await conversation.load();
    } else {
      conversation.lastExchangeActions();
      if (replace && answering && page.el.isConnected) await conversation.showVersions(turn.el);
    }
  }

  function startEditing(text) {
    state.editing = true;
    input.value = text;
    fitInput();
    editNote.hidden = false;
    input.focus();
    input.setSelectionRange(text.length, text.length);
  }

  function endEditing() {
    state.editing = false;
    editNote.hidden = true;
  }

  /** The chat exists now: give it its address without remounting the page. */
  function started(chatId, text) {
    state.chatId = chatId;
    history.replaceState(null, "", `#/chat/${encodeURIComponent(chatId)}`);
    page.showTitle(text.length > 80 ? `${text.slice(0, 79)}…` : text);
    state.chats.unshift({ id: chatId, title: page.heading.textContent });
    page.sidebar.renderChats();
  }

  function stop() {
    if (state.controller) state.controller.abort();
  }

  function setStreaming(streaming) {
    sendButton.hidden = streaming;
    stopButton.hidden = !streaming;
    if (page.el.isConnected) input.focus(); // the reader may write the next question meanwhile
  }

  function fitInput() {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight + 2, 220)}px`;
  }

  /** No chat to write in (an address that is none of the reader's). */
  function hide() {
    composer.hidden = true;
    hint.hidden = true;
  }

  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    send(input.value);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send(input.value);
    } else if (event.key === "Escape" && state.controller) {
      stop();
    } else if (event.key === "Escape" && state.editing) {
      endEditing();
      input.value = "";
      fitInput();
    }
  });
  input.addEventListener("input", fitInput);
  stopButton.addEventListener("click", stop);

  return { el, send, startEditing, stop, hide };
}

/** Read the UI message stream's parts into the answer. */
async function readAnswer(response, turn) {
  let ended = false;
  for await (const { data } of readEvents(response)) {
    // Read on to the end of the body: leaving at [DONE] cancels the response, which the
    // browser reports as a failed request (net::ERR_ABORTED).
    if (data === "[DONE]") continue;
    let part;
    try {
      part = JSON.parse(data);
    } catch {
      continue;
    }
    if (part.type === "text-start") turn.newPart();
    else if (part.type === "text-delta") turn.addText(part.delta || "");
    else if (part.type === "tool-input-available") turn.tool(part.toolCallId, part.toolName, part.input);
    else if (part.type === "tool-output-available") turn.toolDone(part.toolCallId);
    else if (part.type === "tool-output-error") turn.toolDone(part.toolCallId, true);
    else if (part.type === "data-almanac") { turn.finish(part.data); ended = true; }
    else if (part.type === "error") { turn.fail(part.errorText || "The answer failed."); ended = true; }
  }
  if (!ended) turn.fail("The answer ended before it was complete. Try again.");
}
