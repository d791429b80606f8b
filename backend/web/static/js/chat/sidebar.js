// The chat page's sidebar: the reader's chats grouped by day (GET /chats), searching them
// (GET /api/search?scope=chats), renaming, downloading and deleting one, and importing
// conversations (./import-panel.js). On a phone it folds behind the header's Chats button.

import { api } from "../api.js";
import { icon } from "../answer.js";
import { askDialog, clear, describeError, h, notify } from "../dom.js";
import { importPanel } from "./import-panel.js";

/** Where an imported chat (docs/conversation-import.md) came from, as a person reads it. */
export const SOURCE_LABELS = {
  chatgpt: "ChatGPT", "chatgpt-export": "ChatGPT export", claude: "Claude",
  "claude-export": "Claude export", grok: "Grok", slack: "Slack",
};

/** The day group of a chat updated at `when`, in the reader's time zone ("Today" when the
 * date is unknown: a chat just started has none yet). */
export function dayGroup(when, now = new Date()) {
  const date = when ? new Date(when) : now;
  if (Number.isNaN(date.getTime())) return "Older";
  const startOfDay = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  const days = Math.round((startOfDay(now) - startOfDay(date)) / 86_400_000);
  if (days <= 0) return "Today";
  if (days === 1) return "Yesterday";
  return days < 7 ? "Previous 7 days" : "Older";
}

/** A chat's address in the API. */
export function chatPath(id) {
  return `/chats/${encodeURIComponent(id)}`;
}

/** The sidebar: `el`, its `toggle` button (for the header), `loadChats` and `renderChats`.
 * `page` holds `ctx`, `state` and `showTitle` (the chat page's, ../chat.js). */
