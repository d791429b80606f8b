#!/usr/bin/env node
// Parse a Vercel AI SDK *UI message stream* body (SSE, stdin) with the real client code.
//
//   node parse_ui_message_stream.mjs [--client current|v5] [--allow-error-chunks] < body.txt
//
// --client current (default): npm `ai` (7.x); --client v5: npm `ai@5` (alias `ai-v5`), the
// version pydantic-ai's `pydantic_ai.ui.vercel_ai` targets with its default sdk_version=5.
//
// The body goes through `parseJsonEventStream` + `uiMessageChunkSchema` (exactly what the
// client's DefaultChatTransport does; a chunk failing the schema is thrown), then through
// `readUIMessageStream({terminateOnError: true})`, which runs `processUIMessageStream`, the
// state machine `useChat` uses to build the assistant message. Harness rules on top (stream
// shape the client silently tolerates but a correct server never sends) are listed in
// README.md. Prints one JSON object on success; on any rejection prints to stderr, exits 1.
import { Rejected, describe, parseArgs, readStdin, run } from './_common.mjs';

const args = parseArgs(process.argv.slice(2), {
  flags: ['allow-error-chunks'],
  options: { client: { choices: ['current', 'v5'], default: 'current' } },
});
const PACKAGE = args.client === 'v5' ? 'ai-v5' : 'ai';

/** SSE framing checks the parser would otherwise paper over (e.g. a dropped last event). */
function checkFraming(body) {
  if (body.length === 0) throw new Rejected('empty stream');
  const text = body.replace(/\r\n?/g, '\n');
  if (!text.endsWith('\n\n')) {
    throw new Rejected('stream must end with a blank line: an SSE event without one is never dispatched');
  }
  const events = text.slice(0, -2).split(/\n\n+/);
  const datas = events.map((event, i) => {
    const data = event
      .split('\n')
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).replace(/^ /, ''));
    for (const line of event.split('\n')) {
      if (!/^(data|event|id|retry):|^:/.test(line) && line !== '') {
        throw new Rejected(`event ${i + 1}: not an SSE field line: ${describe(line)}`);
      }
    }
    return data.join('\n');
  });
  const done = datas.filter((d) => d === '[DONE]').length;
  if (done === 0 || datas.at(-1) !== '[DONE]') {
    throw new Rejected('stream must end with a `data: [DONE]` event');
  }
  if (done > 1) throw new Rejected('more than one `data: [DONE]` event');
}

/** Stream-shape rules the client does not enforce itself. */
class Rules {
  constructor() {
    this.n = 0;
    this.open = { text: new Set(), reasoning: new Set(), tool: new Set() };
    this.finished = false;
    this.aborted = false;
  }

  check(chunk) {
    this.n += 1;
    const where = `chunk ${this.n} (${chunk.type})`;
    if (this.n === 1 && chunk.type !== 'start') {
      throw new Rejected(`${where}: the first chunk must be {"type":"start"}`);
    }
    if (this.finished) throw new Rejected(`${where}: chunk after the "finish" chunk`);
    const pair = (kind, id, phase) => {
      const open = this.open[kind];
      if (phase === 'start') {
        if (open.has(id)) throw new Rejected(`${where}: ${kind} part ${describe(id)} started twice`);
        open.add(id);
      } else if (!open.has(id)) {
        throw new Rejected(`${where}: no open ${kind}-start with id ${describe(id)}`);
      } else if (phase === 'end') {
        open.delete(id);
      }
    };
    switch (chunk.type) {
      case 'text-start':
        return pair('text', chunk.id, 'start');
      case 'text-delta':
        return pair('text', chunk.id, 'delta');
      case 'text-end':
        return pair('text', chunk.id, 'end');
      case 'reasoning-start':
        return pair('reasoning', chunk.id, 'start');
      case 'reasoning-delta':
        return pair('reasoning', chunk.id, 'delta');
      case 'reasoning-end':
        return pair('reasoning', chunk.id, 'end');
      case 'tool-input-start':
        return pair('tool', chunk.toolCallId, 'start');
      case 'tool-input-delta':
        return pair('tool', chunk.toolCallId, 'delta');
      case 'tool-input-available':
      case 'tool-input-error':
        this.open.tool.delete(chunk.toolCallId);
        return undefined;
      case 'finish':
        this.finished = true;
        return undefined;
      case 'abort':
        this.aborted = true;
        return undefined;
      default:
        return undefined;
    }
  }

