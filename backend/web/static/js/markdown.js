// Markdown text in, DOM nodes out: markdown-it (vendored, ./vendor/README.md) parses
// CommonMark with GFM tables and strikethrough into tokens, and this module builds the nodes
// from them itself. Raw HTML is off and nothing is ever parsed as HTML: every character of
// the source ends up in a text node, so `<script>` or `<img onerror>` in a document or an
// answer is shown as those characters and never becomes markup. Links keep only http(s) and
// same-site targets (`safeHref`); images are shown as their text.
//
// Ours on top of CommonMark: a single line break is kept; a `*` between two digits is a
// multiplication sign (`2*3*4`), never emphasis; bare http(s) URLs are links; task list
// items ("- [x] done") show a checkbox; citation markers [n], [n, m] and [table: name] are
// handed to `cite`.

//
// markdown-it (126 KB) is fetched the first time there is Markdown to show, not with the
// page: until it is here, `renderMarkdown` shows the text as written and swaps in the nodes
// once it has arrived.

import { h } from "./dom.js";

/** Headings in an answer sit under the page's own h1/h2: "#" becomes h3. */
const HEADING_BASE = 2;

let parser = null;
let loading = null;

/** Whether the parser is here (`renderMarkdown` then renders at once). */
export const markdownReady = () => parser !== null;

/** Fetch the parser (once); resolves when `renderMarkdown` renders at once. */
export function loadMarkdown() {
  loading ??= import("./vendor/markdown-it.min.js").then(() => { // sets globalThis.markdownit
    const md = globalThis.markdownit({ html: false, linkify: true, breaks: true });
    md.linkify.set({ fuzzyLink: false, fuzzyEmail: false, fuzzyIP: false });
    md.inline.ruler.before("emphasis", "arithmetic_star", arithmeticStar);
    parser = md;
  });
  return loading;
}

const DIGIT = /[0-9]/;
const CITATION = /\[(\d{1,4}(?:\s*,\s*\d{1,4})*)\]|\[(table: [^\]\n]+)\]/g;
const TASK = /^\[([ xX])\]\s+/;

/** Inline rule: "2*3" keeps its star as text, so CommonMark's intraword emphasis never
 * turns arithmetic into italics. */
function arithmeticStar(state, silent) {
  const { src, pos } = state;
  if (src[pos] !== "*" || !DIGIT.test(src[pos - 1] ?? "") || !DIGIT.test(src[pos + 1] ?? "")) {
    return false;
  }
  if (!silent) state.pending += "*";
  state.pos += 1;
  return true;
}

/**
 * Render Markdown into a DocumentFragment.
 * options.cite(keys, label) -> Node|null: what a citation marker becomes: "[2]" and "[1, 3]"
 * give numbers, "[table: name]" gives ["table: name"]; null keeps the text as written.
 */
export function renderMarkdown(text, options = {}) {
  if (!parser) {
    const pending = h("div", { class: "md-pending" }, String(text ?? ""));
    loadMarkdown().then(() => pending.replaceWith(renderMarkdown(text, options)));
    return pending;
  }
  const fragment = document.createDocumentFragment();
  const tokens = parser.parse(String(text ?? ""), {});
  const stack = [fragment];
  for (let i = 0; i < tokens.length; i += 1) {
    const token = tokens[i];
    const parent = stack[stack.length - 1];
    if (token.hidden) continue; // a tight list's paragraphs: their text sits in the item
    if (token.nesting === 1) {
      const el = blockElement(token, tokens, i);
      if (token.type === "table_open") {
        parent.append(h("div", { class: "md-table" }, el));
      } else {
        parent.append(el);
      }
      stack.push(el);
    } else if (token.nesting === -1) {
      stack.pop();
    } else if (token.type === "inline") {
      parent.append(...inlineNodes(token.children ?? [], options));
    } else {
      const leaf = blockLeaf(token);
      if (leaf) parent.append(leaf);
    }
  }
  return fragment;
}

function blockElement(token, tokens, i) {
  switch (token.type) {
    case "heading_open":
      return h(`h${Math.min(Number(token.tag.slice(1)) + HEADING_BASE, 6)}`, { class: "md-heading" });
    case "ordered_list_open": {
      const start = Number(token.attrGet("start") ?? 1);
      return h("ol", { start: start === 1 ? null : start });
    }
    case "list_item_open":
      return listItem(tokens, i);
    case "th_open":
    case "td_open":
      // A class, not a style attribute: the page's CSP allows no inline styles.
      return h(token.tag, { scope: token.tag === "th" ? "col" : null, class: alignClass(token) });
    default:
      return h(token.tag, {});
  }
}

