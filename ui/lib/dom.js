// DOM helpers. Everything the API returns becomes text (textContent), never markup, so no
// record can inject HTML or script into the console.

/** An element: `h("a", { href: "#/x", onclick: fn }, "text", child, [more])`. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.className = value;
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces what `el` holds. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A time as the operator reads it, with the exact value on hover. */
export function when(iso) {
  if (!iso) return h("span", { class: "muted" }, "—");
  const at = new Date(iso);
  const text = Number.isNaN(at.getTime()) ? iso : at.toLocaleString();
  return h("time", { datetime: iso, title: iso }, text);
}

/** A state word in a badge: the word carries the meaning, the colour only repeats it. */
export function badge(text) {
  const word = String(text ?? "—");
  return h("span", { class: `badge badge-${word.replace(/[^a-z0-9]+/gi, "-").toLowerCase()}` }, word);
}

/**
 * A table in a scrollable region: `columns` are `[heading, row => cell]`; an empty list shows
 * `empty`.
 */
export function table(caption, columns, rows, empty = "Nothing here yet.") {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  const head = h("tr", {}, columns.map(([name]) => h("th", { scope: "col" }, name)));
  const body = rows.map((row) => h("tr", {}, columns.map(([, cell]) => h("td", {}, cell(row)))));
  return h(
    "div",
    { class: "scroll", role: "region", "aria-label": caption, tabindex: 0 },
    h("table", {}, h("caption", {}, caption), h("thead", {}, head), h("tbody", {}, body)),
  );
}

/** A status line (`polite`) or an error (`assertive`). */
export function notice(kind, text) {
  return h("p", { class: `notice notice-${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

/** A labelled form control. */
export function field(label, control) {
  return h("label", { class: "field" }, h("span", {}, label), control);
}

/** A `<select>` of `[value, label]` options with `selected` chosen. */
export function select(name, options, selected) {
  return h(
    "select",
    { name },
    options.map(([value, label]) => h("option", { value, selected: value === selected }, label)),
  );
}

/** A definition list of `[term, value]` pairs. */
export function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value ?? "—")]));
}

/** A button that runs `action`, disabled while it runs, reporting failures in `status`. */
export function button(label, action, status, attrs = {}) {
  const el = h("button", { type: "button", ...attrs }, label);
  el.addEventListener("click", async () => {
    el.disabled = true;
    try {
      await action();
    } catch (e) {
      if (status) fill(status, notice("error", e.message));
    } finally {
      el.disabled = false;
    }
  });
  return el;
}

/**
 * A filter form: `fields` are `[label, control]`; submitting runs `apply`, and a failure is
 * reported in `status`.
 */
export function filters(label, fields, apply, status, submit = "Apply") {
  const form = h("form", { class: "filters", "aria-label": label }, fields.map(([name, control]) => field(name, control)), h("button", { type: "submit" }, submit));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await apply();
    } catch (err) {
      fill(status, notice("error", err.message));
    }
  });
  return form;
}

export function section(title, ...children) {
  return h("section", { "aria-label": title }, h("h2", {}, title), children);
}
