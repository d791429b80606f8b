// Collections (admins): each team's documents for its own members. The list with each
// collection's documents and grants, creating one, granting it to a user or a group,
// revoking a grant, and deleting an empty collection (docs/collections.md).

import { api } from "../api.js";
import { clear, confirmDialog, field, h, notify, plural } from "../dom.js";
import { refusal } from "./data-ui.js";

const NAME_PATTERN = "[a-z0-9][a-z0-9_\\-]{0,62}";

export async function mount(root) {
  const listBox = h("div", { class: "collections-list" });
  const count = h("p", { class: "muted", role: "status" });
  root.append(
    h("h1", {}, "Collections"),
    h("p", { class: "muted" }, "A collection keeps a team's documents for the users and groups granted it. Documents without one are in the default collection every user reads; admins read everything."),
    createForm(reload),
    h("section", { class: "card", "aria-labelledby": "collections-title" },
      h("h2", { id: "collections-title" }, "Collections"),
      count,
      listBox));

  async function reload() {
    const { collections } = await api("GET", "/api/collections");
    count.textContent = plural(collections.length, "collection");
    clear(listBox);
    listBox.append(collections.length
      ? h("ul", { class: "collections" }, collections.map((c) => item(c, reload)))
      : h("p", { class: "empty" }, "No collections yet: every document is in the default collection."));
  }

  await reload();
}

function createForm(onCreated) {
  const name = h("input", { type: "text", name: "name", required: true, pattern: NAME_PATTERN, maxlength: 63, autocomplete: "off", spellcheck: "false" });
  const description = h("input", { type: "text", name: "description", maxlength: 500 });
  const problem = h("p", { class: "notice error", role: "alert", hidden: true });
  const form = h("form", { class: "card collections-form" },
    h("h2", {}, "New collection"),
    field("Name", name, "Lower-case letters, digits, - and _ (e.g. hr)."),
    field("Description", description),
    h("div", { class: "row" }, h("button", { type: "submit", class: "primary" }, "Create collection")),
    problem);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.hidden = true;
    try {
      await api("POST", "/api/collections", { name: name.value.trim(), description: description.value });
      notify(`Created the collection “${name.value.trim()}”.`, "success");
      form.reset();
      await onCreated();
    } catch (error) {
      problem.textContent = refusal(error);
      problem.hidden = false;
    }
  });
  return form;
}

function item(collection, reload) {
  const path = `/api/collections/${encodeURIComponent(collection.name)}`;
  const kind = h("select", { name: "kind", "aria-label": "Grant to" },
    h("option", { value: "user" }, "User"), h("option", { value: "group" }, "Group"));
  const who = h("input", { type: "text", name: "principal", required: true, maxlength: 200, "aria-label": "User id or group", autocomplete: "off" });
  const problem = h("p", { class: "notice error", role: "alert", hidden: true });

  async function act(request, done) {
    problem.hidden = true;
    try {
      await request();
      notify(done, "success");
      await reload();
    } catch (error) {
      problem.textContent = refusal(error);
      problem.hidden = false;
    }
  }

  const grantForm = h("form", { class: "row collections-grant" }, kind, who,
    h("button", { type: "submit" }, "Grant"));
  grantForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const principal = who.value.trim();
    act(() => api("POST", `${path}/grants`, { [kind.value]: principal }),
      `${collection.name}: granted to ${kind.value} ${principal}.`);
  });

  const grants = collection.grants.length
    ? h("ul", { class: "collections-grants" }, collection.grants.map((g) => h("li", { dataset: { grant: `${g.kind}:${g.principal}` } },
      `${g.kind} ${g.principal} `,
      h("button", { type: "button", class: "link", onclick: () => act(() => api("POST", `${path}/revoke`, { [g.kind]: g.principal }), `${collection.name}: revoked from ${g.kind} ${g.principal}.`) }, "Revoke"))))
    : h("p", { class: "muted" }, "Not granted to anyone yet: only admins read it.");

  async function remove() {
    const ok = await confirmDialog({
      title: `Delete the collection “${collection.name}”?`,
      message: ["Only an empty collection can be deleted: remove or move its documents first."],
      confirm: "Delete collection",
      danger: true,
    });
    if (ok) await act(() => api("DELETE", path), `Deleted the collection “${collection.name}”.`);
  }

  return h("li", { class: "collections-item", dataset: { name: collection.name } },
    h("h3", {}, collection.name),
    collection.description ? h("p", {}, collection.description) : null,
    h("p", { class: "muted" }, plural(collection.document_count, "document")),
    grants,
    grantForm,
    h("div", { class: "row" }, h("button", { type: "button", class: "danger", onclick: remove }, "Delete")),
    problem);
}
