// The chat header's model picker: shown only when the server allows more than one model
// (GET /model); the server's default answers otherwise.

import { api } from "../api.js";
import { clear, h } from "../dom.js";

/** `el`, `load` (the allowed models) and `choice()`: `{model}` to send, or `{}`. */
export function modelPicker() {
  const select = h("select", { id: "chat-model", class: "chat-model-select" });
  const el = h("div", { class: "chat-model-pick", hidden: true },
    h("label", { for: "chat-model", class: "muted" }, "Model"), select);

  async function load() {
    try {
      const models = await api("GET", "/model");
      clear(select);
      for (const name of models.allowed) {
        select.append(h("option", { value: name, selected: name === models.model }, name));
      }
      el.hidden = models.allowed.length < 2;
    } catch {
      el.hidden = true; // the server's default answers; nothing to choose
    }
  }

  return { el, load, choice: () => (el.hidden ? {} : { model: select.value }) };
}
