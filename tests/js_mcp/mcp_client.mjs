// Drives Almanac's MCP server with the official MCP TypeScript SDK's client, as an IDE agent
// would, and prints one JSON object of what it saw (tests/mcp_clients.py reads it).
//
//   node mcp_client.mjs http URL [KEY]      streamable HTTP, the key as `Authorization: Bearer`
//   node mcp_client.mjs stdio COMMAND ARG.. a local server over stdio (the environment passes on)
//
// It lists the tools, calls search_knowledge_base and ask, lists the resources and reads the
// first, and calls a tool with arguments its schema refuses. A connection the server refuses
// prints {"refused": true, "message": ...} and exits 0: the caller decides what it expected.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [mode, target, ...rest] = process.argv.slice(2);

function transport() {
  if (mode === "http") {
    const headers = rest[0] ? { Authorization: `Bearer ${rest[0]}` } : {};
    return new StreamableHTTPClientTransport(new URL(target), { requestInit: { headers } });
  }
  if (mode === "stdio") {
    return new StdioClientTransport({ command: target, args: rest, env: process.env, stderr: "ignore" });
  }
  throw new Error(`unknown mode ${mode}`);
}

const client = new Client({ name: "almanac-tests", version: "0.0.0" });
try {
  await client.connect(transport());
} catch (error) {
  console.log(JSON.stringify({ refused: true, message: String(error?.message ?? error) }));
  process.exit(0);
}

const tools = await client.listTools();
const search = await client.callTool({
  name: "search_knowledge_base",
  arguments: { query: "password rotation", limit: 3 },
});
const ask = await client.callTool({
  name: "ask",
  arguments: { question: "How often must passwords change?" },
});
const resources = await client.listResources();
const templates = await client.listResourceTemplates();
const first = resources.resources[0];
const read = await client.readResource({ uri: first.uri });
let invalid = null;
try {
  await client.callTool({ name: "search_knowledge_base", arguments: { query: 42 } });
} catch (error) {
  invalid = { code: error.code, message: error.message };
}
await client.close();

console.log(
  JSON.stringify({
    refused: false,
    server: client.getServerVersion(),
    tools: tools.tools.map((t) => ({
      name: t.name,
      description: t.description,
      inputSchema: t.inputSchema,
      outputSchema: t.outputSchema ?? null,
    })),
    search: { isError: search.isError ?? false, structured: search.structuredContent },
    ask: { isError: ask.isError ?? false, structured: ask.structuredContent },
    resources: resources.resources.map((r) => ({ uri: r.uri, name: r.name, title: r.title })),
    templates: templates.resourceTemplates.map((t) => t.uriTemplate),
    read: read.contents.map((c) => ({ uri: c.uri, mimeType: c.mimeType, text: c.text })),
    invalid,
  }),
);
