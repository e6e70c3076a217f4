// Audit: full-text search and filters over the trail, keyset paging ("Older"), and chain
// verification with the result per org.
import { api, query } from "../lib/api.js";
import { badge, button, filters, fill, h, notice, section, select, table, when } from "../lib/dom.js";

const PAGE = 25;
const RESULTS = ["", "completed", "approved", "denied", "failed", "processed", "pending"];
const ACTORS = ["", "user", "agent", "system"];
const RISKS = ["", "low", "medium", "high", "critical"];

const choices = (values) => values.map((v) => [v, v || "any"]);

export async function render(main) {
  const q = h("input", { name: "q", type: "search", placeholder: "redis AND timeout", autocomplete: "off" });
  const action = h("input", { name: "action", placeholder: "agent.*", autocomplete: "off" });
  const actorType = select("actorType", choices(ACTORS), "");
  const result = select("result", choices(RESULTS), "");
  const risk = select("risk", choices(RISKS), "");
  const status = h("div", { "aria-live": "polite" });
  const rows = h("div");
  const more = h("div");
  const verified = h("div", { "aria-live": "polite" });
  let shown = [];

  const criteria = () => ({ q: q.value.trim(), action: action.value.trim(), actorType: actorType.value, result: result.value, risk: risk.value, limit: PAGE });

  async function load(before) {
    const page = await api(`/api/audit${query({ ...criteria(), before })}`);
    shown = before === undefined ? page.entries : shown.concat(page.entries);
    fill(status, notice("ok", `${shown.length} of ${page.total} matching entries.`));
    fill(
      rows,
      table(
        "Audit entries, newest first",
        [
          ["Seq", (e) => String(e.seq)],
          ["Time", (e) => when(e.timestamp)],
          ["Org", (e) => e.orgId],
          ["Actor", (e) => `${e.actorType}:${e.actorId}`],
          ["Action", (e) => h("code", {}, e.action)],
          ["Result", (e) => badge(e.result)],
          ["Risk", (e) => e.metadata?.risk || "low"],
          ["Details", (e) => h("code", { class: "wrap" }, JSON.stringify(e.metadata ?? {}))],
        ],
        shown,
        "No entry matches.",
      ),
    );
    fill(more, page.nextBefore !== null && page.nextBefore !== undefined ? button("Older", () => load(page.nextBefore), status) : null);
  }

  async function verify() {
    fill(verified, notice("ok", "Verifying…"));
    const out = await api("/api/audit/verify");
    const orgs = out.orgs || [{ orgId: "this org", ...out }];
    fill(
      verified,
      notice(out.valid ? "ok" : "error", out.valid ? `The chain holds: ${out.entries} entries verified.` : `The chain is broken at ${out.brokenAt}.`),
      table(
        "Verification per org",
        [
          ["Org", (o) => o.orgId],
          ["Result", (o) => badge(o.valid ? "valid" : "broken")],
          ["Entries", (o) => String(o.entries)],
          ["Broken at", (o) => o.brokenAt || "—"],
          ["Reason", (o) => o.reason || "—"],
        ],
        orgs,
        "No chain to verify yet.",
      ),
    );
  }

  const form = filters(
    "Audit filters",
    [["Search", q], ["Action", action], ["Actor type", actorType], ["Result", result], ["Risk", risk]],
    () => load(),
    status,
    "Search",
  );
  fill(
    main,
    h("h1", {}, "Audit"),
    section("Chain", h("div", { class: "actions" }, button("Verify chain", verify, verified)), verified),
    section("Entries", form, status, rows, more),
  );
  await load();
}
