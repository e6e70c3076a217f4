// The console: asks who the session is (`GET /api/session`), asks for a token when the server
// wants one, then renders the page the location hash names. Every page reads the API only.
import { api, session } from "./lib/api.js";
import { button, fill, h, notice, select } from "./lib/dom.js";
import * as overview from "./pages/overview.js";
import * as events from "./pages/events.js";
import * as agents from "./pages/agents.js";
import * as projects from "./pages/projects.js";
import * as audit from "./pages/audit.js";
import * as deliveries from "./pages/deliveries.js";
import * as approvals from "./pages/approvals.js";
import * as incidents from "./pages/incidents.js";
import * as tasks from "./pages/tasks.js";
import * as channels from "./pages/channels.js";

const PAGES = [
  ["overview", "Overview", overview],
  ["events", "Live events", events],
  ["agents", "Agents", agents],
  ["projects", "Projects", projects],
  ["audit", "Audit", audit],
  ["deliveries", "Deliveries", deliveries],
  ["approvals", "Approvals", approvals],
  ["incidents", "Incidents", incidents],
  ["tasks", "Scheduler", tasks],
  ["channels", "Channels", channels],
];

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const sessionBox = document.getElementById("session");
let who = null;
let stopPage = null;

/** Who the stored token makes us: `operator`, `org`, `anonymous`, or `none` (log in). */
async function identify() {
  who = await api("/api/session");
  return who.caller !== "none";
}

function showLogin(message) {
  fill(nav);
  fill(sessionBox);
  const input = h("input", { type: "password", name: "token", id: "token", autocomplete: "off", required: true });
  const status = h("div", { "aria-live": "polite" }, message ? notice("error", message) : null);
  const form = h(
    "form",
    { class: "login", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "Log in"),
    h("p", {}, "This server needs a token: the operator's (ENGINE_API_TOKEN) or an org's (spar token create)."),
    h("label", { for: "token" }, "Token"),
    input,
    h("button", { type: "submit" }, "Log in"),
    status,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    session.token = input.value.trim();
    try {
      if (await identify()) {
        await startConsole();
      } else {
        session.token = "";
        fill(status, notice("error", "That token was refused."));
        input.select();
      }
    } catch (err) {
      fill(status, notice("error", err.message));
    }
  });
  fill(main, form);
  input.focus();
}

async function showSession() {
  const parts = [];
  if (who.caller === "org") {
    session.org = who.orgId;
    parts.push(h("span", {}, `Org ${who.orgId}`));
  } else {
    const orgs = await api("/api/orgs");
    const options = [["", "Default org"], ...orgs.filter((o) => o.id !== "default").map((o) => [o.id, o.name || o.id])];
    if (!options.some(([id]) => id === session.org)) session.org = "";
    const chooser = select("org", options, session.org);
    chooser.setAttribute("id", "org");
    chooser.addEventListener("change", () => {
      session.org = chooser.value;
      route();
    });
    parts.push(h("label", { for: "org" }, "Org "), chooser);
  }
  if (session.token) {
    parts.push(
      button("Log out", async () => {
        session.token = "";
        session.org = "";
        stopPage?.();
        showLogin();
      }),
    );
  }
  fill(sessionBox, parts);
}

function showNav(current) {
  fill(
    nav,
    h(
      "ul",
      {},
      PAGES.map(([id, title]) =>
        h("li", {}, h("a", { href: `#/${id}`, "aria-current": id === current ? "page" : null }, title)),
      ),
    ),
  );
}

/** The page and parameters a location hash names (`#/agents/agent-x`); unknown: overview. */
function parseHash(hash) {
  const parts = hash.replace(/^#\/?/, "").split("/").map((part) => {
    try {
      return decodeURIComponent(part);
    } catch {
      return part;
    }
  });
  const [id = "overview", ...params] = parts;
  return [PAGES.find(([pageId]) => pageId === id) || PAGES[0], params];
}

/** Renders the page of the location hash. */
async function route() {
  // An in-page anchor (the skip link's `#main`) is not a page.
  if (location.hash && !location.hash.startsWith("#/")) return;
  const [page, params] = parseHash(location.hash);
  stopPage?.();
  stopPage = null;
  showNav(page[0]);
  document.title = `${page[1]} · Spar console`;
  fill(main, h("p", { class: "notice", role: "status" }, "Loading…"));
  try {
    stopPage = (await page[2].render(main, params, who)) || null;
  } catch (e) {
    if (e.status === 401) return;
    fill(main, h("h1", {}, page[1]), notice("error", e.message));
  }
}

// A token revoked mid-session: every page stops and the console asks again (api.js and sse.js
// raise this on a 401 instead of retrying).
window.addEventListener("spar:unauthorized", () => {
  stopPage?.();
  stopPage = null;
  window.removeEventListener("hashchange", route);
  session.token = "";
  showLogin("The session's token is no longer accepted.");
});

async function startConsole() {
  await showSession();
  window.removeEventListener("hashchange", route);
  window.addEventListener("hashchange", route);
  await route();
  main.focus({ preventScroll: true });
}

async function boot() {
  try {
    if (await identify()) await startConsole();
    else showLogin();
  } catch (e) {
    fill(main, notice("error", `Cannot reach the API: ${e.message}`));
  }
}

boot();
