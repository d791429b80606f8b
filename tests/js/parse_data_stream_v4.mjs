#!/usr/bin/env node
// Parse a Vercel AI SDK v4 *data stream* body (stdin) with ai@4's own client code.
//
//   node parse_data_stream_v4.mjs [--reject-error-parts] < body.txt
//
// Three passes, all must succeed:
//   1. every line through ai@4 `parseDataStreamPart` (line numbers in messages) plus the
//      harness rules below;
//   2. the whole body through ai@4 `processDataStream` with a callback for every part type;
//   3. the whole body through `callChatApi` (what `useChat` runs, i.e. `processChatResponse`)
//      to build the final assistant message exactly as a v4 client would hold it.
// Prints one JSON object on success; on any rejection prints to stderr and exits 1.
//
// ai@4.3.x re-exports `parseDataStreamPart`/`processDataStream` from `@ai-sdk/ui-utils`, which
// also holds `callChatApi`; importing that package directly (pinned to the exact version ai@4
// depends on, checked below) halves node's start-up time compared with loading all of ai@4.
import { createRequire } from 'node:module';
import { callChatApi, parseDataStreamPart, processDataStream } from '@ai-sdk/ui-utils';
import { Rejected, describe, parseArgs, readStdin, run } from './_common.mjs';

const require = createRequire(import.meta.url);
const wanted = require('ai-v4/package.json').dependencies['@ai-sdk/ui-utils'];
const installed = require('@ai-sdk/ui-utils/package.json').version;
if (wanted !== installed) {
  process.stderr.write(
    `harness misconfigured: ai@4 uses @ai-sdk/ui-utils ${wanted}, but ${installed} is installed; ` +
      'pin the same version in tests/js/package.json\n',
  );
  process.exit(3);
}

const FINISH_REASONS = new Set([
  'stop',
  'length',
  'content-filter',
  'tool-calls',
  'error',
  'other',
  'unknown',
]);

const args = parseArgs(process.argv.slice(2), { flags: ['reject-error-parts'] });

function isPlainObject(v) {
  return v != null && typeof v === 'object' && !Array.isArray(v);
}

function checkFinish(where, raw) {
  if (!FINISH_REASONS.has(raw.finishReason)) {
    throw new Rejected(
      `${where}: finishReason ${describe(raw.finishReason)} is not one of ${[...FINISH_REASONS].join('|')}`,
    );
  }
  if ('usage' in raw && raw.usage != null) {
    const u = raw.usage;
    if (!isPlainObject(u) || typeof u.promptTokens !== 'number' || typeof u.completionTokens !== 'number') {
      throw new Rejected(
        `${where}: usage must be {promptTokens: number, completionTokens: number}, got ${describe(u)}`,
      );
    }
  }
}

