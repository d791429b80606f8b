// What the pages of background runs (evaluation runs, cleaning runs) share: Cancel while a
// run is queued or running (POST .../cancel: no item starts after it), Delete once it has
// finished (DELETE ..., after a confirmation), after which the page refreshes what it shows;
// and download buttons for a run's exports and report.

import { api, objectUrl } from "../api.js";
import { confirmDialog, describeError, h, notify } from "../dom.js";

export const ACTIVE = new Set(["queued", "running"]);

/**
 * The buttons for one run: {id, status, cancelPath, deletePath, onChange(action)}, where
 * onChange("cancelled" | "deleted") is awaited after the server agreed. Buttons are named
 * with the run's id ("Cancel run_…"), so a table of runs keeps them apart.
 */
export function runActions({ id, status, cancelPath, deletePath, onChange, noun = "run" }) {
  const active = ACTIVE.has(status);
  const act = async (event, action) => {
    const button = event.currentTarget;
    button.disabled = true;
    try {
      if (action === "deleted") {
        const sure = await confirmDialog({
          title: `Delete ${noun} ${id}?`,
          message: `Its results are removed for good; this cannot be undone.`,
          confirm: "Delete",
          danger: true,
        });
        if (!sure) return;
        await api("DELETE", deletePath);
        notify(`Deleted ${id}.`, "success");
      } else {
        await api("POST", cancelPath);
        notify(`Cancelled ${id}: no item starts after it.`, "success");
      }
      await onChange(action);
    } catch (error) {
      notify(`${action === "deleted" ? "Delete" : "Cancel"} failed: ${describeError(error)}`, "error");
    } finally {
      if (button.isConnected) button.disabled = false;
    }
  };
  return h("div", { class: "row run-actions" }, active
    ? h("button", { type: "button", "aria-label": `Cancel ${id}`, onclick: (e) => act(e, "cancelled") }, "Cancel")
    : h("button", { type: "button", class: "danger", "aria-label": `Delete ${id}`, onclick: (e) => act(e, "deleted") }, "Delete"));
}

/** A button that downloads `path` as `filename`: fetched with the session (or key), since a
 * plain link cannot send a key, then saved through an object URL. */
export function downloadButton(label, path, filename) {
  return h("button", {
    type: "button",
    onclick: async (event) => {
      const button = event.currentTarget;
      button.disabled = true;
      try {
        const url = await objectUrl(path);
        const link = h("a", { href: url, download: filename, hidden: true });
        document.body.append(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10_000);
      } catch (error) {
        notify(`The download failed: ${describeError(error)}`, "error");
      } finally {
        button.disabled = false;
      }
    },
  }, label);
}
