// Server-Sent Events from a fetch() response (EventSource cannot POST or send a key). Parsed
// as the HTML standard says: events end at a blank line; `data:` lines join with "\n"; a
// line starting with ":" is a comment; one space after the colon is dropped; an event left
// unfinished when the body ends is dropped.

/** Yield {event, data, id} for each event of the response body, as it arrives. */
export async function* readEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let pending = newEvent();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      // A "\r" at the very end may be the first half of "\r\n": wait for the next chunk.
      const upTo = buffer.endsWith("\r") ? buffer.length - 1 : buffer.length;
      const lines = buffer.slice(0, upTo).replace(/\r\n?/g, "\n").split("\n");
      buffer = lines.pop() + buffer.slice(upTo);
      for (const line of lines) {
        if (line === "") {
          if (pending.data.length) yield finish(pending);
          pending = newEvent();
        } else {
          readField(pending, line);
        }
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

function newEvent() {
  return { event: "message", data: [], id: null };
}

function finish(pending) {
  return { event: pending.event, data: pending.data.join("\n"), id: pending.id };
}

function readField(pending, line) {
  if (line.startsWith(":")) return;
  const colon = line.indexOf(":");
  const name = colon < 0 ? line : line.slice(0, colon);
  let value = colon < 0 ? "" : line.slice(colon + 1);
  if (value.startsWith(" ")) value = value.slice(1);
  if (name === "data") pending.data.push(value);
  else if (name === "event") pending.event = value || "message";
  else if (name === "id") pending.id = value;
}