/** Pass 1: parse each line and enforce the protocol rules the client relies on. */
function parseLines(body) {
  if (body.length === 0) throw new Rejected('empty stream');
  if (!body.endsWith('\n')) throw new Rejected('stream must end with a newline ("\\n") after its last part');
  const lines = body.slice(0, -1).split('\n');
  const parts = [];
  const errors = [];
  const partial = new Map(); // toolCallId -> toolName, from `b:` until its `9:`
  const called = new Map(); // toolCallId -> toolName, from `9:`
  const resulted = new Set();
  let finished = false;

  lines.forEach((line, i) => {
    const where = `line ${i + 1}`;
    if (line === '') return; // the client skips blank lines
    if (finished) throw new Rejected(`${where}: part after the finish message (d:) ${describe(line)}`);
    let part;
    try {
      part = parseDataStreamPart(line);
    } catch (err) {
      throw new Rejected(`${where}: ai@4 parseDataStreamPart rejected ${describe(line)}: ${err.message}`);
    }
    const raw = JSON.parse(line.slice(line.indexOf(':') + 1));
    const { type, value } = part;
    switch (type) {
      case 'error':
        errors.push(value);
        if (args['reject-error-parts']) throw new Rejected(`${where}: error part ${describe(value)}`);
        break;
      case 'tool_call_streaming_start':
        if (partial.has(value.toolCallId) || called.has(value.toolCallId)) {
          throw new Rejected(`${where}: duplicate tool call streaming start for toolCallId ${value.toolCallId}`);
        }
        partial.set(value.toolCallId, value.toolName);
        break;
      case 'tool_call_delta':
        if (!partial.has(value.toolCallId)) {
          throw new Rejected(
            `${where}: c: tool call delta must follow a b: tool call streaming start with toolCallId ${value.toolCallId}`,
          );
        }
        break;
      case 'tool_call':
        if (!isPlainObject(value.args)) {
          throw new Rejected(`${where}: 9: tool call args must be a JSON object, got ${describe(value.args)}`);
        }
        if (called.has(value.toolCallId)) {
          throw new Rejected(`${where}: duplicate 9: tool call for toolCallId ${value.toolCallId}`);
        }
        if (partial.has(value.toolCallId) && partial.get(value.toolCallId) !== value.toolName) {
          throw new Rejected(`${where}: 9: toolName differs from its b: streaming start (${value.toolCallId})`);
        }
        partial.delete(value.toolCallId);
        called.set(value.toolCallId, value.toolName);
        break;
      case 'tool_result':
        if (!called.has(value.toolCallId)) {
          throw new Rejected(
            `${where}: a: tool result must follow a 9: tool call with the same toolCallId (${value.toolCallId})`,
          );
        }
        if (resulted.has(value.toolCallId)) {
          throw new Rejected(`${where}: duplicate a: tool result for toolCallId ${value.toolCallId}`);
        }
        resulted.add(value.toolCallId);
        break;
      case 'finish_step':
        checkFinish(where, raw);
        break;
      case 'finish_message':
        checkFinish(where, raw);
        finished = true;
        break;
      default:
        break;
    }
    parts.push({ type, value });
  });
  if (!finished) throw new Rejected('stream must end with a d: finish message part');
  if (partial.size > 0) {
    throw new Rejected(`tool call(s) streamed (b:) but never completed with 9:: ${[...partial.keys()].join(', ')}`);
  }
  return { parts, errors };
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

/** Pass 2: ai@4 processDataStream with every callback. */
async function processAll(body) {
  const out = {
    text: '',
    reasoning: '',
    toolCalls: [],
    toolResults: [],
    data: [],
    annotations: [],
    sources: [],
    files: [],
    errors: [],
    finishSteps: [],
    finishReason: null,
    usage: null,
    count: 0,
  };
  const seen = (fn) => (value) => {
    out.count += 1;
    fn(value);
  };
  await processDataStream({
    stream: bodyStream(body),
    onTextPart: seen((v) => {
      out.text += v;
    }),
    onReasoningPart: seen((v) => {
      out.reasoning += v;
    }),
    onReasoningSignaturePart: seen(() => {}),
    onRedactedReasoningPart: seen(() => {}),
    onSourcePart: seen((v) => out.sources.push(v)),
    onFilePart: seen((v) => out.files.push(v)),
    onDataPart: seen((v) => out.data.push(...v)),
    onErrorPart: seen((v) => out.errors.push(v)),
    onToolCallStreamingStartPart: seen(() => {}),
    onToolCallDeltaPart: seen(() => {}),
    onToolCallPart: seen((v) => out.toolCalls.push(v)),
    onToolResultPart: seen((v) => out.toolResults.push(v)),
    onMessageAnnotationsPart: seen((v) => out.annotations.push(...v)),
    onFinishMessagePart: seen((v) => {
      out.finishReason = v.finishReason;
      out.usage = v.usage ?? null;
    }),
    onFinishStepPart: seen((v) => out.finishSteps.push(v)),
    onStartStepPart: seen(() => {}),
  });
  return out;
}

/** Pass 3: the useChat code path (callChatApi -> processChatResponse). */
async function useChatMessage(body) {
  // processChatResponse throws on `3:` parts (that is how useChat surfaces them as `error`);
  // they are reported separately, so build the message from the other parts.
  const withoutErrors = body
    .split('\n')
    .filter((line) => !line.startsWith('3:'))
    .join('\n');
  let finished = null;
  let ids = 0;
  await callChatApi({
    api: 'http://conformance.invalid/chat',
    body: { messages: [] },
    streamProtocol: 'data',
    credentials: undefined,
    headers: undefined,
    abortController: () => null,
    restoreMessagesOnFailure: () => {},
    onResponse: undefined,
    onUpdate: () => {},
    onFinish: (message, { usage, finishReason }) => {
      finished = { message, usage, finishReason };
    },
    onToolCall: undefined,
    generateId: () => `msg-${++ids}`,
    fetch: async () =>
      new Response(bodyStream(withoutErrors), {
        status: 200,
        headers: { 'content-type': 'text/plain; charset=utf-8', 'x-vercel-ai-data-stream': 'v1' },
      }),
    lastMessage: undefined,
  });
  if (finished == null) throw new Rejected('useChat (callChatApi) never finished the message');
  // Drop the fields that differ on every run (render bookkeeping and a wall-clock date).
  const { revisionId: _revisionId, createdAt: _createdAt, ...message } = finished.message;
  return message;
}

run(async () => {
  const body = await readStdin();
  const { parts, errors } = parseLines(body);
  let processed;
  try {
    processed = await processAll(body);
  } catch (err) {
    throw new Rejected(`ai@4 processDataStream rejected the stream: ${err.message}`);
  }
  if (processed.count !== parts.length) {
    throw new Rejected(`processDataStream saw ${processed.count} parts, line parser saw ${parts.length}`);
  }
  let message;
  try {
    message = await useChatMessage(body);
  } catch (err) {
    if (err instanceof Rejected) throw err;
    throw new Rejected(`ai@4 useChat (processChatResponse) rejected the stream: ${err.message}`);
  }
  return {
    text: processed.text,
    parts,
    toolCalls: processed.toolCalls,
    toolResults: processed.toolResults,
    data: processed.data,
    annotations: processed.annotations,
    reasoning: processed.reasoning,
    sources: processed.sources,
    errors,
    finishSteps: processed.finishSteps,
    finishReason: processed.finishReason,
    usage: processed.usage,
    message,
  };
});