  end() {
    if (!this.finished && !this.aborted) {
      throw new Rejected('stream has no "finish" (or "abort") chunk before `data: [DONE]`');
    }
    for (const [kind, ids] of Object.entries(this.open)) {
      if (ids.size > 0 && this.finished) {
        const what = kind === 'tool' ? 'tool-input-start without tool-input-available' : `${kind}-start without ${kind}-end`;
        throw new Rejected(`${what} at finish: ${[...ids].join(', ')}`);
      }
    }
  }
}

/** Boil a zod union failure down to the branch for the chunk's own `type`. */
function summarizeSchemaError(error, raw) {
  const issues = error?.cause?.issues;
  if (!Array.isArray(issues)) return describe(error?.message ?? String(error), 1000);
  const out = [];
  for (const issue of issues) {
    if (issue.code === 'invalid_union' && Array.isArray(issue.errors)) {
      const branches = issue.errors.filter((branch) => !branch.some((i) => i.path?.[0] === 'type'));
      if (branches.length === 0) {
        out.push(`unknown chunk type ${describe(raw?.type)}`);
        continue;
      }
      for (const branch of branches) {
        for (const i of branch) out.push(`${(i.path ?? []).join('.') || '(chunk)'}: ${i.message}`);
      }
    } else {
      out.push(`${(issue.path ?? []).join('.') || '(chunk)'}: ${issue.message}`);
    }
  }
  return out.join('; ');
}

function bodyStream(text) {
  const bytes = new TextEncoder().encode(text);
  return new ReadableStream({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
}

run(async () => {
  const body = await readStdin();
  checkFraming(body);
  const { parseJsonEventStream, readUIMessageStream, uiMessageChunkSchema } = await import(PACKAGE);
  const label = `${PACKAGE === 'ai' ? 'ai (current)' : 'ai@5'}`;

  const chunks = [];
  const errors = [];
  const rules = new Rules();
  const chunkStream = parseJsonEventStream({ stream: bodyStream(body), schema: uiMessageChunkSchema }).pipeThrough(
    new TransformStream({
      transform(result, controller) {
        const where = `chunk ${chunks.length + 1}`;
        if (!result.success) {
          if (result.rawValue === undefined) {
            throw new Rejected(`${where}: not JSON: ${describe(result.error?.message ?? '', 500)}`);
          }
          throw new Rejected(
            `${where}: ${label} uiMessageChunkSchema rejected ${describe(result.rawValue, 500)}: ` +
              summarizeSchemaError(result.error, result.rawValue),
          );
        }
        const chunk = result.value;
        chunks.push(chunk);
        rules.check(chunk);
        if (chunk.type === 'error') {
          errors.push(chunk.errorText);
          if (!args['allow-error-chunks']) {
            throw new Rejected(`${where}: error chunk ${describe(chunk.errorText)} (pass --allow-error-chunks to accept)`);
          }
          // The client only hands an error chunk to onError (useChat's `error`); it never
          // changes the message, and terminateOnError would end the read here, so the
          // harness reports it and does not forward it.
          return;
        }
        controller.enqueue(chunk);
      },
    }),
  );

  const clientErrors = [];
  const messages = new Map();
  try {
    for await (const message of readUIMessageStream({
      stream: chunkStream,
      terminateOnError: true,
      onError: (err) => clientErrors.push(err),
    })) {
      messages.set(message.id, message);
    }
  } catch (err) {
    if (err instanceof Rejected) throw err;
    throw new Rejected(`${label} readUIMessageStream rejected the stream: ${err?.message ?? err}`);
  }
  if (clientErrors.length > 0) {
    throw new Rejected(`${label} reported: ${clientErrors.map((e) => e?.message ?? e).join('; ')}`);
  }
  rules.end();
  return { client: args.client, chunks, messages: [...messages.values()], errors };
});
