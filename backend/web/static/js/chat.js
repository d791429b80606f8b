// The chat page (#/chat, #/chat/ID): a sidebar of the reader's chats and one conversation.
// Answers stream from POST /api/chat (the UI message stream, read with ./sse.js); the text is
// rendered by ./markdown.js (never as HTML); citations [n] become chips that open the cited
// passage; each logged answer shows its confidence and takes feedback.
//
// The page's parts, one module each under ./chat/: the sidebar (sidebar.js, with
// import-panel.js), the conversation's log (conversation.js, its turns in turns.js), the
// composer and sending (composer.js), the citations and their dialog (sources.js), an opened
// chat's summary, files and attaching (context.js), and the model picker (models.js).
// `buildPage` builds them and wires them to each other through one `page` object.

import { h } from "./dom.js";
import { chatComposer } from "./chat/composer.js";
import { chatContext } from "./chat/context.js";
import { messageLog } from "./chat/conversation.js";
import { modelPicker } from "./chat/models.js";
import { chatSidebar } from "./chat/sidebar.js";
import { sourcePanel } from "./chat/sources.js";

export { dayGroup } from "./chat/sidebar.js";

export async function mount(root, ctx) {
  const page = buildPage(ctx);
  root.append(page.el);
  await page.load();
  return () => page.stop();
}

function buildPage(ctx) {
  const state = {
    chatId: ctx.params.chatId || null,
    chats: [],
    controller: null,
    following: true,
    editing: false, // the input holds the last question, edited: sending replaces it
    query: "", // the sidebar's search: its words (GET /chats?q=...), "" for the whole list
  };
  const heading = h("h1", { class: "chat-title", id: "chat-heading" }, "New chat");
  // An opened chat's project draft (its own page, js/draft.js): shown once the chat loads.
  const draftLink = h("a", { class: "button chat-draft-link", hidden: true }, "Project draft");
  const page = { ctx, state, heading, draftLink, showTitle };
  page.sources = sourcePanel();
  page.context = chatContext(state);
  page.models = modelPicker();
  page.sidebar = chatSidebar(page);
  page.conversation = messageLog(page);
  page.composer = chatComposer(page);
  page.el = h("div", { class: "chat-page" },
    page.sidebar.el,
    h("section", { class: "chat-main", "aria-labelledby": "chat-heading" },
      h("div", { class: "chat-header" }, page.sidebar.toggle, heading, draftLink,
        page.context.attachButton, page.context.attachInput, page.models.el),
      page.conversation.el,
      page.composer.el),
    page.sources.el);

  function showTitle(title) {
    heading.textContent = title;
    ctx.setTitle(title);
  }

  async function load() {
    ctx.setTitle(state.chatId ? "Chat" : "New chat");
    await Promise.all([page.sidebar.loadChats(), page.conversation.load(), page.models.load()]);
  }

  return { el: page.el, load, stop: page.composer.stop };
}
