// Incidents: the org's incidents by status, each with its newest events, acknowledged from here.
import { api, query } from "../lib/api.js";
import { badge, button, facts, fill, filters, h, notice, select, when } from "../lib/dom.js";

const STATUSES = [["open", "open"], ["acknowledged", "acknowledged"], ["resolved", "resolved"]];

export async function render(main) {
  const status = select("status", STATUSES, "open");
  const note = h("div", { "aria-live": "polite" });
  const list = h("div", { class: "cards" });

  const acknowledge = (id) => async () => {
    await api(`/api/observability/incidents/${encodeURIComponent(id)}/acknowledge`, { method: "POST", body: {} });
    await load();
    fill(note, notice("ok", `Acknowledged ${id}.`));
  };

  function card(i) {
    return h(
      "article",
      { class: "card", "aria-labelledby": `inc-${i.id}` },
      h("h2", { id: `inc-${i.id}` }, badge(i.severity), " ", i.title),
      facts([
        ["Id", i.id],
        ["Status", badge(i.status)],
        ["Source", `${i.source}${i.sourceProject ? ` · ${i.sourceProject}` : ""}`],
        ["Alerts", String(i.count)],
        ["Agent", i.assignedAgent ? h("a", { href: `#/agents/${encodeURIComponent(i.assignedAgent)}` }, i.assignedAgent) : null],
        ["Linear issue", i.linearIssue],
        ["Acknowledged by", i.acknowledgedBy],
        ["Opened", when(i.createdAt)],
        ["Updated", when(i.updatedAt)],
      ]),
      h(
        "details",
        {},
        h("summary", {}, `Events (${i.events.length} newest)`),
        h("ol", { class: "timeline" }, i.events.map((e) => h("li", {}, when(e.timestamp), " ", h("code", {}, e.type), e.issueId ? ` issue ${e.issueId}` : ""))),
      ),
      i.status === "open" ? h("div", { class: "actions" }, button("Acknowledge", acknowledge(i.id), note, { "aria-label": `Acknowledge ${i.id}` })) : null,
    );
  }

  async function load() {
    const out = await api(`/api/observability/incidents${query({ status: status.value, limit: 100 })}`);
    fill(list, out.incidents.length ? out.incidents.map(card) : h("p", { class: "empty" }, `No ${status.value} incident.`));
  }

  const form = filters("Incident filters", [["Status", status]], load, note);
  fill(main, h("h1", {}, "Incidents"), form, note, list);
  await load();
}
