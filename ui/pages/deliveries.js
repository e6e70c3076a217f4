// Deliveries: the outbox filtered by status and channel, each delivery's attempt timeline, and
// re-queueing a dead one.
import { api, query } from "../lib/api.js";
import { badge, button, facts, filters, fill, h, notice, section, select, table, when } from "../lib/dom.js";

const STATUSES = [["", "any"], ["pending", "pending"], ["delivered", "delivered"], ["dead", "dead"]];
const CHANNELS = [["", "any"], ...["slack", "discord", "telegram", "whatsapp", "linear", "pagerduty"].map((c) => [c, c])];

export async function render(main, [id]) {
  return id ? detail(main, id) : list(main);
}

const link = (d) => h("a", { href: `#/deliveries/${encodeURIComponent(d.id)}` }, d.id);

async function list(main) {
  const status = select("status", STATUSES, "");
  const channel = select("channel", CHANNELS, "");
  const rows = h("div");
  const note = h("div", { "aria-live": "polite" });

  async function load() {
    const out = await api(`/api/deliveries${query({ status: status.value, channel: channel.value, limit: 100 })}`);
    fill(note, notice("ok", `${out.deliveries.length} of ${out.total} deliveries.`));
    fill(
      rows,
      table(
        "Deliveries, newest first",
        [
          ["Id", link],
          ["Status", (d) => badge(d.status)],
          ["Channel", (d) => `${d.channel} ${d.channelId}`],
          ["Event", (d) => d.eventType],
          ["Attempts", (d) => String(d.attempts)],
          ["Last error", (d) => d.lastError || "—"],
          ["Created", (d) => when(d.createdAt)],
        ],
        out.deliveries,
        "No delivery matches.",
      ),
    );
  }

  const form = filters("Delivery filters", [["Status", status], ["Channel", channel]], load, note);
  fill(main, h("h1", {}, "Deliveries"), form, note, rows);
  await load();
}

/** One delivery; `done` is the outcome of the action that led here. */
async function detail(main, id, done) {
  const status = h("div", { "aria-live": "polite" }, done ? notice("ok", done) : null);
  const d = await api(`/api/deliveries/${encodeURIComponent(id)}`);
  const retry = button(
    "Retry",
    async () => {
      await api(`/api/deliveries/${encodeURIComponent(id)}/retry`, { method: "POST" });
      await detail(main, id, "Queued again; it is sent within seconds.");
    },
    status,
  );
  fill(
    main,
    h("p", {}, h("a", { href: "#/deliveries" }, "← Deliveries")),
    h("h1", {}, `Delivery ${d.id}`),
    status,
    facts([
      ["Status", badge(d.status)],
      ["Channel", `${d.channel} ${d.channelId}`],
      ["Event", `${d.eventType} (${d.eventId})`],
      ["Route", d.routeId || "—"],
      ["Attempts", String(d.attempts)],
      ["Last error", d.lastError],
      ["Next attempt", when(d.nextAttemptAt)],
      ["Created", when(d.createdAt)],
      ["Delivered", when(d.deliveredAt)],
    ]),
    d.status === "dead" ? section("Actions", h("div", { class: "actions" }, retry)) : null,
    section(
      "Attempts",
      table(
        "Attempts, oldest first",
        [
          ["Started", (a) => when(a.at)],
          ["Took", (a) => `${a.durationMs} ms`],
          ["Outcome", (a) => badge(a.outcome)],
          ["Error class", (a) => a.error || "—"],
          ["HTTP status", (a) => (a.httpStatus ? String(a.httpStatus) : "—")],
        ],
        d.attemptLog,
        "Not attempted yet.",
      ),
    ),
  );
}
