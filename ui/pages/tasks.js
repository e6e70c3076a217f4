// Scheduler: the org's tasks with their next and last runs and last error; pause, resume and
// run now.
import { api } from "../lib/api.js";
import { badge, button, fill, h, notice, table, when } from "../lib/dom.js";

export async function render(main) {
  const note = h("div", { "aria-live": "polite" });
  const rows = h("div");
  const path = (name, verb) => `/api/scheduler/${encodeURIComponent(name)}/${verb}`;

  const act = (name, verb) => async () => {
    const out = await api(path(name, verb), { method: "POST" });
    await load();
    if (verb === "run") fill(note, notice(out.success ? "ok" : "error", out.success ? `${name} ran.` : `${name} failed: ${out.error}`));
    else fill(note, notice("ok", out.message || `${name}: ${verb}d.`));
  };

  async function load() {
    const tasks = await api("/api/scheduler");
    fill(
      rows,
      table(
        "Scheduled tasks",
        [
          ["Task", (t) => h("strong", {}, t.name)],
          ["Does", (t) => t.action?.type + (t.action?.host ? ` → ${t.action.host}` : "")],
          ["Schedule", (t) => t.schedule || `every ${Math.round(t.intervalMs / 1000)} s`],
          ["State", (t) => badge(t.running ? "running" : t.enabled ? "active" : "paused")],
          ["Next run", (t) => when(t.nextRun)],
          ["Last run", (t) => when(t.lastRun)],
          ["Runs / errors", (t) => `${t.runCount} / ${t.errors}`],
          ["Last error", (t) => t.lastError || "—"],
          [
            "Actions",
            (t) =>
              h(
                "div",
                { class: "actions" },
                t.enabled
                  ? button("Pause", act(t.name, "pause"), note, { "aria-label": `Pause ${t.name}` })
                  : button("Resume", act(t.name, "resume"), note, { "aria-label": `Resume ${t.name}` }),
                button("Run now", act(t.name, "run"), note, { "aria-label": `Run ${t.name} now` }),
              ),
          ],
        ],
        tasks,
        "No task in this org.",
      ),
    );
  }

  fill(main, h("h1", {}, "Scheduler"), note, rows);
  await load();
}
