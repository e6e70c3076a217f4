// Agents: the list, and one agent's detail with its actions (suspend, resume, autonomy level)
// and its project link.
import { api } from "../lib/api.js";
import { badge, button, facts, field, fill, h, notice, section, select, table, when } from "../lib/dom.js";

export async function render(main, [id]) {
  return id ? detail(main, id) : list(main);
}

async function list(main) {
  const agents = await api("/api/agents");
  fill(
    main,
    h("h1", {}, "Agents"),
    table(
      "Agents",
      [
        ["Name", (a) => h("a", { href: `#/agents/${encodeURIComponent(a.id)}` }, a.name)],
        ["Type", (a) => a.type],
        ["Status", (a) => badge(a.status)],
        ["Autonomy", (a) => `level ${a.autonomyLevel}`],
        ["Project", (a) => a.projectId || "—"],
      ],
      agents,
      "No agents yet.",
    ),
  );
}

/** One agent; `done` is the outcome of the action that led here. */
async function detail(main, id, done) {
  const status = h("div", { "aria-live": "polite" }, done ? notice("ok", done) : null);
  const agent = await api(`/api/agents/${encodeURIComponent(id)}`);
  const act = (body, done) => async () => {
    await api(`/api/agents/${encodeURIComponent(id)}/action`, { method: "POST", body });
    await detail(main, id, done);
  };
  const level = select("level", [0, 1, 2, 3, 4, 5].map((n) => [String(n), `level ${n}`]), String(agent.autonomyLevel));
  level.setAttribute("id", "autonomy-level");
  const repo = h("input", { name: "repo", id: "link-repo", placeholder: "owner/repo", autocomplete: "off" });
  const link = h("form", { class: "inline", "aria-label": "Link a repository" }, field("Repository", repo), h("button", { type: "submit" }, "Link"));
  link.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await api("/api/project/link", { method: "POST", body: { agentId: id, repo: repo.value.trim() } });
      await detail(main, id, `Linked ${repo.value.trim()}.`);
    } catch (err) {
      fill(status, notice("error", err.message));
    }
  });
  const actions = [
    agent.status === "SUSPENDED"
      ? button("Resume", act({ action: "resume" }, "Resumed."), status)
      : button("Suspend", act({ action: "suspend" }, "Suspended."), status, { disabled: agent.status === "TERMINATED" }),
    h("label", { for: "autonomy-level" }, "Autonomy "),
    level,
    button("Set autonomy", () => act({ action: "set_autonomy", level: Number(level.value) }, `Autonomy set to level ${level.value}.`)(), status),
  ];
  fill(
    main,
    h("p", {}, h("a", { href: "#/agents" }, "← Agents")),
    h("h1", {}, agent.name),
    status,
    facts([
      ["Id", agent.id],
      ["Type", agent.type],
      ["Status", badge(agent.status)],
      ["Autonomy", `level ${agent.autonomyLevel}`],
      ["Org", agent.orgId],
      ["Created", when(agent.createdAt)],
      ["Last activity", when(agent.lastActivity)],
      ["Memory entries", String(agent.memory?.totalEmbeddings ?? 0)],
    ]),
    section("Actions", h("div", { class: "actions" }, actions)),
    section(
      "Project",
      agent.project
        ? [
            facts([
              ["Project", agent.project.name],
              ["Repository", agent.project.repo],
            ]),
            button(
              "Unlink",
              async () => {
                await api(`/api/project/link?agentId=${encodeURIComponent(id)}`, { method: "DELETE" });
                await detail(main, id, "Unlinked.");
              },
              status,
            ),
          ]
        : [h("p", {}, "No repository linked."), link],
    ),
  );
}
