// A small, safe Markdown renderer: Markdown text in, DOM nodes out. It never parses HTML:
// every character of the source ends up in a text node, so `<script>` or `<img onerror>` in a
// document or an answer is shown as those characters and never becomes markup. Links keep
// only http(s) and same-site targets.
//
// Blocks: paragraphs (a single line break is kept), headings, bullet and numbered lists,
// block quotes, fenced and indented code, tables, rules. Inline: **bold**, *italic*, `code`,
// [links](url), bare http(s) URLs, and citation markers [n] and [table: name] (handed to `cite`).

import { h } from "./dom.js";

/** Headings in an answer sit under the page's own h1/h2: "#" becomes h3. */
const HEADING_BASE = 2;

const FENCE = /^\s{0,3}(`{3,}|~{3,})\s*([\w+-]*)\s*$/;
const HEADING = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const RULE = /^\s{0,3}([-*_])(\s*\1){2,}\s*$/;
const BULLET = /^(\s*)[-*+]\s+(.*)$/;
const ORDERED = /^(\s*)(\d{1,9})[.)]\s+(.*)$/;
const QUOTE = /^\s{0,3}>\s?(.*)$/;
const TABLE_ROW = /^\s*\|.*\|\s*$/;
const TABLE_RULE = /^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$/;
const INDENTED = /^( {4}|\t)/;

/**
 * Render Markdown into a DocumentFragment.
 * options.cite(keys, label) -> Node|null: what a citation marker becomes: "[2]" and "[1, 3]"
 * give numbers, "[table: name]" gives ["table: name"]; null keeps the text as written.
 */
export function renderMarkdown(text, options = {}) {
  const fragment = document.createDocumentFragment();
  const lines = String(text ?? "").replace(/\r\n?/g, "\n").split("\n");
  for (const block of parseBlocks(lines)) fragment.append(renderBlock(block, options));
  return fragment;
}

/** Split lines into blocks: {type, ...}. */
function parseBlocks(lines) {
  const blocks = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) { i += 1; continue; }
    const fence = line.match(FENCE);
    if (fence) {
      const body = [];
      i += 1;
      while (i < lines.length && !lines[i].trim().startsWith(fence[1])) body.push(lines[i++]);
      i += 1; // the closing fence (or the end of an unfinished stream)
      blocks.push({ type: "code", text: body.join("\n"), lang: fence[2] });
      continue;
    }
    const heading = line.match(HEADING);
    if (heading) {
      blocks.push({ type: "heading", level: heading[1].length, text: heading[2] });
      i += 1;
      continue;
    }
    if (RULE.test(line)) { blocks.push({ type: "rule" }); i += 1; continue; }
    if (TABLE_ROW.test(line) && i + 1 < lines.length && TABLE_RULE.test(lines[i + 1])) {
      const rows = [line];
      const align = splitRow(lines[i + 1]).map(alignOf);
      i += 2;
      while (i < lines.length && TABLE_ROW.test(lines[i])) rows.push(lines[i++]);
      blocks.push({ type: "table", rows: rows.map(splitRow), align });
      continue;
    }
    if (QUOTE.test(line)) {
      const body = [];
      while (i < lines.length && QUOTE.test(lines[i])) body.push(lines[i++].match(QUOTE)[1]);
      blocks.push({ type: "quote", blocks: parseBlocks(body) });
      continue;
    }
    if (BULLET.test(line) || ORDERED.test(line)) {
      const parsed = parseList(lines, i);
      blocks.push(parsed.list);
      i = parsed.next;
      continue;
    }
    if (INDENTED.test(line)) {
      const body = [];
      while (i < lines.length && (INDENTED.test(lines[i]) || !lines[i].trim())) {
        body.push(lines[i++].replace(INDENTED, ""));
      }
      blocks.push({ type: "code", text: body.join("\n").replace(/\n+$/, ""), lang: "" });
      continue;
    }
    const body = [];
    while (i < lines.length && lines[i].trim() && !startsBlock(lines, i)) body.push(lines[i++].trim());
    if (!body.length) body.push(lines[i++].trim()); // a line no other block took
    blocks.push({ type: "paragraph", lines: body });
  }
  return blocks;
}

function startsBlock(lines, i) {
  const line = lines[i];
  return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line)
    || BULLET.test(line) || ORDERED.test(line)
    || (TABLE_ROW.test(line) && i + 1 < lines.length && TABLE_RULE.test(lines[i + 1]));
}

/** A list from line `start`: items keep their continuation lines and nested lists. */
function parseList(lines, start) {
  const first = lines[start].match(ORDERED) || lines[start].match(BULLET);
  const ordered = ORDERED.test(lines[start]);
  const indent = first[1].length;
  const list = { type: "list", ordered, start: ordered ? Number(first[2]) : 1, items: [] };
  let i = start;
  while (i < lines.length) {
    const line = lines[i];
    const marker = ordered ? line.match(ORDERED) : line.match(BULLET);
    if (!marker || marker[1].length !== indent) break;
    const body = [ordered ? marker[3] : marker[2]];
    i += 1;
    while (i < lines.length) {
      const next = lines[i];
      if (!next.trim()) {
        const after = lines[i + 1];
        if (after !== undefined && leading(after) > indent) { body.push(""); i += 1; continue; }
        break;
      }
      const sibling = (ORDERED.test(next) || BULLET.test(next)) && leading(next) <= indent;
      if (sibling || (leading(next) <= indent && startsBlock(lines, i))) break;
      body.push(next.slice(Math.min(leading(next), indent + 2)));
      i += 1;
    }
    list.items.push(parseBlocks(body));
    if (i < lines.length && !lines[i].trim()) i += 1;
  }
  return { list, next: i };
}

function leading(line) {
  return line.length - line.trimStart().length;
}

/** A column's alignment from its rule cell: ":--" left, "--:" right, ":-:" centre. */
function alignOf(rule) {
  const left = rule.startsWith(":");
  const right = rule.endsWith(":");
  if (left && right) return "center";
  if (right) return "right";
  return left ? "left" : null;
}

function splitRow(row) {
  const cells = row.trim().replace(/^\|/, "").replace(/\|$/, "").split(/(?<!\\)\|/);
  return cells.map((cell) => cell.trim().replace(/\\\|/g, "|"));
}

function renderBlock(block, options) {
  switch (block.type) {
    case "heading":
      return h(`h${Math.min(block.level + HEADING_BASE, 6)}`, { class: "md-heading" },
        renderInline(block.text, options));
    case "code":
      return h("pre", {}, h("code", { class: block.lang ? `language-${block.lang}` : null }, block.text));
    case "rule":
      return h("hr", {});
    case "quote":
      return h("blockquote", {}, block.blocks.map((b) => renderBlock(b, options)));
    case "table":
      return renderTable(block.rows, block.align, options);
    case "list": {
      const items = block.items.map((blocks) => h("li", {}, renderItem(blocks, options)));
      return block.ordered
        ? h("ol", { start: block.start === 1 ? null : block.start }, items)
        : h("ul", {}, items);
    }
    default: {
      const parts = [];
      block.lines.forEach((line, n) => {
        if (n) parts.push(h("br", {}));
        parts.push(renderInline(line, options));
      });
      return h("p", {}, parts);
    }
  }
}

/** A list item whose first block is a paragraph shows it without the paragraph's margins. */
function renderItem(blocks, options) {
  if (blocks[0]?.type !== "paragraph") return blocks.map((block) => renderBlock(block, options));
  const [first, ...rest] = blocks;
  return [...renderBlock(first, options).childNodes, ...rest.map((block) => renderBlock(block, options))];
}

function renderTable(rows, align, options) {
  const [head, ...body] = rows;
  // A class, not a style attribute: the page's CSP allows no inline styles.
  const cls = (n) => (align[n] ? `md-align-${align[n]}` : null);
  return h("div", { class: "md-table" },
    h("table", {},
      h("thead", {}, h("tr", {}, head.map((cell, n) => h("th", { scope: "col", class: cls(n) }, renderInline(cell, options))))),
      h("tbody", {}, body.map((row) => h("tr", {}, head.map((_, n) => h("td", { class: cls(n) }, renderInline(row[n] ?? "", options))))))));
}

// Inline syntax, tried left to right; the first match wins at each position.
const INLINE = new RegExp([
  /(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)/.source, // 1, 2: code span
  /\*\*(?=\S)([\s\S]*?\S)\*\*/.source, // 3: bold
  /__(?=\S)([\s\S]*?\S)__(?!\w)/.source, // 4: bold
  /\*(?=[^\s*])([\s\S]*?[^\s*])\*/.source, // 5: italic
  /(?<![\w\\])_(?=[^\s_])([\s\S]*?[^\s_])_(?!\w)/.source, // 6: italic
  /\[([^\]\n]+)\]\(([^()\s]*(?:\([^()\s]*\)[^()\s]*)*)\)/.source, // 7, 8: link
  /\[(\d{1,4}(?:\s*,\s*\d{1,4})*)\]/.source, // 9: citation [n] or [n, m]
  /\b(https?:\/\/[^\s<>"'`]*[^\s<>"'`.,;:!?)\]])/.source, // 10: bare URL
  /\\([\\`*_[\]()#+\-.!|>~])/.source, // 11: escaped punctuation
  /\[(table: [^\]\n]+)\]/.source, // 12: citation of a table lookup
].join("|"), "g");

/** Inline Markdown as an array of nodes. */
export function renderInline(text, options = {}) {
  const nodes = [];
  let last = 0;
  const source = String(text ?? "");
  const pattern = new RegExp(INLINE.source, "g"); // own lastIndex: this recurses
  let match;
  while ((match = pattern.exec(source))) {
    if (match.index > last) nodes.push(textNode(source.slice(last, match.index)));
    nodes.push(inlineNode(match, options));
    last = pattern.lastIndex;
  }
  if (last < source.length) nodes.push(textNode(source.slice(last)));
  return nodes;
}

const NAMED_ENTITIES = { amp: "&", lt: "<", gt: ">", quot: "\"", apos: "'", nbsp: "\u00a0" };

/** Text with its character references decoded (`&lt;` is "<", as Markdown reads it),
 * always as a text node: a decoded "<script>" is shown, never parsed. */
function textNode(text) {
  return document.createTextNode(decodeEntities(text));
}

function decodeEntities(text) {
  return text.replace(/&(#\d{1,7}|#x[0-9a-f]{1,6}|[a-z]{2,8});/gi, (whole, name) => {
    if (name[0] !== "#") return NAMED_ENTITIES[name.toLowerCase()] ?? whole;
    const hex = name[1] === "x" || name[1] === "X";
    const code = parseInt(name.slice(hex ? 2 : 1), hex ? 16 : 10);
    const valid = code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff);
    return valid ? String.fromCodePoint(code) : "\ufffd";
  });
}

function inlineNode(match, options) {
  const [whole, , code, bold1, bold2, em1, em2, linkText, linkUrl, cited, url, escaped, table] = match;
  if (code !== undefined) return h("code", {}, code.replace(/^ (.*) $/, "$1"));
  if (bold1 !== undefined || bold2 !== undefined) return h("strong", {}, renderInline(bold1 ?? bold2, options));
  if (em1 !== undefined || em2 !== undefined) return h("em", {}, renderInline(em1 ?? em2, options));
  if (linkText !== undefined) {
    const inner = renderInline(linkText, { ...options, inLink: true });
    return options.inLink ? h("span", {}, inner) : link(decodeEntities(linkUrl), inner, whole);
  }
  if (cited !== undefined || table !== undefined) {
    const keys = table !== undefined ? [table] : cited.split(",").map((n) => Number(n.trim()));
    return (options.cite && options.cite(keys, whole)) || document.createTextNode(whole);
  }
  if (url !== undefined) return options.inLink ? textNode(url) : link(decodeEntities(url), [url], whole);
  if (escaped !== undefined) return document.createTextNode(escaped);
  return textNode(whole);
}

/** A link to an http(s) or same-site address; anything else (javascript:, data:, ...) stays
 * text. Other sites open in a new tab without access to this one. */
function link(raw, children, whole) {
  const href = safeHref(raw);
  if (!href) return document.createTextNode(whole);
  const external = new URL(href, location.href).origin !== location.origin;
  return h("a", {
    href,
    target: external ? "_blank" : null,
    rel: external ? "noopener noreferrer" : "noopener",
  }, children);
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
