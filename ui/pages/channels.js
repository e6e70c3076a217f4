// Channels and integrations: whether each can send, its last delivery and error, and a
// reconnect check for the chat channels.
import { api, session } from "../lib/api.js";
import { badge, button, fill, h, notice, section, table, when } from "../lib/dom.js";

export async function render(main) {
  const note = h("div", { "aria-live": "polite" });
  const chat = h("div");
  const integrations = h("div");

  const reconnect = (name) => async () => {
    const out = await api(`/api/channels/${encodeURIComponent(name)}/reconnect`, { method: "POST" });
    await load();
    fill(note, notice(out.connected ? "ok" : "error", out.connected ? `${name} is connected.` : `${name} did not answer; see its last error.`));
  };

  async function load() {
    // The integrations API always wants an org: the session's, else `default`.
    const org = session.org ? {} : { "x-org-id": "default" };
    const [{ channels }, status] = await Promise.all([api("/api/channels"), api("/api/integrations/status", { headers: org })]);
    fill(
      chat,
      table(
        "Chat channels",
        [
          ["Channel", (c) => h("strong", {}, c.name)],
          ["Configured", (c) => badge(c.configured ? "yes" : "no")],
          ["Connection", (c) => badge(c.connected ? "connected" : "disconnected")],
          ["Last delivery", (c) => when(c.lastDeliveryAt)],
          ["Last error", (c) => c.lastError || "—"],
          ["Check", (c) => (c.configured && c.name !== "web" ? button("Reconnect", reconnect(c.name), note, { "aria-label": `Reconnect ${c.name}` }) : "—")],
        ],
        channels,
      ),
    );
    fill(
      integrations,
      table(
        "Integrations",
        [
          ["Integration", (i) => h("strong", {}, i.name || i.id)],
          ["Configured", (i) => badge(i.configured ? "yes" : "no")],
          ["Status", (i) => badge(i.status)],
          ["Last sync", (i) => when(i.lastSync)],
          ["Last error", (i) => i.lastError || "—"],
        ],
        status.integrations,
      ),
    );
  }

  fill(main, h("h1", {}, "Channels and integrations"), note, section("Chat channels", chat), section("Integrations", integrations));
  await load();
}
