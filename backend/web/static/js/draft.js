// A chat's project draft (#/chat/ID/draft; docs/conversation-drafts.md): the active
// version (title, description, goals, milestones, open questions), its download as Markdown
// or JSON, every version with the one in force and "Make active" for the others, and the
// draft chat: changes asked for in words, the reply streamed (SSE: status, content,
// project_updated, conversation_locked, error, done) and the exchange stored. A chat without
// a draft offers to draft one from the conversation.

import { ApiError, api, request } from "./api.js";
import { clear, dataTable, describeError, formatDate, h, notify } from "./dom.js";
import { readEvents } from "./sse.js";

export async function mount(root, ctx) {
  const chatId = ctx.params.chatId;
  const base = `/api/conversations/${encodeURIComponent(chatId)}`;
  const draftBox = h("div", {});
  const versionsBox = h("div", {});
  const chatBox = h("div", {});
  let stopped = false;
  let streaming = null;

  root.append(
    h("p", { class: "eval-back" }, h("a", { href: `#/chat/${encodeURIComponent(chatId)}` }, "← Back to the chat")),
    h("h1", {}, "Project draft"),
    draftBox);

  const load = async () => {
    let draft;
    try {
      draft = await api("GET", `${base}/project-draft`);
    } catch (error) {
      if (stopped) return;
      clear(draftBox);
      if (error instanceof ApiError && error.status === 404 && /draft/i.test(error.detail)) {
        draftBox.append(noDraft());
      } else {
        draftBox.append(h("p", { class: "notice error", role: "alert" }, describeError(error)));
      }
      return;
    }
    if (stopped) return;
    showDraft(draft);
    await Promise.all([loadVersions(), loadChat()]);
  };

  function noDraft() {
    const button = h("button", { type: "button", class: "primary" }, "Draft a project from this chat");
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await api("POST", `${base}/project-draft`, {});
        notify("Project drafted.", "success");
        await load();
      } catch (error) {
        notify(`No draft was made: ${describeError(error)}`, "error");
        button.disabled = false;
      }
    });
    return h("div", { class: "card" },
      h("p", {}, "This chat has no project draft yet. The model reads the conversation and writes one: a title, a description, goals, milestones and open questions."),
      button);
  }

  function showDraft(draft) {
    clear(draftBox);
    const content = draft.version.draft;
    const list = (title, items, item) => items.length
      ? [h("h3", {}, title), h("ul", { class: "draft-list" }, items.map((x) => h("li", {}, item(x))))]
      : null;
    draftBox.append(
      h("article", { class: "card draft-card", "aria-labelledby": "draft-title" },
        h("h2", { id: "draft-title" }, content.title),
        h("p", { class: "muted" },
          `Version ${draft.active_version} of ${draft.latest_version}, in force · by ${draft.version.author}`,
          draft.version.model ? ` (${draft.version.model})` : "", ` · ${formatDate(draft.version.created_at, true)}`),
        content.description ? h("p", { class: "draft-description" }, content.description) : null,
        list("Goals", content.goals, (g) => g),
        list("Milestones", content.milestones, (m) => [m.title, m.due ? h("span", { class: "muted" }, ` · due ${m.due}`) : null]),
        list("Open questions", content.open_questions, (q) => q),
        h("div", { class: "row" },
          h("a", { class: "button", href: `${base}/project-draft/export?format=markdown`, download: "" }, "Download Markdown"),
          h("a", { class: "button", href: `${base}/project-draft/export?format=json`, download: "" }, "Download JSON"))),
      h("section", { class: "eval-section", "aria-labelledby": "draft-versions" }, h("h2", { id: "draft-versions" }, "Versions"), versionsBox),
      h("section", { class: "eval-section", "aria-labelledby": "draft-chat" }, h("h2", { id: "draft-chat" }, "Ask for changes"), chatBox));
  }

  async function loadVersions() {
    const page = await api("GET", `${base}/project-draft/versions?limit=100`);
    if (stopped) return;
    clear(versionsBox);
    versionsBox.append(dataTable([
      { label: "Version", value: (v) => String(v.number), class: "num" },
      { label: "Title", value: (v) => v.draft.title },
      { label: "By", value: (v) => (v.model ? `${v.author} (${v.model})` : v.author) },
      { label: "Note", value: (v) => v.note },
      { label: "Made", value: (v) => formatDate(v.created_at, true) },
      { label: "State", value: (v) => (v.number === page.active_version
        ? h("span", { class: "badge good" }, "in force")
        : h("button", { type: "button", onclick: () => activate(v.number) }, `Make version ${v.number} active`)) },
    ], page.versions, { caption: `${page.total} version${page.total === 1 ? "" : "s"}, newest first` }));
  }

  async function activate(number) {
    try {
      showDraft(await api("POST", `${base}/project-draft/versions/${number}/activate`));
      notify(`Version ${number} is in force.`, "success");
      await Promise.all([loadVersions(), loadChat()]);
    } catch (error) {
      notify(`Not changed: ${describeError(error)}`, "error");
    }
  }

  async function loadChat() {
    const chat = await api("GET", `${base}/project-draft/chat`);
    if (stopped) return;
    clear(chatBox);
    const log = h("ol", { class: "draft-chat-log", "aria-label": "Draft chat" },
      chat.messages.map((m) => chatLine(m.role, m.content)));
    const input = h("textarea", { id: "draft-chat-input", rows: "2", maxlength: "8000", required: true });
    const status = h("p", { class: "muted draft-chat-status", role: "status" });
    const send = h("button", { type: "submit", class: "primary" }, "Send");
    const form = h("form", { class: "draft-chat-form" },
      h("label", { for: "draft-chat-input" }, "What to change"),
      h("p", { class: "hint" }, "For example: add a goal: publish the rota; add a milestone: beta by 2027-03-01."),
      input, h("div", { class: "row" }, send), status);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = input.value.trim();
      if (!text || streaming) return;
      turn(text, log, status, send).then(() => { input.value = ""; });
    });
    chatBox.append(log, form);
  }

  function chatLine(role, content) {
    return h("li", { class: `draft-chat-${role}` },
      h("span", { class: "draft-chat-who" }, role === "user" ? "You" : "Model"), " ",
      h("span", { class: "draft-chat-text" }, content));
  }

  /** One streamed turn of the draft chat; the draft is redrawn when it changes. */
  async function turn(text, log, status, send) {
    send.disabled = true;
    streaming = new AbortController();
    log.append(chatLine("user", text));
    const reply = chatLine("assistant", "");
    const replyText = reply.querySelector(".draft-chat-text");
    log.append(reply);
    status.textContent = "Sending…";
    let changed = false;
    try {
      const response = await request(`${base}/project-draft/chat/stream`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify({ message: text }),
        signal: streaming.signal,
      });
      for await (const event of readEvents(response)) {
        const data = JSON.parse(event.data);
        if (data.type === "status") status.textContent = data.status;
        else if (data.type === "content") replyText.textContent += data.content;
        else if (data.type === "project_updated") {
          changed = true;
          showDraft(data.project_draft); // the versions and chat boxes move along, kept
        }
        else if (data.type === "conversation_locked") status.textContent = "This conversation is locked: its project was created.";
        else if (data.type === "error") status.textContent = `The turn failed: ${data.message}`;
        else if (data.type === "done") status.textContent = changed ? "Done: the draft changed." : "Done: nothing changed.";
      }
    } catch (error) {
      if (error.name !== "AbortError") status.textContent = `The turn failed: ${describeError(error)}`;
    } finally {
      streaming = null;
      send.disabled = false;
    }
    if (changed && !stopped) await loadVersions();
  }

  await load();
  return () => {
    stopped = true;
    if (streaming) streaming.abort();
  };
}
