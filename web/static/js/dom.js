// h(tag, attributes, ...children): the dashboard's one way to build elements (text is never parsed as HTML).

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (name in el && typeof value !== "string") el[name] = value;
    else el.setAttribute(name, value === true ? "" : value);
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

export const $ = (selector, root = document) => root.querySelector(selector);

export function clear(el, ...children) {
  el.replaceChildren(...children.flat().filter(Boolean));
  return el;
}

/** "LINKEDIN_MESSAGE" -> "Linkedin message" */
export const label = (value) => (value ? value.charAt(0).toUpperCase() + value.slice(1).toLowerCase().replaceAll("_", " ") : "");

export function when(iso) {
  return iso ? new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }) : "";
}

/** Calls fn at most once per `ms`, the last call always running (live pushes can come in bursts). */
export function throttle(fn, ms) {
  let timer = null;
  let last = 0;
  return (...args) => {
    clearTimeout(timer);
    const wait = Math.max(0, last + ms - Date.now());
    timer = setTimeout(() => {
      last = Date.now();
      fn(...args);
    }, wait);
  };
}

/** Shows each UserError next to the element whose data-field is its path (the form's top otherwise). */
export function showUserErrors(form, errors) {
  for (const old of form.querySelectorAll(".user-error")) old.remove();
  for (const error of errors) {
    const path = (error.field ?? []).join(".");
    let target = path ? form.querySelector(`[data-field="${CSS.escape(path)}"]`) : null;
    // a path deeper than any input (a nested step of a draft's sequence) lands at its nearest input
    for (let parts = [...(error.field ?? [])]; !target && parts.length; parts.pop()) {
      target = form.querySelector(`[data-field="${CSS.escape(parts.join("."))}"]`);
    }
    const note = h("p", { class: "user-error", role: "alert", "data-code": error.code },
      `${error.message}${path && !target?.matches?.(`[data-field="${CSS.escape(path)}"]`) ? ` (${path})` : ""}`);
    if (target) target.after(note);
    else form.prepend(note);
  }
}
