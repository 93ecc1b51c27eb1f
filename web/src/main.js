// Safeguard console: log in with the session cookie (the CSRF token given at
// login goes with every unsafe request; the session token itself stays in
// the HttpOnly cookie, out of reach of scripts), then the live map and the
// management screens. Only the public API and the event stream are used.
import { api, onExpired } from './api.js';
import { h, $, notice } from './ui.js';
import { state, loadSession, loadRegistry, orgName } from './state.js';
import { mapView, mapStart, mapStop, drawRegistry, refreshSubjects, refreshSearch } from './map.js';
import { screens } from './screens.js';

const NAV = [
  ['map', 'Map'], ['people', 'People'], ['sites', 'Sites'], ['vehicles', 'Vehicles'], ['devices', 'Devices'],
  ['zones', 'Zones'], ['alerts', 'Alerts'], ['rollcalls', 'Roll-calls'], ['agreements', 'Agreements'], ['users', 'Users'],
  ['api_keys', 'API keys'], ['channels', 'Channels'], ['audit', 'Audit'],
];
const ROLE_SCREENS = {
  person: ['map'],
  viewer: ['map', 'people', 'sites', 'vehicles', 'devices', 'zones', 'alerts', 'rollcalls', 'agreements'],
};

let started = false;

function showLogin(note) {
  started = false;
  mapStop();
  $('#view').hidden = true;
  $('#view').replaceChildren();
  $('#nav').hidden = true;
  $('#logout').hidden = true;
  $('#who').textContent = '';
  $('#login-note').textContent = note || '';
  $('#login').hidden = false;
  document.body.classList.remove('signed-in');
  $('#login').elements.username.focus();
}

onExpired(() => {
  if (!started) return;
  sessionStorage.removeItem('csrf');
  showLogin('Your session has ended. Log in again.');
});

async function start() {
  $('#login').hidden = true;
  document.body.classList.add('signed-in');
  await loadRegistry();
  const me = state.me;
  const role = me.role.replace(/_/g, ' ');
  $('#who').replaceChildren(h('span', { class: 'org' }, orgName(me.org_id)), ' · ',
    h('span', { class: 'user' }, me.username || 'API key'), ' · ', h('span', { class: 'role' }, role));
  const allowed = ROLE_SCREENS[me.role];
  const adminOnly = ['users', 'api_keys', 'channels', 'audit'];
  $('#nav').replaceChildren(...NAV.filter(([k]) => (!allowed || allowed.includes(k)) && (me.role === 'admin' || !adminOnly.includes(k))).map(([k, label]) =>
    h('a', { href: `#${k}`, 'data-screen': k }, label)));
  $('#nav').hidden = false;
  $('#logout').hidden = false;
  $('#view').hidden = false;
  started = true;
  try {
    await route();
    const here = document.querySelector('#nav a[aria-current=page]');
    if (here) here.focus();
  } catch (e) {
    console.error(e);
    notice(`This screen failed: ${e.message}`, 'error');
  }
}

async function route() {
  if (!started) return;
  const name = (location.hash || '#map').slice(1);
  const screen = NAV.some(([k]) => k === name) ? name : 'map';
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.screen === screen) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const view = $('#view');
  if (screen === 'map') {
    const mv = mapView();
    if (view.firstChild !== mv) view.replaceChildren(mv);
    try {
      await loadRegistry();
      drawRegistry();
      refreshSubjects();
      refreshSearch();
    } catch { /* 401: handled by onExpired */ }
    await mapStart();
    document.title = 'Safeguard — map';
    return;
  }
  view.replaceChildren(screens[screen]());
  document.title = `Safeguard — ${screen.replace('_', ' ')}`;
}

window.addEventListener('hashchange', () => {
  route().catch((e) => { console.error(e); notice(`This screen failed: ${e.message}`, 'error'); });
});

$('#login').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = ev.target;
  $('#login-error').textContent = '';
  try {
    const res = await api('POST', '/api/v1/session', { username: f.elements.username.value, password: f.elements.password.value });
    sessionStorage.setItem('csrf', res.csrf_token);
    f.reset();
    await loadSession();
    await start();
  } catch (e) {
    $('#login-error').textContent = e.status === 401 ? 'Wrong username or password.' : e.message;
  }
});

$('#logout').addEventListener('click', async () => {
  try { await api('DELETE', '/api/v1/session'); } catch { /* gone already */ }
  sessionStorage.removeItem('csrf');
  showLogin('You have logged out.');
});

(async () => {
  // A session cookie from before, in a tab that still holds its CSRF token:
  // carry on; otherwise log in.
  if (!sessionStorage.getItem('csrf')) return showLogin();
  try {
    await loadSession();
    await start();
  } catch {
    showLogin();
  }
})();
