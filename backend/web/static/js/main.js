// The app shell: who is signed in, the navigation, and a hash router that mounts one page
// module at a time. A page module exports `mount(root, ctx)` and may return a cleanup
// function (stop streams and timers); ctx = {params, session, navigate, setTitle}.

import { ApiError, api, setUnauthorizedHandler, storeKey } from "./api.js";
import { clear, describeError, field, h } from "./dom.js";
import { applyTheme, wireThemeButton } from "./theme.js";

applyTheme();

/** Every page: `path` may hold `:name` parameters; `admin` pages need the admin role. */
export const ROUTES = [
  { path: "chat", module: "./chat.js", title: "Chat", nav: true },
  { path: "chat/:chatId", module: "./chat.js", title: "Chat" },
  { path: "chat/:chatId/draft", module: "./draft.js", title: "Project draft" },
  { path: "advice", module: "./advice.js", title: "Advice", nav: true },
  { path: "advice/:threadId", module: "./advice.js", title: "Advice" },
  { path: "admin/documents", module: "./admin/documents.js", title: "Documents", nav: true, admin: true },
  { path: "admin/tables", module: "./admin/tables.js", title: "Tables", nav: true, admin: true },
  { path: "admin/sources", module: "./admin/sources.js", title: "Sources", nav: true, admin: true },
  { path: "admin/collections", module: "./admin/collections.js", title: "Collections", nav: true, admin: true },
  { path: "admin/calibration", module: "./admin/calibration.js", title: "Calibration", nav: true, admin: true },
  { path: "admin/evaluation", module: "./admin/evaluation.js", title: "Evaluation", nav: true, admin: true },
  { path: "admin/evaluation/:runId", module: "./admin/evaluation.js", title: "Evaluation", admin: true },
  { path: "admin/cleaning", module: "./admin/cleaning.js", title: "Cleaning", nav: true, admin: true },
  { path: "admin/cleaning/:runId", module: "./admin/cleaning.js", title: "Cleaning", admin: true },
  { path: "admin/prompts", module: "./admin/prompts.js", title: "Prompts & models", nav: true, admin: true },
];
const HOME = "chat";

const view = document.getElementById("view");
const nav = document.getElementById("site-nav");
const navToggle = document.querySelector(".nav-toggle");
const sessionBox = document.getElementById("session");

let session = null; // {user_id, role, auth_enabled}
let cleanup = null;
let mountCount = 0;

