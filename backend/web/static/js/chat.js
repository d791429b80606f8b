// The chat page (#/chat, #/chat/ID): a sidebar of the reader's chats and one conversation.
// Answers stream from POST /api/chat (the UI message stream, read with ./sse.js); the text is
// rendered by ./markdown.js (never as HTML); citations [n] become chips that open the cited
// passage; each logged answer shows its confidence and takes feedback. A new chat's id is
// chosen here, as useChat does, and the address becomes #/chat/ID once the chat exists.

import { api, ApiError, request, upload } from "./api.js";
import {
  confidenceBadge, copyButton, describeStreamError, feedbackButtons, icon, markQuoted, notFoundBadge,
  panelDialog, quotedSentences,
  withCodeCopy,
} from "./answer.js";
import { append, askDialog, clear, describeError, formatBytes, formatDate, h, newId, notify, plural } from "./dom.js";
import { loadMarkdown, markdownReady, renderMarkdown } from "./markdown.js";
import { readEvents } from "./sse.js";

const CHAT_ID = /^[A-Za-z0-9_-]{1,64}$/;
const SOURCE_LABELS = {
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

const SOURCES_BLOCK = /(^|\n)\*\*Sources\*\*[ \t]*(\n[\s\S]*)?$/;
const SUGGESTIONS = [
  "How often must passwords be rotated?",
  "What is the acknowledgement time for a SEV1 incident?",
  "Can I deploy to production on a Friday?",
];
const TOOL_LABELS = {
  search_knowledge_base: ["Searching the knowledge base…", "Searched the knowledge base"],
  lookup_structured_data: ["Looking it up in the tables…", "Looked it up in the tables"],
};

export async function mount(root, ctx) {
  const page = buildPage(ctx);
  root.append(page.el);
  page.wire();
  await page.load();
  return () => page.stop();
}

function chatPath(id) {
  return `/chats/${encodeURIComponent(id)}`;
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
  const documents = new Map(); // document id -> promise of GET /api/documents/{id}

  const heading = h("h1", { class: "chat-title" }, "New chat");
  const sidebarToggle = h("button", {
    type: "button", class: "chat-sidebar-toggle", "aria-expanded": "false", "aria-controls": "chat-sidebar",
  }, icon("list"), "Chats");
  const list = h("div", { class: "chat-list-groups" });
  const listStatus = h("p", { class: "chat-list-status muted", role: "status" }, "Loading your chats…");
  const searchInput = h("input", {
    type: "search", class: "chat-search", maxlength: "200", autocomplete: "off",
    placeholder: "Search chats", "aria-label": "Search chats",
  });
  const listTitle = h("h2", { id: "chat-list-title", class: "chat-list-title" }, "Recent chats");
  const importPanel = buildImportPanel();
  const sidebar = h("aside", { id: "chat-sidebar", class: "chat-sidebar", "aria-label": "Your chats" },
    h("a", { class: "button primary chat-new", href: "#/chat" }, icon("plus"), "New chat"),
    importPanel,
    searchInput,
    listTitle,
    listStatus,
    list);
  const log = h("div", {
    class: "chat-log", role: "log", "aria-label": "Conversation", "aria-live": "polite", tabindex: "0",
  });
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
  // The model picker shows only when the server allows more than one model (GET /model).
  const modelSelect = h("select", { id: "chat-model", class: "chat-model-select" });
  const modelPick = h("div", { class: "chat-model-pick", hidden: true },
    h("label", { for: "chat-model", class: "muted" }, "Model"), modelSelect);
  // An opened chat's project draft (its own page, js/draft.js): shown once the chat loads.
  const draftLink = h("a", { class: "button chat-draft-link", hidden: true }, "Project draft");
  // Attaching a file to an opened chat (POST /api/conversations/{id}/files): its passages
  // are searched by this chat's later questions; the list above the messages shows it.
  const attachInput = h("input", { type: "file", class: "chat-attach-input", hidden: true, "aria-label": "File to attach" });
  const attachButton = h("button", { type: "button", class: "chat-attach-button", hidden: true }, "Attach a file");
  let contextBox = null;
  const sourceDialog = buildSourceDialog();
  const el = h("div", { class: "chat-page" },
    sidebar,
    h("section", { class: "chat-main", "aria-labelledby": "chat-heading" },
      h("div", { class: "chat-header" }, sidebarToggle, heading, draftLink, attachButton, attachInput, modelPick),
      log,
      h("div", { class: "chat-composer-wrap" }, editNote, composer, hint)),
    sourceDialog.el);
  heading.id = "chat-heading";

  // --- importing conversations (docs/conversation-import.md) ------------------------------

  function buildImportPanel() {
    const status = h("p", { class: "chat-import-status muted", role: "status" });
    const urlInput = h("input", {
      id: "chat-import-url", type: "url", required: true, maxlength: "2048",
      placeholder: "https://chatgpt.com/share/…", autocomplete: "off",
    });
    const urlForm = h("form", { class: "chat-import-form" },
      h("label", { for: "chat-import-url" }, "Share link"), urlInput,
      h("button", { type: "submit" }, "Import link"));
    const fileInput = h("input", {
      id: "chat-import-file", type: "file", accept: ".json,.zip,application/json,application/zip",
    });
    const fileForm = h("form", { class: "chat-import-form" },
      h("label", { for: "chat-import-file" }, "Export file (conversations.json or ZIP)"), fileInput,
      h("button", { type: "submit" }, "Import file"));
    const say = (text, error = false) => {
      status.textContent = text;
      status.classList.toggle("chat-error-text", error);
    };
    urlForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      say("Importing…");
      try {
        const result = await api("POST", "/api/conversations/import", { url: urlInput.value.trim() });
        say(result.created ? "Imported." : "You had imported it already.");
        urlInput.value = "";
        await loadChats();
        ctx.navigate(`#/chat/${encodeURIComponent(result.chat.id)}`);
      } catch (error) {
        say(`Not imported: ${describeError(error)}`, true);
      }
    });
    fileForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const file = fileInput.files[0];
      if (!file) return;
      const form = new FormData();
      form.append("file", file);
      say("Uploading…");
      try {
        let job = (await upload("POST", "/api/conversations/import/file", form)).body;
        while (job.status === "queued" || job.status === "running") {
          const { conversations_done: done, conversations_total: total } = job.progress;
          say(total ? `Importing… ${done} of ${total}` : "Importing…");
          await new Promise((resolve) => setTimeout(resolve, 500));
          job = await api("GET", `/api/conversations/import/jobs/${encodeURIComponent(job.id)}`);
        }
        if (job.status === "done") {
          say(`${plural(job.result.imported, "conversation")} imported, ${job.result.skipped_duplicates} already there.`);
          fileInput.value = "";
          await loadChats();
        } else {
          say(`Not imported: ${job.error?.detail || "the import failed."}`, true);
        }
      } catch (error) {
        say(`Not imported: ${describeError(error)}`, true);
      }
    });
    return h("details", { class: "chat-import" },
      h("summary", {}, "Import a conversation"), urlForm, fileForm, status);
  }

  // --- the sidebar -----------------------------------------------------------------------

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
      const page = await api(
        "GET", `/api/search?scope=chats&limit=50&q=${encodeURIComponent(query)}`);
      found = page.hits.map((hit) => ({
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
      if (chat.id === state.chatId) showTitle(renamed.title);
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

  // An imported chat (docs/conversation-import.md) says where it came from: a badge in the
  // list, and a note above its messages linking to the original when it has a web address.
  function sourceBadge(chat) {
    if (!chat.source) return null;
    const label = SOURCE_LABELS[chat.source] || chat.source;
    return h("span", { class: "chat-source-badge", title: `Imported from ${label}` }, label);
  }

  function importedNote(chat) {
    const label = SOURCE_LABELS[chat.source] || chat.source;
    const url = /^https?:\/\//i.test(chat.source_url || "") ? chat.source_url : null;
    return h("p", { class: "notice chat-imported", role: "note" }, `Imported from ${label}`,
      url ? [" · ", h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, "original")] : null);
  }

  function showTitle(title) {
    heading.textContent = title;
    ctx.setTitle(title);
  }

  // --- the conversation ------------------------------------------------------------------

  async function loadConversation() {
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
      showTitle(data.chat.title);
      if (data.chat.source) log.append(importedNote(data.chat));
      contextBox = h("div", { class: "chat-context", hidden: true });
      log.append(contextBox);
      fillContext(contextBox, state.chatId);
      draftLink.href = `#/chat/${encodeURIComponent(state.chatId)}/draft`;
      draftLink.hidden = false;
      attachButton.hidden = false;
      for (const message of data.messages) log.append(storedMessage(message));
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

  // A chat's summary (GET /api/conversations/{id}/summary; none until one is made) and its
  // attached files (GET .../files), each with its download link: a box above the messages,
  // filled when they arrive; nothing shows for a chat with neither.
  function fillContext(box, chatId) {
    const base = `/api/conversations/${encodeURIComponent(chatId)}`;
    const none = (error) => {
      if (error instanceof ApiError && error.status === 404) return null;
      throw error;
    };
    return Promise.all([api("GET", `${base}/summary`).catch(none), api("GET", `${base}/files`)])
      .then(([summary, files]) => {
        if (chatId !== state.chatId) return;
        clear(box);
        if (summary) box.append(summaryBlock(summary));
        if (files.length) box.append(filesBlock(files));
        box.hidden = !summary && !files.length;
      })
      .catch((error) => {
        clear(box);
        box.append(h("p", { class: "notice error" }, `This chat's summary and files could not be loaded: ${describeError(error)}`));
        box.hidden = false;
      });
  }

  attachButton.addEventListener("click", () => attachInput.click());
  attachInput.addEventListener("change", async () => {
    const file = attachInput.files[0];
    const chatId = state.chatId;
    if (!file || !chatId) return;
    const form = new FormData();
    form.append("file", file);
    attachButton.disabled = true;
    try {
      const { status } = await upload("POST", `/api/conversations/${encodeURIComponent(chatId)}/files`, form);
      notify(status === 201 ? `Attached ${file.name}: this chat's questions now search it.` : `${file.name} was attached already.`, "success");
      if (contextBox && chatId === state.chatId) await fillContext(contextBox, chatId);
    } catch (error) {
      notify(`${file.name} was not attached: ${describeError(error)}`, "error");
    } finally {
      attachInput.value = "";
      attachButton.disabled = false;
    }
  });

  function summaryBlock(summary) {
    const notes = [summary.edited ? "edited" : null, summary.stale ? "the chat has changed since" : null].filter(Boolean);
    return h("details", { class: "chat-summary", open: true },
      h("summary", {}, "Summary", notes.length ? h("span", { class: "muted" }, ` (${notes.join("; ")})`) : null),
      h("p", { class: "chat-summary-text" }, summary.text),
      h("p", { class: "hint" }, `By ${summary.model}, of ${plural(summary.message_count, "message")}, ${formatDate(summary.updated_at, true)}.`));
  }

  function filesBlock(files) {
    return h("details", { class: "chat-files", open: true },
      h("summary", {}, `Attached files (${files.length})`),
      h("ul", { class: "chat-file-list" }, files.map((file) => h("li", {},
        h("a", { href: file.download_url, download: file.name, "aria-label": `Download ${file.name}` }, icon("download"), file.name),
        h("span", { class: "muted" }, ` · ${file.media_type} · ${formatBytes(file.size_bytes)} · ${formatDate(file.created_at, true)}`)))));
  }

  function showEmpty() {
    log.append(h("div", { class: "chat-empty" },
      h("h2", { class: "chat-empty-title" }, "Ask the knowledge base"),
      h("p", { class: "muted" },
        "Answers cite the documents they come from: open a numbered source to read the passage."),
      h("ul", { class: "chat-suggestions", "aria-label": "Example questions" },
        SUGGESTIONS.map((text) => h("li", {}, h("button", {
          type: "button", class: "chat-suggestion", onclick: () => send(text),
        }, text))))));
  }

  function showMissing() {
    state.chatId = null;
    heading.textContent = "Chat not found";
    ctx.setTitle("Chat not found");
    log.append(h("div", { class: "notice error", role: "alert" },
      "There is no chat of yours at this address. ",
      h("a", { href: "#/chat" }, "Start a new chat")));
    composer.hidden = true;
    hint.hidden = true;
  }

  function storedMessage(message) {
    if (message.role === "user") return userTurn(message.content);
    const turn = assistantTurn();
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
  function attachVersions(turnEl, versions) {
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

  /** After an answer given again: show what it replaced, as the server kept it. */
  async function showVersions(turnEl) {
    try {
      const data = await api("GET", `${chatPath(state.chatId)}/messages`);
      const last = data.messages[data.messages.length - 1];
      if (last?.role === "assistant" && last.previous_versions?.length && turnEl.isConnected) {
        attachVersions(turnEl, last.previous_versions);
      }
    } catch {
      // Not shown now; they are there the next time the chat is opened.
    }
  }

  function userTurn(text) {
    return h("div", { class: "chat-turn chat-turn-user" },
      h("div", { class: "chat-bubble" },
        h("span", { class: "chat-sr-only" }, "You: "),
        h("p", { class: "chat-user-text" }, text)));
  }

  /** One answer: tool activity, the text, its sources, confidence, feedback and status. */
  function assistantTurn() {
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

  /** What a citation marker becomes: a chip per source, or plain text if none is known. */
  function citeNode(keys, label, cited, answerText = () => "") {
    const found = keys.map((key) => cited.find((s) => (typeof key === "number" ? s.number === key : s.title === key)));
    if (!cited.length || found.some((s) => !s)) {
      return h("span", { class: "chat-cite chat-cite-pending" }, label.slice(1, -1));
    }
    const fragment = document.createDocumentFragment();
    for (const source of found) {
      fragment.append(h("button", {
        type: "button", class: "chat-cite",
        "aria-label": `Source ${source.number}: ${sourceName(source)}`,
        title: sourceName(source),
        onclick: (event) => sourceDialog.open(source, event.currentTarget, answerText()),
      }, source.kind === "table" ? "table" : String(source.number)));
    }
    return fragment;
  }

  function showSources(box, sources, answerText = () => "") {
    clear(box);
    box.hidden = !sources.length;
    if (!sources.length) return;
    box.append(h("p", { class: "chat-sources-title" }, "Sources"),
      h("ul", { class: "chat-source-list" }, sources.map((source) => h("li", {},
        h("button", {
          type: "button", class: "chat-source-chip",
          onclick: (event) => sourceDialog.open(source, event.currentTarget, answerText()),
        },
        h("span", { class: "chat-cite-n", "aria-hidden": "true" }, source.kind === "table" ? "T" : String(source.number)),
        h("span", { class: "chat-source-text" },
          h("span", { class: "chat-source-name" }, source.title),
          h("span", { class: "chat-source-detail" }, sourceDetail(source))))))));
  }

  // --- the source dialog -----------------------------------------------------------------

  function buildSourceDialog() {
    const { el: dialog, title, body, show } = panelDialog("chat-source-title", "chat-source-dialog");

    async function open(source, from, answerText = "") {
      title.textContent = source.kind === "table" ? "Table lookup" : source.title;
      clear(body);
      append(body, sourceFacts(source));
      const passage = h("div", { class: "chat-passage md", "aria-live": "polite" });
      body.append(h("h3", { class: "chat-passage-title" }, source.kind === "table" ? "Rows the answer read" : "Cited passage"), passage);
      show(from);
      if (source.kind === "table") {
        passage.append(...tableRows(source),
          h("details", { class: "chat-sql" }, h("summary", {}, "The query"), h("pre", {}, h("code", {}, source.source))));
        return;
      }
      passage.append(h("p", { class: "muted", role: "status" }, "Loading the passage…"));
      try {
        const section = await findSection(source);
        clear(passage);
        if (section) {
          passage.append(renderMarkdown(section.text));
          // The sentences the answer took from this passage, highlighted and in view.
          const first = markQuoted(passage, quotedSentences(answerText, source.number));
          if (first) {
            passage.before(h("p", { class: "chat-quoted-note muted" }, "Highlighted: what the answer quotes."));
            first.scrollIntoView({ block: "center" });
          }
        } else {
          passage.append(h("p", { class: "muted" }, "This section is no longer in the document."));
        }
      } catch (error) {
        clear(passage);
        passage.append(h("p", { class: "notice error", role: "alert" },
          `The passage could not be loaded: ${describeError(error)}`));
      }
    }

    return { el: dialog, open };
  }

  /** A table lookup's rows as the answer read them (kept with its citation). */
  function tableRows(source) {
    const columns = source.columns || [];
    const rows = source.rows || [];
    if (!columns.length) return [h("p", { class: "muted" }, "The rows are not kept with this answer.")];
    if (!rows.length) return [h("p", { class: "muted" }, "The query returned no rows.")];
    const shown = (value) => (value === null ? "—" : String(value));
    return [
      h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Rows" }, h("table", {},
        h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, rows.map((row) => h("tr", {}, row.map((v) => h("td", {}, shown(v)))))))),
      source.truncated ? h("p", { class: "muted" }, `The first ${rows.length} rows; the query returned more.`) : null,
    ].filter(Boolean);
  }

  async function findSection(source) {
    if (!source.document_id) return null;
    if (!documents.has(source.document_id)) {
      const loading = api("GET", `/api/documents/${source.document_id}`);
      documents.set(source.document_id, loading);
      loading.catch(() => documents.delete(source.document_id));
    }
    const doc = await documents.get(source.document_id);
    const path = (section) => section.heading_path.join(" > ");
    return doc.sections.find((s) => path(s) === source.section)
      || doc.sections.find((s) => source.section.endsWith(s.heading_path[s.heading_path.length - 1] || "\u0000"))
      || null;
  }

  function sourceFacts(source) {
    const rows = [];
    if (source.kind === "table") {
      rows.push(["Tables", source.title.replace(/^table:\s*/, "")]);
    } else {
      rows.push(["Section", sectionName(source) || "—"], ["Updated", source.updated_at || "—"],
        ["File", source.source]);
      if (source.category) rows.push(["Category", source.category]);
    }
    const facts = h("dl", { class: "chat-facts" }, rows.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
    const version = source.superseded_by
      ? h("p", { class: "notice warn" }, `An older version: replaced by ${source.superseded_by.title}`
        + (source.superseded_by.updated_at ? ` of ${source.superseded_by.updated_at}` : "") + ".")
      : source.version_note ? h("p", { class: "chat-version muted" }, capitalise(source.version_note) + ".") : null;
    return [facts, version];
  }

  // --- sending ---------------------------------------------------------------------------

  async function send(raw, { replace = state.editing } = {}) {
    const text = raw.trim();
    if (!text || state.controller) return;
    replace = replace && Boolean(state.chatId);
    endEditing();
    const isNew = !state.chatId;
    const chatId = state.chatId || newId("c");
    const empty = log.querySelector(".chat-empty");
    if (empty) empty.remove();
    if (replace) { // the last question and its answer give way to the new exchange
      for (const turn of lastTurns()) turn?.remove();
    }
    clearActions();
    log.append(userTurn(text));
    const turn = assistantTurn();
    turn.el.setAttribute("aria-busy", "true");
    log.append(turn.el);
    input.value = "";
    fitInput();
    state.following = true;
    scrollToEnd(true);
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
          ...(modelPick.hidden ? {} : { model: modelSelect.value }),
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
      if (el.isConnected) loadChats();
    }
    // A refused retry stored nothing and kept the old exchange: show what the server holds.
    if (refused && replace && el.isConnected) {
      clear(log);
      await loadConversation();
    } else {
      lastExchangeActions();
      if (replace && answering && el.isConnected) await showVersions(turn.el);
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
        onclick: () => startEditing(text),
      }, icon("pencil"), h("span", {}, "Edit"))));
    const meta = answer?.querySelector(".chat-meta");
    if (meta) {
      meta.append(h("span", { class: "chat-retry-wrap" }, h("button", {
        type: "button", class: "icon chat-copy chat-retry", title: "Answer this question again",
        onclick: () => send(text, { replace: true }),
      }, icon("retry"), h("span", {}, "Retry"))));
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
    showTitle(text.length > 80 ? `${text.slice(0, 79)}…` : text);
    state.chats.unshift({ id: chatId, title: heading.textContent });
    renderChats();
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

  function stop() {
    if (state.controller) state.controller.abort();
  }

  function setStreaming(streaming) {
    sendButton.hidden = streaming;
    stopButton.hidden = !streaming;
    if (el.isConnected) input.focus(); // the reader may write the next question meanwhile
  }

  function fitInput() {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight + 2, 220)}px`;
  }

  function scrollToEnd(force = false) {
    if (!force && !state.following) return;
    log.scrollTop = log.scrollHeight;
    // On a phone the log does not scroll itself: the page does, under the sticky composer.
    if (getComputedStyle(log).overflowY !== "visible") return;
    const doc = document.scrollingElement;
    if (doc.scrollHeight > doc.clientHeight) doc.scrollTop = doc.scrollHeight;
  }

  function wire() {
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
    log.addEventListener("scroll", () => {
      state.following = log.scrollHeight - log.scrollTop - log.clientHeight < 80;
    });
    sidebarToggle.addEventListener("click", () => {
      const open = !sidebar.classList.contains("open");
      sidebar.classList.toggle("open", open);
      sidebarToggle.setAttribute("aria-expanded", String(open));
    });
  }

  async function loadModels() {
    try {
      const models = await api("GET", "/model");
      clear(modelSelect);
      for (const name of models.allowed) {
        modelSelect.append(h("option", { value: name, selected: name === models.model }, name));
      }
      modelPick.hidden = models.allowed.length < 2;
    } catch {
      modelPick.hidden = true; // the server's default answers; nothing to choose
    }
  }

  async function load() {
    ctx.setTitle(state.chatId ? "Chat" : "New chat");
    await Promise.all([loadChats(), loadConversation(), loadModels()]);
  }

  return { el, wire, load, stop };
}

/** "Password Policy > 2. Passwords" -> "2. Passwords" (the document's title is shown apart). */
function sectionName(source) {
  const prefix = `${source.title} > `;
  return source.section && source.section.startsWith(prefix) ? source.section.slice(prefix.length) : source.section;
}

function sourceName(source) {
  const section = sectionName(source);
  return section ? `${source.title}, ${section}` : source.title;
}

function sourceDetail(source) {
  if (source.kind === "table") return "Table lookup";
  return [sectionName(source), source.updated_at].filter(Boolean).join(" · ");
}

function capitalise(text) {
  return text ? text[0].toUpperCase() + text.slice(1) : text;
}
