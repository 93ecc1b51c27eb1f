// Safeguard console (foundation): log in with the session cookie, browse the
// registry and the audit trail. Unsafe requests carry the CSRF token given at
// login; the token itself stays in the HttpOnly cookie, out of reach of scripts.
'use strict';

const tabs = {
  people: ['name', 'kind', 'job', 'nationality', 'status', 'phone'],
  sites: ['name', 'kind', 'radius_m'],
  vehicles: ['registration', 'make_model', 'armoured', 'seats'],
  devices: ['name', 'kind', 'protocol', 'person_id', 'vehicle_id'],
  zones: ['name', 'level', 'valid_from', 'valid_to', 'retired'],
  agreements: ['org_id', 'partner_id', 'accepted_by_both', 'created_at'],
  users: ['username', 'role', 'display_name', 'disabled'],
  audit: ['seq', 'at', 'actor', 'action', 'object_type', 'object_id'],
};
let current = 'people';
let next = null;

const $ = (id) => document.getElementById(id);

async function api(method, path, body) {
  const headers = { 'Accept': 'application/json' };
  const csrf = sessionStorage.getItem('csrf');
  if (csrf && method !== 'GET') headers['X-CSRF-Token'] = csrf;
  if (body) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined,
                                  credentials: 'same-origin' });
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) throw Object.assign(new Error((data && data.detail) || res.statusText), { status: res.status });
  return data;
}

function cell(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

async function load(append) {
  const cols = tabs[current];
  const q = new URLSearchParams({ limit: '100' });
  if (append && next) q.set('cursor', next);
  try {
    const page = await api('GET', `/api/v1/${current}?${q}`);
    const thead = $('table').tHead, tbody = $('table').tBodies[0];
    if (!append) {
      thead.replaceChildren();
      const tr = thead.insertRow();
      for (const c of cols) { const th = document.createElement('th'); th.textContent = c; tr.append(th); }
      tbody.replaceChildren();
    }
    for (const item of page.items) {
      const tr = tbody.insertRow();
      for (const c of cols) tr.insertCell().textContent = cell(item[c]);
      // a partner's record says so: access full or summary
      if (item.access && item.access !== 'own') tr.title = `shared by ${item.org_id} (${item.access})`;
    }
    next = page.next;
    $('more').hidden = !next;
    $('status').textContent = `${tbody.rows.length} ${current}`;
  } catch (e) {
    if (e.status === 401) return showLogin();
    $('status').textContent = e.message;
  }
}

function showTabs() {
  const nav = $('tabs');
  nav.replaceChildren();
  for (const name of Object.keys(tabs)) {
    const b = document.createElement('button');
    b.textContent = name;
    if (name === current) b.setAttribute('aria-current', 'page');
    b.addEventListener('click', () => { current = name; showTabs(); load(false); });
    nav.append(b);
  }
}

function showLogin() {
  $('login').hidden = false;
  $('console').hidden = true;
  $('logout').hidden = true;
  $('who').textContent = '';
}

async function start() {
  try {
    const me = await api('GET', '/api/v1/session');
    $('who').textContent = `${me.username} (${me.role})`;
    $('login').hidden = true;
    $('console').hidden = false;
    $('logout').hidden = false;
    showTabs();
    load(false);
  } catch (e) {
    showLogin();
  }
}

$('login').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  try {
    const s = await api('POST', '/api/v1/session', { username: f.get('username'), password: f.get('password') });
    sessionStorage.setItem('csrf', s.csrf_token);
    $('login-error').textContent = '';
    ev.target.reset();
    start();
  } catch (e) {
    $('login-error').textContent = e.message;
  }
});
$('logout').addEventListener('click', async () => {
  try { await api('DELETE', '/api/v1/session'); } catch (e) { /* already gone */ }
  sessionStorage.removeItem('csrf');
  showLogin();
});
$('more').addEventListener('click', () => load(true));
start();