function match(hash) {
  const path = hash.replace(/^#\/?/, "").replace(/\/$/, "") || HOME;
  const parts = path.split("/");
  for (const route of ROUTES) {
    const pattern = route.path.split("/");
    if (pattern.length !== parts.length) continue;
    const params = {};
    const ok = pattern.every((segment, i) => {
      if (segment.startsWith(":")) {
        params[segment.slice(1)] = decodeURIComponent(parts[i]);
        return true;
      }
      return segment === parts[i];
    });
    if (ok) return { route, params };
  }
  return null;
}

export function navigate(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

function setTitle(text) {
  document.title = text ? `${text} · Almanac` : "Almanac";
}

function renderNav() {
  clear(nav);
  const current = match(location.hash)?.route;
  // Before anyone is signed in there is nothing to go to: the sign-in form is the page.
  const links = session
    ? ROUTES.filter((r) => r.nav && (!r.admin || session.role === "admin"))
    : [];
  const list = h("ul", {}, links.map((route) => {
    const active = current && current.module === route.module;
    return h("li", {}, h("a", { href: `#/${route.path}`, "aria-current": active ? "page" : null }, route.title));
  }));
  nav.append(list);
  clear(sessionBox);
  if (!session) return;
  sessionBox.append(h("span", { class: "who", title: `Role: ${session.role}` },
    session.user_id, session.role === "admin" ? h("span", { class: "badge" }, "admin") : null));
  if (session.auth_enabled) {
    sessionBox.append(h("button", { type: "button", class: "link", onclick: signOut }, "Sign out"));
  }
}

async function render() {
  if (cleanup) {
    try { cleanup(); } catch (error) { console.warn(error); }
    cleanup = null;
  }
  navToggle.setAttribute("aria-expanded", "false");
  nav.classList.remove("open");
  if (!session) return;
  const found = match(location.hash);
  renderNav();
  const mine = ++mountCount;
  clear(view);
  if (!found) {
    setTitle("Not found");
    view.append(h("h1", {}, "Page not found"), h("p", {}, h("a", { href: `#/${HOME}` }, "Go to the chat")));
    return;
  }
  const { route, params } = found;
  setTitle(route.title);
  if (route.admin && session.role !== "admin") {
    view.append(h("h1", {}, route.title), h("p", { class: "notice" }, "This page is for admins. Sign in with an admin key to use it."));
    return;
  }
  try {
    const page = await import(route.module);
    if (mine !== mountCount) return; // the reader moved on while the module loaded
    const result = await page.mount(view, { params, session, navigate, setTitle });
    if (mine !== mountCount) {
      if (typeof result === "function") result();
      return;
    }
    cleanup = typeof result === "function" ? result : null;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return;
    console.error(error);
    view.append(h("p", { class: "notice error", role: "alert" }, `This page could not be shown: ${describeError(error)}`));
  }
  const heading = view.querySelector("h1");
  if (heading && mountCount > 1 && document.activeElement === document.body) { // not on load: Tab reaches the skip link first
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }
}

function renderSignIn(message = null) {
  session = null;
  renderNav();
  clear(view);
  setTitle("Sign in");
  const input = h("input", { type: "password", name: "key", autocomplete: "off", required: true, spellcheck: "false" });
  const error = h("p", { class: "notice error", role: "alert", hidden: !message }, message || "");
  const form = h("form", { class: "card signin", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "Sign in"),
    h("p", {}, "This server checks API keys. Paste the key an admin gave you (",
      h("code", {}, "almanac keys create"), "). This browser then stays signed in, in every tab, until you sign out or the sign-in expires; the key itself is not kept."),
    field("API key", input),
    error,
    h("button", { type: "submit", class: "primary" }, "Sign in"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    storeKey(null); // a key an older version kept in this tab gives way to the session
    try {
      // The key buys an HttpOnly session cookie; the page never holds it afterwards.
      await api("POST", "/api/session", { key: input.value.trim() });
      input.value = "";
      await start();
    } catch (err) {
      error.hidden = false;
      error.textContent = err instanceof ApiError && err.status === 401
        ? "That key was not accepted." : describeError(err);
      input.focus();
    }
  });
  view.append(form);
  input.focus();
  offerProviderSignIn(form);
}

/** "Sign in with Google" under the key form, when the server has an OpenID Connect provider
 * set up (`GET /api/auth/status` says `login_available`): a plain link to `/api/auth/login`,
 * which leads to the provider and back to this page (`next`), signed in by cookie. */
async function offerProviderSignIn(form) {
  let status;
  try {
    status = await api("GET", "/api/auth/status");
  } catch (error) {
    console.warn(error); // the key form still works
    return;
  }
  if (!status.login_available || !form.isConnected) return;
  const landing = `/${location.hash || `#/${HOME}`}`;
  const login = `/api/auth/login?${new URLSearchParams({ next: landing })}`;
  form.append(h("div", { class: "signin-provider" },
    h("p", { class: "muted" }, "Or, with your organisation's account:"),
    h("a", { class: "button", href: login }, "Sign in with Google")));
}

async function signOut() {
  try {
    await api("DELETE", "/api/session"); // ends the session on the server too
  } catch (error) {
    console.warn(error);
  }
  storeKey(null);
  if (cleanup) { cleanup(); cleanup = null; }
  // The next person to sign in starts at a new chat, not at this person's chat address.
  history.replaceState(null, "", `#/${HOME}`);
  renderSignIn();
}

async function start() {
  session = await api("GET", "/api/me");
  await render();
}

setUnauthorizedHandler(() => {
  if (!session || !session.auth_enabled) return; // signing in handles its own refusal
  storeKey(null);
  if (cleanup) { cleanup(); cleanup = null; }
  renderSignIn("Your sign-in has ended (signed out, expired, or the key was revoked). Sign in again.");
});

wireThemeButton(document.getElementById("theme-toggle"));

navToggle.addEventListener("click", () => {
  const open = !nav.classList.contains("open");
  nav.classList.toggle("open", open);
  navToggle.setAttribute("aria-expanded", String(open));
});
window.addEventListener("hashchange", () => { if (session) render(); });

start().catch((error) => {
  if (error instanceof ApiError && error.status === 401) renderSignIn();
  else {
    clear(view);
    view.append(h("h1", {}, "Almanac"), h("p", { class: "notice error", role: "alert" }, describeError(error)));
  }
});