/** An item; "[ ] " or "[x] " opening its text makes it a task with a checkbox. */
function listItem(tokens, i) {
  const inline = tokens[i + 2];
  const first = inline?.type === "inline" ? inline.children?.[0] : null;
  const task = first?.type === "text" ? first.content.match(TASK) : null;
  if (!task) return h("li", {});
  first.content = first.content.slice(task[0].length);
  const checked = task[1] !== " ";
  return h("li", { class: "md-task" },
    h("input", { type: "checkbox", disabled: true, checked, "aria-label": checked ? "done" : "to do" }));
}

function alignClass(token) {
  const align = /text-align:(left|right|center)/.exec(token.attrGet("style") ?? "");
  return align ? `md-align-${align[1]}` : null;
}

function blockLeaf(token) {
  switch (token.type) {
    case "fence": {
      const lang = token.info.trim().split(/\s+/)[0];
      const cls = /^[\w+-]+$/.test(lang) ? `language-${lang}` : null;
      return h("pre", {}, h("code", { class: cls }, token.content.replace(/\n$/, "")));
    }
    case "code_block":
      return h("pre", {}, h("code", {}, token.content.replace(/\n+$/, "")));
    case "hr":
      return h("hr", {});
    default:
      return token.content ? document.createTextNode(token.content) : null;
  }
}

/** Inline tokens as nodes (links hold no links, citations or checkboxes). */
function inlineNodes(tokens, options) {
  const root = document.createDocumentFragment();
  const stack = [root];
  let inLink = Boolean(options.inLink);
  const top = () => stack[stack.length - 1];
  for (const token of tokens) {
    switch (token.type) {
      case "text":
        top().append(...textNodes(token.content, inLink ? {} : options));
        break;
      case "code_inline":
        top().append(h("code", {}, token.content));
        break;
      case "softbreak":
      case "hardbreak":
        top().append(h("br", {}));
        break;
      case "image": // shown as its text: the page loads no pictures a document names
        top().append(document.createTextNode(token.content));
        break;
      case "link_open": {
        const el = inLink ? h("span", {}) : link(token.attrGet("href"));
        top().append(el);
        stack.push(el);
        inLink = true;
        break;
      }
      case "link_close":
        stack.pop();
        inLink = Boolean(options.inLink);
        break;
      case "strong_open":
      case "em_open":
      case "s_open": {
        const el = h(token.tag, {});
        top().append(el);
        stack.push(el);
        break;
      }
      case "strong_close":
      case "em_close":
      case "s_close":
        stack.pop();
        break;
      default:
        if (token.content) top().append(document.createTextNode(token.content));
    }
  }
  return [...root.childNodes];
}

/** Text with its citation markers handed to `options.cite`. */
function textNodes(text, options) {
  if (!options.cite) return [document.createTextNode(text)];
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(CITATION)) {
    const [whole, numbers, table] = match;
    const keys = table !== undefined ? [table] : numbers.split(",").map((n) => Number(n.trim()));
    const node = options.cite(keys, whole);
    if (!node) continue;
    if (match.index > last) nodes.push(document.createTextNode(text.slice(last, match.index)));
    nodes.push(node);
    last = match.index + whole.length;
  }
  if (last < text.length) nodes.push(document.createTextNode(text.slice(last)));
  return nodes;
}

/** A link to an http(s) or same-site address; anything else (javascript:, data:, ...) is a
 * plain span holding the link's text. Other sites open in a new tab without access to this
 * one. */
function link(raw) {
  const href = safeHref(raw);
  if (!href) return h("span", {});
  const external = new URL(href, location.href).origin !== location.origin;
  return h("a", {
    href,
    target: external ? "_blank" : null,
    rel: external ? "noopener noreferrer" : "noopener",
  });
}

/** The address if it is http(s) or relative, else null. */
export function safeHref(raw) {
  const cleaned = String(raw ?? "").replace(/[\u0000-\u0020\u007f]/g, "");
  if (!cleaned) return null;
  let url;
  try {
    url = new URL(cleaned, location.href);
  } catch {
    return null;
  }
  return url.protocol === "http:" || url.protocol === "https:" ? cleaned : null;
}
