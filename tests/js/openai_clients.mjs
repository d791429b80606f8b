// Almanac's OpenAI-compatible API (`/v1`) through the real JS clients a Node or Next.js app
// uses: the `openai` package and the Vercel AI SDK (`ai` with `@ai-sdk/openai-compatible`).
// Usage: node openai_clients.mjs --base-url http://127.0.0.1:PORT/v1 --key KEY --question TEXT
// Prints one JSON object of what each client got (tests/e2e/test_openai_js_clients.py checks it).

import OpenAI from 'openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { APICallError, generateText, streamText } from 'ai';

function arg(name) {
  const index = process.argv.indexOf(`--${name}`);
  if (index === -1 || index + 1 >= process.argv.length) {
    console.error(`usage: node openai_clients.mjs --base-url URL --key KEY --question TEXT`);
    process.exit(2);
  }
  return process.argv[index + 1];
}

const baseURL = arg('base-url');
const apiKey = arg('key');
const question = arg('question');
const messages = [{ role: 'user', content: question }];

/** The class name of the error `call` throws, with its status and message. */
async function refusal(call) {
  try {
    await call();
  } catch (error) {
    return {
      name: error.constructor.name,
      status: error.status ?? error.statusCode ?? null,
      message: String(error.message),
      apiCallError: APICallError.isInstance(error),
    };
  }
  return null;
}

async function withOpenAI() {
  const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });
  const models = [];
  for await (const model of client.models.list()) models.push(model.id);
  const completion = await client.chat.completions.create({ model: 'almanac', messages });
  const stream = await client.chat.completions.create({
    model: 'almanac',
    messages,
    stream: true,
    stream_options: { include_usage: true },
  });
  let streamed = '';
  let finish = null;
  let almanac = null;
  let usageChunk = false;
  for await (const chunk of stream) {
    for (const choice of chunk.choices) {
      streamed += choice.delta?.content ?? '';
      if (choice.finish_reason) finish = choice.finish_reason;
    }
    if (chunk.almanac) almanac = chunk.almanac;
    if (chunk.choices.length === 0 && 'usage' in chunk) usageChunk = true;
  }
  const wrongKey = new OpenAI({ baseURL, apiKey: 'almanac-wrong', maxRetries: 0 });
  return {
    models,
    answer: completion.choices[0].message.content,
    sources: completion.choices[0].message.almanac.sources,
    streamed,
    finish,
    streamedSources: almanac?.sources ?? null,
    streamedAnswer: almanac?.answer ?? null,
    usageChunk,
    errors: {
      auth: await refusal(() => wrongKey.models.list()),
      notFound: await refusal(() =>
        client.chat.completions.create({ model: 'gpt-4o', messages }),
      ),
      badRequest: await refusal(() =>
        client.chat.completions.create({ model: 'almanac', messages, n: 2 }),
      ),
    },
  };
}

/** Almanac's answer fields, as an app reads them through the provider's metadata. */
const almanacMetadata = {
  async extractMetadata({ parsedBody }) {
    return { almanac: parsedBody?.choices?.[0]?.message?.almanac ?? {} };
  },
  createStreamExtractor() {
    let fields = null;
    return {
      processChunk(chunk) {
        if (chunk?.almanac) fields = chunk.almanac;
      },
      buildMetadata() {
        return fields ? { almanac: fields } : undefined;
      },
    };
  },
};

async function withVercelAI() {
  const almanac = createOpenAICompatible({
    name: 'almanac',
    baseURL,
    apiKey,
    includeUsage: true,
    metadataExtractor: almanacMetadata,
  });
  const generated = await generateText({ model: almanac('almanac'), messages, maxRetries: 0 });
  const streamed = streamText({ model: almanac('almanac'), messages, maxRetries: 0 });
  let text = '';
  for await (const delta of streamed.textStream) text += delta;
  const metadata = await streamed.providerMetadata;
  const refused = await refusal(() =>
    generateText({ model: almanac('gpt-4o'), messages, maxRetries: 0 }),
  );
  return {
    text: generated.text,
    finishReason: generated.finishReason,
    sources: generated.providerMetadata?.almanac?.sources ?? null,
    streamed: text,
    streamedFinishReason: await streamed.finishReason,
    streamedSources: metadata?.almanac?.sources ?? null,
    notFound: refused,
  };
}

const out = { openai: await withOpenAI(), vercel: await withVercelAI() };
console.log(JSON.stringify(out));
