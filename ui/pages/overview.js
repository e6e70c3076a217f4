// Overview: health, index lag, request and webhook rates, deliveries, open incidents, the next
// scheduled runs, and events and deliveries per minute over the last hour. Refreshed every 10 s.
import { api } from "../lib/api.js";
import { lineChart } from "../lib/chart.js";
import { badge, facts, fill, h, section, table, when } from "../lib/dom.js";

const REFRESH_MS = 10_000;

export async function render(main, _params, who) {
  let previous = null;
  const body = h("div", { class: "overview" });
  fill(main, h("h1", {}, "Overview"), body);

  async function refresh() {
    const serverWide = who.caller !== "org";
    const [health, metrics, pending, dead, incidents, tasks, activity] = await Promise.all([
      api("/health", { accept: [503] }),
      serverWide ? api("/api/metrics") : Promise.resolve(null),
      api("/api/deliveries?status=pending&limit=1"),
      api("/api/deliveries?status=dead&limit=1"),
      api("/api/observability/incidents?status=open&limit=1"),
      api("/api/scheduler"),
      api("/api/activity?minutes=60"),
    ]);
    const now = Date.now();
    const rates = rateOf(previous, metrics, now);
    previous = metrics ? { at: now, metrics } : null;
    const next = tasks
      .filter((t) => t.enabled && t.nextRun)
      .sort((a, b) => a.nextRun.localeCompare(b.nextRun))
      .slice(0, 5);
    const buckets = activity.buckets;
    const times = (i) => (buckets[i] ? new Date(buckets[i].start).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "");
    fill(
      body,
      section(
        "Health",
        facts([
          ["Status", badge(health.status)],
          ["Version", health.version],
          ["Up for", `${health.uptime} s`],
          ["Index lag", `${health.index.lagSeconds} s`],
          ["Store size", `${(health.storage.sizeBytes / 1048576).toFixed(1)} MB`],
        ]),
      ),
      section(
        "Traffic",
        facts([
          ["Requests", metrics ? `${metrics.metrics["api.requests"]} in all${rates.requests}` : "the operator's figure"],
          ["Webhooks", metrics ? `${metrics.metrics["webhook.received"]} in all${rates.webhooks}` : "the operator's figure"],
          ["Pending deliveries", String(pending.total)],
          ["Dead deliveries", String(dead.total)],
          ["Open incidents", String(incidents.total)],
        ]),
      ),
      section(
        "Last hour",
        h(
          "figure",
          {},
          lineChart(
            "Events and deliveries per minute, last hour",
            [
              { name: "Events", values: buckets.map((b) => b.events), className: "series-a" },
              { name: "Deliveries", values: buckets.map((b) => b.deliveries), className: "series-b" },
            ],
            [times(0), times(buckets.length - 1)],
          ),
          h(
            "figcaption",
            {},
            h("span", { class: "key key-a" }, "solid line: events"),
            "; ",
            h("span", { class: "key key-b" }, "dashed line: deliveries"),
            ` (${sum(buckets, "events")} events, ${sum(buckets, "deliveries")} deliveries${activity.truncated ? ", the busiest part only" : ""})`,
          ),
        ),
      ),
      section(
        "Next scheduled runs",
        table("Next scheduled runs", [["Task", (t) => h("a", { href: "#/tasks" }, t.name)], ["Runs at", (t) => when(t.nextRun)]], next, "No task is scheduled."),
      ),
    );
  }

  await refresh();
  const timer = setInterval(() => refresh().catch(() => {}), REFRESH_MS);
  return () => clearInterval(timer);
}

function sum(buckets, key) {
  return buckets.reduce((n, b) => n + b[key], 0);
}

/** Per-second rates between two samples of the counters, as text. */
function rateOf(previous, metrics, now) {
  if (!previous || !metrics) return { requests: "", webhooks: "" };
  const seconds = Math.max(1, (now - previous.at) / 1000);
  const per = (key) => `, ${((metrics.metrics[key] - previous.metrics.metrics[key]) / seconds).toFixed(1)}/s now`;
  return { requests: per("api.requests"), webhooks: per("webhook.received") };
}
