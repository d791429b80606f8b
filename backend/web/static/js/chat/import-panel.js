// Importing conversations into the reader's chats (docs/conversation-import.md): a share
// link, or an export file read by a background job whose progress is shown.

import { api, upload } from "../api.js";
import { describeError, h, plural } from "../dom.js";

/** The sidebar's "Import a conversation" disclosure; `loadChats` lists the chats again. */
export function importPanel(ctx, loadChats) {
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
