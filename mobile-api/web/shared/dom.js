// Small DOM helpers shared by the console and the app: build elements from
// data with textContent only (never innerHTML), so text from the server
// can never become markup.

// h(tag, props, ...children) makes an element. props: class, text, for,
// on<Event> handlers (onclick: fn), dataset {…}, and any attribute or
// property (value, type, disabled, hidden, aria-*, …). Children are
// nodes, strings, numbers, or (nested) arrays of them; null/false skip.
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'for') el.htmlFor = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key in el && typeof value !== 'string') el[key] = value;
    else if (key === 'value') el.value = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

// clear removes every child of el and returns it.
export function clear(el) {
  el.replaceChildren();
  return el;
}

// field wraps a control with its visible <label> (what screen readers and
// the browser tests find it by).
let fieldSeq = 0;
export function field(labelText, control, hint) {
  if (!control.id) control.id = `f${++fieldSeq}`;
  return h('div', { class: 'field' },
    h('label', { for: control.id, text: labelText }),
    control,
    hint ? h('small', { class: 'note', text: hint }) : null);
}

// chinaDate formats an ISO time in the bureau's zone (UTC+8).
export function chinaTime(iso, withTime = true) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const z = new Date(d.getTime() + 8 * 3600 * 1000).toISOString();
  return withTime ? `${z.slice(0, 10)} ${z.slice(11, 16)}` : z.slice(0, 10);
}

// download saves a Blob under name.
export function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
