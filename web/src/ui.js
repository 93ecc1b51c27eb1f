// DOM helpers. Every text from the server goes in as a text node or an
// attribute value, never as HTML.
export function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : String(kid));
  }
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);

export function text(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

// "3 min ago", "2 h ago" from an RFC 3339 time.
export function age(iso, now = Date.now()) {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 172800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

export function localTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

// A table of items: cols is [[header, item => text or Node], ...].
export function table(cols, items, opts = {}) {
  const t = h('table', { class: 'grid' },
    h('thead', null, h('tr', null, cols.map(([name]) => h('th', { scope: 'col' }, name)))),
    h('tbody'));
  for (const item of items) addRows(t, cols, [item], opts);
  return t;
}

export function addRows(t, cols, items, opts = {}) {
  const body = t.tBodies[0];
  for (const item of items) {
    const tr = h('tr', { 'data-id': item.id });
    for (const [, f] of cols) {
      const v = f(item);
      tr.append(h('td', null, v instanceof Node ? v : text(v)));
    }
    if (opts.title) tr.title = opts.title(item) || '';
    body.append(tr);
  }
}

// A form from a field list; submit(values) may throw an Error with .field.
// Field: {name, label, type: text|number|select|checkbox|textarea|datetime|password, options, required}
export function form(fields, submitLabel, submit, extra) {
  const err = h('p', { class: 'error', role: 'alert' });
  const f = h('form', { class: 'edit' },
    fields.map((fd) => h('label', null, fd.label, input(fd))),
    extra || null,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, submitLabel)),
    err);
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    const values = {};
    for (const fd of fields) {
      const el = f.elements[fd.name];
      let v;
      if (fd.type === 'checkbox') v = el.checked;
      else if (el.value === '') v = undefined;
      else if (fd.type === 'number') v = Number(el.value);
      else if (fd.type === 'datetime') v = new Date(el.value).toISOString();
      else v = el.value;
      if (v !== undefined) values[fd.name] = v;
    }
    const button = f.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      await submit(values, f);
    } catch (e) {
      err.textContent = e.message + (e.field ? ` (${e.field})` : '');
    } finally {
      button.disabled = false;
    }
  });
  return f;
}

function input(fd) {
  const common = { name: fd.name, required: fd.required || null };
  if (fd.type === 'select') {
    return h('select', common, fd.options.map(([v, label]) =>
      h('option', { value: v, selected: v === fd.value || null }, label)));
  }
  if (fd.type === 'textarea') return h('textarea', { ...common, rows: 3 }, fd.value || '');
  if (fd.type === 'checkbox') return h('input', { ...common, type: 'checkbox', checked: fd.value || null });
  const type = { number: 'number', datetime: 'datetime-local', password: 'password' }[fd.type] || 'text';
  return h('input', { ...common, type, value: fd.value ?? null, step: fd.step || null,
                      min: fd.min ?? null, max: fd.max ?? null, autocomplete: fd.autocomplete || null });
}

export function notice(msg, kind = 'info') {
  let box = document.getElementById('notices');
  if (!box) {
    box = h('div', { id: 'notices', role: 'status', 'aria-live': 'polite' });
    document.body.append(box);
  }
  const n = h('p', { class: `notice ${kind}` }, msg);
  box.append(n);
  setTimeout(() => n.remove(), 6000);
}
