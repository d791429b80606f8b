// Placeholder: replaced by the page's owner.
import { h } from "./dom.js";

export function mount(root) {
  root.append(h("h1", {}, "chat"), h("p", {}, "Not built yet."));
}