export function chatSidebar(page) {
  const { ctx, state } = page;
  const toggle = h("button", {
    type: "button", class: "chat-sidebar-toggle", "aria-expanded": "false", "aria-controls": "chat-sidebar",
  }, icon("list"), "Chats");
  const list = h("div", { class: "chat-list-groups" });
  const listStatus = h("p", { class: "chat-list-status muted", role: "status" }, "Loading your chats…");
  const searchInput = h("input", {
    type: "search", class: "chat-search", maxlength: "200", autocomplete: "off",
    placeholder: "Search chats", "aria-label": "Search chats",
  });
  const listTitle = h("h2", { id: "chat-list-title", class: "chat-list-title" }, "Recent chats");
  const el = h("aside", { id: "chat-sidebar", class: "chat-sidebar", "aria-label": "Your chats" },
    h("a", { class: "button primary chat-new", href: "#/chat" }, icon("plus"), "New chat"),
    importPanel(ctx, loadChats),
    searchInput,
    listTitle,
    listStatus,
    list);

  async function loadChats() {
    try {
      state.chats = await api("GET", "/chats?limit=100");
      listStatus.hidden = true;
    } catch (error) {
      listStatus.hidden = false;
      listStatus.classList.add("chat-error-text");
      listStatus.textContent = `Your chats could not be loaded: ${describeError(error)}`;
      return;
    }
    renderChats();
  }

  // Searching: GET /api/search?scope=chats, hybrid (words and meaning) over the chats' titles,
  // summaries and messages, each chat once with the passage that matched best; the whole
  // list again when the box is emptied (or Esc). GET /chats?q= stays for other clients.
  let searchTimer = null;
  let searchRun = 0;
  searchInput.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => search(searchInput.value.trim()), 250);
  });
  searchInput.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && searchInput.value) {
      event.stopPropagation();
      searchInput.value = "";
      search("");
    }
  });

  async function search(query) {
    state.query = query;
    const run = ++searchRun;
    if (!query) {
      listTitle.textContent = "Recent chats";
      renderChats();
      return;
    }
    listTitle.textContent = "Search results";
    let found;
    try {
      const results = await api(
        "GET", `/api/search?scope=chats&limit=50&q=${encodeURIComponent(query)}`);
      found = results.hits.map((hit) => ({
        id: hit.chat_id, title: hit.title, updated_at: hit.updated_at,
        match: hit.snippet,
      }));
    } catch (error) {
      if (run !== searchRun) return;
      clear(list);
      listStatus.hidden = false;
      listStatus.classList.add("chat-error-text");
      listStatus.textContent = `Search failed: ${describeError(error)}`;
      return;
    }
    if (run !== searchRun) return; // a newer search has started
    clear(list);
    listStatus.classList.remove("chat-error-text");
    listStatus.hidden = false;
    listStatus.textContent = found.length
      ? `${found.length} ${found.length === 1 ? "chat matches" : "chats match"} “${query}”.`
      : `No chats match “${query}”.`;
    const items = h("ul", { class: "chat-list", "aria-labelledby": "chat-list-title" });
    for (const chat of found) items.append(chatItem(chat, chat.match));
    list.append(items);
  }

  function renderChats() {
    if (state.query) {
      search(state.query); // the list changed under a search: search again
      return;
    }
    clear(list);
    listStatus.classList.remove("chat-error-text");
    if (!state.chats.length) {
      listStatus.hidden = false;
      listStatus.textContent = "No chats yet. Ask a question to start one.";
      return;
    }
    listStatus.hidden = true;
    // Newest first, under Today, Yesterday, Previous 7 days and Older.
    let group = null;
    for (const chat of state.chats) {
      const name = dayGroup(chat.updated_at);
      if (!group || group.name !== name) {
        const id = `chat-group-${list.childElementCount}`;
        group = { name, items: h("ul", { class: "chat-list", "aria-labelledby": id }) };
        list.append(h("h3", { id, class: "chat-list-group" }, name), group.items);
      }
      group.items.append(chatItem(chat));
    }
  }

  function chatItem(chat, match = null) {
    const current = chat.id === state.chatId;
    return h("li", { class: current ? "chat-list-item current" : "chat-list-item" },
      h("a", {
        class: match ? "chat-list-link chat-list-found" : "chat-list-link",
        href: `#/chat/${encodeURIComponent(chat.id)}`,
        "aria-current": current ? "page" : null, title: chat.title,
      }, chat.title, sourceBadge(chat), match ? h("span", { class: "chat-list-match" }, match) : null),
      h("button", {
        type: "button", class: "icon chat-list-action", "aria-label": `Rename “${chat.title}”`,
        title: "Rename", onclick: (event) => rename(chat, event.currentTarget),
      }, icon("pencil")),
      // The server's Markdown export, as a download (the session cookie goes with it).
      h("a", {
        class: "icon chat-list-action", href: `${chatPath(chat.id)}/export`, download: "",
        "aria-label": `Download “${chat.title}” as Markdown`, title: "Download as Markdown",
      }, icon("download")),
      h("button", {
        type: "button", class: "icon chat-list-action", "aria-label": `Delete “${chat.title}”`,
        title: "Delete", onclick: (event) => remove(chat, event.currentTarget),
      }, icon("trash")));
  }

  async function rename(chat, opener) {
    const title = await askDialog({
      title: "Rename chat", confirm: "Save", value: chat.title, label: "Title",
    });
    if (title === null || !title.trim() || title.trim() === chat.title) return;
    try {
      const renamed = await api("PATCH", chatPath(chat.id), { title: title.trim() });
      Object.assign(chat, renamed);
      renderChats();
      if (chat.id === state.chatId) page.showTitle(renamed.title);
      notify("Chat renamed.", "success");
    } catch (error) {
      notify(`The chat was not renamed: ${describeError(error)}`, "error");
    }
  }

  async function remove(chat, opener) {
    const confirmed = await askDialog({
      title: "Delete this chat?", confirm: "Delete", danger: true,
      message: `“${chat.title}” and all its messages will be deleted. This cannot be undone.`,
    });
    if (confirmed === null) return;
    try {
      await api("DELETE", chatPath(chat.id));
    } catch (error) {
      notify(`The chat was not deleted: ${describeError(error)}`, "error");
      return;
    }
    notify("Chat deleted.", "success");
    if (chat.id === state.chatId) {
      ctx.navigate("#/chat");
      return;
    }
    state.chats = state.chats.filter((c) => c.id !== chat.id);
    renderChats();
  }

  toggle.addEventListener("click", () => {
    const open = !el.classList.contains("open");
    el.classList.toggle("open", open);
    toggle.setAttribute("aria-expanded", String(open));
  });

  return { el, toggle, loadChats, renderChats };
}

// An imported chat says where it came from: a badge in the list (and a note above its
// messages, ./conversation.js, linking to the original when it has a web address).
function sourceBadge(chat) {
  if (!chat.source) return null;
  const label = SOURCE_LABELS[chat.source] || chat.source;
  return h("span", { class: "chat-source-badge", title: `Imported from ${label}` }, label);
}
