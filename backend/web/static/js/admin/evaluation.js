// Placeholder: replaced by the page's owner.
import { h } from "../dom.js";

export function mount(root) {
  root.append(h("h1", {}, "admin/evaluation"), h("p", {}, "Not built yet."));
}
