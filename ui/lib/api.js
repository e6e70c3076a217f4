// The API client: every call carries the session's bearer token (kept for this tab only, in
// sessionStorage) and the chosen org (`x-org-id`), and goes to this origin only.

const TOKEN = "spar.token";
const ORG = "spar.org";

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error || body?.message || body?.detail || `HTTP ${status}`);
    this.status = status;
    this.code = body?.code;
  }
}

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN) || "";
  },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN, value);
    else sessionStorage.removeItem(TOKEN);
  },
  get org() {
    return sessionStorage.getItem(ORG) || "";
  },
  set org(value) {
    if (value) sessionStorage.setItem(ORG, value);
    else sessionStorage.removeItem(ORG);
  },
};

/** The headers of a call: bearer token, org, and what the body is. */
export function headers(extra = {}) {
  const out = { Accept: "application/json", ...extra };
  if (session.token) out.Authorization = `Bearer ${session.token}`;
  if (session.org) out["x-org-id"] = session.org;
  return out;
}

/**
 * A JSON call; non-2xx answers throw an `ApiError` with the server's message, except the
 * statuses in `accept` (a degraded `/health` is a 503 worth showing). A 401 also tells the
 * console the session's token is gone (`spar:unauthorized`).
 */
export async function api(path, { method = "GET", body, headers: extra = {}, accept = [] } = {}) {
  const init = { method, headers: headers({ ...(body ? { "Content-Type": "application/json" } : {}), ...extra }), cache: "no-store" };
  if (body !== undefined) init.body = JSON.stringify(body);
  const res = await fetch(path, init);
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { error: text.slice(0, 200) };
    }
  }
  if (res.status === 401 && session.token) window.dispatchEvent(new Event("spar:unauthorized"));
  if (!res.ok && !accept.includes(res.status)) throw new ApiError(res.status, data);
  return data;
}

/** A query string of the non-empty values of `params`. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") q.set(key, String(value));
  }
  const text = q.toString();
  return text ? `?${text}` : "";
}
