// Reads an SSE body (stdin) with the WHATWG EventSource (Node's, behind
// --experimental-eventsource): the body is served once from a local HTTP server and read the
// way a browser would. Prints {messages, data, end}: the data of each `message` event in
// order, their concatenation, and the data of the first `end` event (the reader closes there).
// Rejected when the stream closes before an `end` event (EventSource would reconnect).
import http from 'node:http';
import { Rejected, readStdin, run } from './_common.mjs';

await run(async () => {
  if (typeof EventSource !== 'function') {
    throw new Rejected('no global EventSource: run node with --experimental-eventsource');
  }
  const body = await readStdin();
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.end(body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  try {
    return await new Promise((resolve, reject) => {
      const source = new EventSource(`http://127.0.0.1:${port}/advice`);
      const messages = [];
      source.onmessage = (event) => messages.push(event.data);
      source.addEventListener('end', (event) => {
        source.close();
        resolve({ messages, data: messages.join(''), end: event.data });
      });
      source.onerror = () => {
        source.close();
        reject(new Rejected(`the stream closed without an end event after ${messages.length} messages`));
      };
    });
  } finally {
    server.close();
  }
});
