// Live events: the org's event stream, filtered by type, resuming with Last-Event-ID after a
// break. The newest 200 stay on the page.
import { query } from "../lib/api.js";
import { badge, field, fill, h, when } from "../lib/dom.js";
import { follow } from "../lib/sse.js";

const KEPT = 200;

export async function render(main) {
  const types = h("input", { name: "types", placeholder: "ci.*,incident.*", autocomplete: "off" });
  const state = h("p", { class: "notice", role: "status" }, "Connecting…");
  const list = h("ol", { class: "events", reversed: true, "aria-live": "polite", "aria-label": "Events, newest first" });
  let stop = null;

  function start() {
    stop?.();
    list.replaceChildren();
    stop = follow(`/api/events/stream${query({ types: types.value.trim() })}`, {
      onState: (text) => fill(state, `Stream: ${text}`),
      onEvent: ({ id, type, data }) => {
        if (type === "connected") return;
        const event = data.data || {};
        list.prepend(
          h(
            "li",
            { "data-id": id },
            h("p", {}, badge(event.severity), " ", h("strong", {}, type), " ", event.title),
            h("p", { class: "muted" }, when(event.occurredAt), ` · ${event.id}`, event.actions?.length ? ` · ${event.actions.join(", ")}` : ""),
          ),
        );
        while (list.children.length > KEPT) list.lastChild.remove();
      },
    });
  }

  const form = h("form", { class: "filters", "aria-label": "Event filters" }, field("Types (comma list, * as in routes)", types), h("button", { type: "submit" }, "Apply"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    start();
  });
  fill(main, h("h1", {}, "Live events"), form, state, list, h("p", { class: "muted" }, "Events appear as they are recorded; nothing is polled."));
  start();
  return () => stop?.();
}

