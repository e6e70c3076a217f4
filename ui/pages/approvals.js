// Approvals: level-2 suggestions waiting for a vote, approved or denied from here.
import { api, query } from "../lib/api.js";
import { badge, button, fill, filters, h, notice, select, table, when } from "../lib/dom.js";

const STATUSES = [["pending", "pending"], ["", "any"], ["approved", "approved"], ["denied", "denied"], ["expired", "expired"]];

export async function render(main) {
  const status = select("status", STATUSES, "pending");
  const note = h("div", { "aria-live": "polite" });
  const rows = h("div");

  const vote = (token, choice) => async () => {
    const out = await api(`/api/approvals/${encodeURIComponent(token)}`, { method: "POST", body: { vote: choice } });
    await load();
    fill(note, notice("ok", choice === "approve" ? `Approved ${token}${out.spawnedAgentId ? `: agent ${out.spawnedAgentId} started` : ""}.` : `Denied ${token}.`));
  };

  async function load() {
    const out = await api(`/api/approvals${query({ status: status.value })}`);
    fill(
      rows,
      table(
        "Approvals, newest first",
        [
          ["Token", (a) => h("code", {}, a.token)],
          ["Status", (a) => badge(a.status)],
          ["Suggestion", (a) => a.description],
          ["Agent", (a) => h("a", { href: `#/agents/${encodeURIComponent(a.agentId)}` }, a.agentId)],
          ["Expires", (a) => when(a.expiresAt)],
          [
            "Vote",
            (a) =>
              a.status === "pending"
                ? h("div", { class: "actions" }, button("Approve", vote(a.token, "approve"), note, { "aria-label": `Approve ${a.token}` }), button("Deny", vote(a.token, "deny"), note, { "aria-label": `Deny ${a.token}` }))
                : a.votedBy
                  ? `by ${a.votedBy}`
                  : "—",
          ],
        ],
        out.approvals,
        "No approval in this state.",
      ),
    );
  }

  const form = filters("Approval filters", [["Status", status]], load, note);
  fill(main, h("h1", {}, "Approvals"), form, note, rows);
  await load();
}
