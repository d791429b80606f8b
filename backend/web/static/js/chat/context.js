// An opened chat's context, above its messages: its summary (the `summary` of the chat's
// messages page, null until one is made: never asked for apart, so a chat without one costs
// no 404) and its attached files (GET /api/conversations/{id}/files), each with its download
// link; and the header's "Attach a file" (POST .../files), whose passages this chat's later
// questions search.

import { api, upload } from "../api.js";
import { icon } from "../answer.js";
import { clear, describeError, formatBytes, formatDate, h, notify, plural } from "../dom.js";

/** `attachButton` and `attachInput` (for the header) and `box(chatId, summary)`, the context
 * box of an opened chat (`summary`: its messages page's, or null), filled when its files
 * arrive. `state.chatId` is the chat shown. */
export function chatContext(state) {
  const attachInput = h("input", { type: "file", class: "chat-attach-input", hidden: true, "aria-label": "File to attach" });
  const attachButton = h("button", { type: "button", class: "chat-attach-button", hidden: true }, "Attach a file");
  let contextBox = null;
  let shownSummary = null;

  function box(chatId, summary) {
    contextBox = h("div", { class: "chat-context", hidden: true });
    shownSummary = summary || null;
    fill(contextBox, chatId);
    return contextBox;
  }

  // Nothing shows for a chat with neither a summary nor files.
  function fill(target, chatId) {
    const summary = shownSummary;
    return api("GET", `/api/conversations/${encodeURIComponent(chatId)}/files`)
      .then((files) => {
        if (chatId !== state.chatId) return;
        clear(target);
        if (summary) target.append(summaryBlock(summary));
        if (files.length) target.append(filesBlock(files));
        target.hidden = !summary && !files.length;
      })
      .catch((error) => {
        clear(target);
        target.append(h("p", { class: "notice error" }, `This chat's summary and files could not be loaded: ${describeError(error)}`));
        target.hidden = false;
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
      if (contextBox && chatId === state.chatId) await fill(contextBox, chatId);
    } catch (error) {
      notify(`${file.name} was not attached: ${describeError(error)}`, "error");
    } finally {
      attachInput.value = "";
      attachButton.disabled = false;
    }
  });

  return { attachButton, attachInput, box };
}

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
