// Projects: every project in scope with its repository, agent and hook.
import { api } from "../lib/api.js";
import { badge, fill, h, table, when } from "../lib/dom.js";

export async function render(main) {
  const { projects } = await api("/api/projects");
  fill(
    main,
    h("h1", {}, "Projects"),
    table(
      "Projects",
      [
        ["Name", (p) => p.name],
        ["Repository", (p) => p.repo],
        ["Agent", (p) => (p.agentId ? h("a", { href: `#/agents/${encodeURIComponent(p.agentId)}` }, p.agentId) : "—")],
        ["Hook", (p) => badge(p.webhookConfigured ? "installed" : "none")],
        ["Created", (p) => when(p.createdAt)],
      ],
      projects,
      "No projects yet. Link a repository from an agent's page.",
    ),
  );
}
