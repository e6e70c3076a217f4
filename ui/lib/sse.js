// Follows a Server-Sent Events stream with the session's headers (EventSource cannot send a
// bearer token), resuming after a break with `Last-Event-ID`, as EventSource would.
import { headers } from "./api.js";

/**
 * Calls `onEvent({ id, type, data })` for each event and `onState(text)` when the connection
 * opens or breaks. Returns `close()`.
 */
export function follow(path, { onEvent, onState }) {
  let lastId = "";
  let retry = 3000;
  let closed = false;
  let controller = null;

  async function connect() {
    while (!closed) {
      controller = new AbortController();
      try {
        const extra = lastId ? { "Last-Event-ID": lastId, Accept: "text/event-stream" } : { Accept: "text/event-stream" };
        const res = await fetch(path, { headers: headers(extra), signal: controller.signal, cache: "no-store" });
        if (res.status === 401) {
          // The token is gone: retrying would only repeat the refusal.
          closed = true;
          window.dispatchEvent(new Event("spar:unauthorized"));
          return;
        }
        if (!res.ok || !res.body) throw new Error(`the stream answered HTTP ${res.status}`);
        onState("live");
        await read(res.body.getReader());
        if (!closed) onState("reconnecting");
      } catch (e) {
        if (closed) return;
        onState(`reconnecting (${e.message})`);
      }
      await new Promise((done) => setTimeout(done, retry));
    }
  }

  async function read(reader) {
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        frame(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  }

  function frame(text) {
    let id = "";
    let type = "message";
    const data = [];
    for (const line of text.split("\n")) {
      if (line.startsWith(":")) continue;
      const at = line.indexOf(":");
      const name = at < 0 ? line : line.slice(0, at);
      const value = at < 0 ? "" : line.slice(at + 1).replace(/^ /, "");
      if (name === "id") id = value;
      else if (name === "event") type = value;
      else if (name === "data") data.push(value);
      else if (name === "retry" && /^\d+$/.test(value)) retry = Number(value);
    }
    if (id) lastId = id;
    if (!data.length) return;
    let parsed;
    try {
      parsed = JSON.parse(data.join("\n"));
    } catch {
      return;
    }
    onEvent({ id, type, data: parsed });
  }

  connect();
  return () => {
    closed = true;
    controller?.abort();
  };
}
