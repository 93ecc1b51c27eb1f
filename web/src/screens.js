// The management screens: people, sites, vehicles, devices (enrolment),
// zones, sharing agreements, users, API keys and the audit trail. Each is a
// list with its actions and, for those who may write, a form.
import QRCode from 'qrcode';
import { api, all } from './api.js';
import { h, table, addRows, form, notice, localTime, age } from './ui.js';
import { state, orgName, isOwn, sharedLabel, personLabel, levelLabel } from './state.js';
import { alertsScreen, rollcallsScreen } from './warn.js';

const opts = (list) => list.map((v) => [v, v.replace(/_/g, ' ')]);
const canWrite = () => state.me && !['viewer', 'person'].includes(state.me.role);
const isAdmin = () => state.me && state.me.role === 'admin';
const orgCol = ['Organisation', (r) => (isOwn(r) ? 'own' : `${orgName(r.org_id)} (${r.access})`)];

// A list of one collection with paging, row actions and a create form.
function collection({ title, path, cols, fields, create, after, rowActions, intro }) {
  const body = h('div', { class: 'list' });
  const more = h('button', { type: 'button', hidden: true }, 'More');
  let next = null;
  let t = null;
  const actionCol = rowActions ? [['', (item) => h('span', { class: 'row-actions' }, rowActions(item, reload))]] : [];
  async function page(append) {
    const q = new URLSearchParams({ limit: '100' });
    if (append && next) q.set('cursor', next);
    try {
      const res = await api('GET', `${path}?${q}`);
      if (!append || !t) {
        t = table([...cols, ...actionCol], res.items, { title: sharedLabel });
        body.replaceChildren(t);
      } else {
        addRows(t, [...cols, ...actionCol], res.items, { title: sharedLabel });
      }
      next = res.next;
      more.hidden = !next;
    } catch (e) {
      body.replaceChildren(h('p', { class: 'error' }, e.message));
    }
  }
  function reload() { return page(false); }
  more.addEventListener('click', () => page(true));
  const out = h('section', { class: 'screen', 'aria-labelledby': 'screen-title' },
    h('h1', { id: 'screen-title' }, title), intro || null);
  const fieldList = fields && canWrite() ? (typeof fields === 'function' ? fields() : fields) : [];
  if (fieldList.length) {
    const result = h('div', { class: 'result', 'aria-live': 'polite' });
    const f = form(fieldList, `Create`, async (v, el) => {
      const rec = await api('POST', path, create ? create(v) : v);
      el.reset();
      notice(`Created ${rec.name || rec.registration || rec.username || rec.id}`);
      if (after) await after(rec, result);
      result.scrollIntoView({ block: 'nearest' });
      await reload();
    });
    out.append(h('details', { class: 'create', open: title === 'Devices' || null },
      h('summary', null, `New ${title.toLowerCase().replace(/s$/, '').replace('api key', 'API key')}`), f, result));
  }
  out.append(body, more);
  reload();
  return out;
}

function del(kind, item, reload, label) {
  if (!isOwn(item) || !canWrite()) return null;
  return h('button', { type: 'button', class: 'small', onclick: async () => {
    if (!confirm(`Delete ${label}?`)) return;
    try { await api('DELETE', `/api/v1/${kind}/${encodeURIComponent(item.id)}`); reload(); } catch (e) { notice(e.message, 'error'); }
  } }, 'Delete');
}

const siteOptions = () => [['', '—'], ...[...state.sites.values()].filter(isOwn).map((s) => [s.id, s.name])];
const personOptions = () => [['', '—'], ...[...state.people.values()].filter(isOwn).map((p) => [p.id, personLabel(p)])];
const vehicleOptions = () => [['', '—'], ...[...state.vehicles.values()].filter(isOwn).map((v) => [v.id, v.registration])];

export const screens = {
  people: () => collection({
    title: 'People', path: '/api/v1/people',
    cols: [['Name', (p) => personLabel(p)], ['Kind', (p) => p.kind], ['Job', (p) => p.job], ['Nationality', (p) => p.nationality],
           ['Status', (p) => p.status], ['Phone', (p) => p.phone], ['Home site', (p) => (state.sites.get(p.home_site_id) || {}).name], orgCol],
    fields: () => [
      { name: 'name', label: 'Name', required: true },
      { name: 'kind', label: 'Kind', type: 'select', options: opts(['staff', 'escort', 'contractor', 'visitor']) },
      { name: 'status', label: 'Status', type: 'select', options: opts(['in_country', 'on_leave', 'departed']) },
      { name: 'job', label: 'Job' }, { name: 'nationality', label: 'Nationality (ISO code)' },
      { name: 'phone', label: 'Phone' }, { name: 'email', label: 'Email' },
      { name: 'home_site_id', label: 'Home site', type: 'select', options: siteOptions() },
      { name: 'emergency_contact', label: 'Emergency contact' }, { name: 'notes', label: 'Notes', type: 'textarea' }],
    after: (rec) => { state.people.set(rec.id, rec); },
    rowActions: (p, reload) => del('people', p, reload, personLabel(p)),
  }),
  sites: () => collection({
    title: 'Sites', path: '/api/v1/sites',
    intro: h('p', { class: 'note' }, 'Draw a site\'s outline on the map ("Draw site"), or give a centre and a radius here.'),
    cols: [['Name', (s) => s.name], ['Kind', (s) => s.kind], ['Shape', (s) => (s.geometry ? s.geometry.type : '')],
           ['Radius', (s) => (s.radius_m ? `${s.radius_m} m` : '')], ['Address', (s) => s.address], orgCol],
    fields: [{ name: 'name', label: 'Name', required: true },
      { name: 'kind', label: 'Kind', type: 'select', options: opts(['project_site', 'camp', 'office', 'airport', 'hotel', 'other']) },
      { name: 'lat', label: 'Latitude', type: 'number', step: 'any', required: true },
      { name: 'lon', label: 'Longitude', type: 'number', step: 'any', required: true },
      { name: 'radius_m', label: 'Radius (m)', type: 'number', value: 500, required: true },
      { name: 'address', label: 'Address' }, { name: 'notes', label: 'Notes', type: 'textarea' }],
    create: ({ lat, lon, ...v }) => ({ ...v, geometry: { type: 'Point', coordinates: [lon, lat] } }),
    after: (rec) => { state.sites.set(rec.id, rec); },
    rowActions: (s, reload) => del('sites', s, reload, s.name),
  }),
  vehicles: () => collection({
    title: 'Vehicles', path: '/api/v1/vehicles',
    cols: [['Registration', (v) => v.registration], ['Make and model', (v) => v.make_model], ['Colour', (v) => v.colour],
           ['Armoured', (v) => v.armoured], ['Seats', (v) => v.seats], orgCol],
    fields: [{ name: 'registration', label: 'Registration', required: true }, { name: 'make_model', label: 'Make and model' },
      { name: 'colour', label: 'Colour' }, { name: 'armoured', label: 'Armoured', type: 'checkbox' },
      { name: 'seats', label: 'Seats', type: 'number', min: 1, max: 60 }, { name: 'notes', label: 'Notes', type: 'textarea' }],
    after: (rec) => { state.vehicles.set(rec.id, rec); },
    rowActions: (v, reload) => del('vehicles', v, reload, v.registration),
  }),
  devices: () => { loadLastFixes(); return collection({
    title: 'Devices', path: '/api/v1/devices',
    intro: h('p', { class: 'note' }, 'Enrolling a device shows its key once, with the settings to type into Traccar Client or OwnTracks.'),
    cols: [['Name', (d) => d.name], ['Kind', (d) => d.kind], ['Protocol', (d) => d.protocol],
           ['Carried by', (d) => (d.person_id ? personLabel(state.people.get(d.person_id)) : d.vehicle_id ? (state.vehicles.get(d.vehicle_id) || {}).registration : '')],
           ['Last fix', (d) => (lastFix.has(d.id) ? `${localTime(lastFix.get(d.id))} (${age(lastFix.get(d.id))})` : 'none yet')], orgCol],
    fields: () => [{ name: 'name', label: 'Name', required: true },
      { name: 'kind', label: 'Kind', type: 'select', options: opts(['phone', 'tracker', 'vehicle_unit']) },
      { name: 'protocol', label: 'App / protocol', type: 'select', options: [['osmand', 'Traccar Client / OsmAnd'], ['owntracks', 'OwnTracks']] },
      { name: 'person_id', label: 'Person', type: 'select', options: personOptions() },
      { name: 'vehicle_id', label: 'Vehicle', type: 'select', options: vehicleOptions() },
      { name: 'notes', label: 'Notes', type: 'textarea' }],
    after: async (rec, result) => { state.devices.set(rec.id, rec); await enrolment(rec, rec.key, result); },
    rowActions: (d, reload) => [
      isOwn(d) && canWrite() ? h('button', { type: 'button', class: 'small', onclick: async () => {
        if (!confirm(`Issue a new key for ${d.name}? The old key stops working.`)) return;
        try {
          const k = await api('POST', `/api/v1/devices/${encodeURIComponent(d.id)}/key`);
          const box = document.querySelector('.screen .result') || document.getElementById('view');
          await enrolment(d, k.key, box);
        } catch (e) { notice(e.message, 'error'); }
      } }, 'New key') : null,
      del('devices', d, reload, d.name)],
  }); },
  zones: () => collection({
    title: 'Risk zones', path: '/api/v1/zones',
    intro: h('p', { class: 'note' }, 'Draw a zone on the map ("Draw zone"); here you see, retire or delete them.'),
    cols: [['Name', (z) => z.name], ['Level', (z) => h('span', { class: `lvl l${z.level}` }, levelLabel(z.level))],
           ['Reason', (z) => z.reason], ['Valid from', (z) => localTime(z.valid_from)], ['Valid to', (z) => localTime(z.valid_to)],
           ['Retired', (z) => z.retired], orgCol],
    rowActions: (z, reload) => [
      isOwn(z) && canWrite() && !z.retired ? h('button', { type: 'button', class: 'small', onclick: async () => {
        try { await api('PATCH', `/api/v1/zones/${encodeURIComponent(z.id)}`, { retired: true }); reload(); } catch (e) { notice(e.message, 'error'); }
      } }, 'Retire') : null,
      del('zones', z, reload, z.name)],
  }),
  agreements: agreementsScreen,
  alerts: alertsScreen,
  rollcalls: rollcallsScreen,
  channels: () => collection({
    title: 'Channels', path: '/api/v1/channels',
    intro: h('p', { class: 'note' }, 'Where alerts and roll-call questions go besides the console and the OwnTracks app: '
      + 'webhooks (signed with X-Safeguard-Signature), email over SMTP, an SMS gateway. '
      + 'Credentials of the SMTP server and the SMS gateway live in the server\'s configuration, never here.'),
    cols: [['Name', (c) => c.name], ['Kind', (c) => c.kind], ['Address', (c) => c.url], ['Format', (c) => c.format || ''],
           ['Enabled', (c) => (c.enabled ? 'yes' : 'no')]],
    fields: [{ name: 'name', label: 'Name', required: true },
      { name: 'kind', label: 'Kind', type: 'select', options: opts(['webhook', 'email', 'sms']) },
      { name: 'url', label: 'URL (http(s):// for webhooks and SMS; smtp:// for email)', required: true },
      { name: 'secret', label: 'Webhook key (16+ characters)', type: 'password' },
      { name: 'format', label: 'Webhook body', type: 'select', options: [['', '—'], ['json', 'JSON'], ['cap', 'CAP 1.2 XML']] },
      { name: 'mail_from', label: 'Email sender address' },
      { name: 'method', label: 'SMS method', type: 'select', options: [['', '—'], ['POST', 'POST'], ['PUT', 'PUT'], ['GET', 'GET']] },
      { name: 'body_template', label: 'SMS body ({to} {text} {alert_id} {recipient_id} {delivery_id})', type: 'textarea' },
      { name: 'content_type', label: 'SMS content type' }],
    rowActions: (c, reload) => del('channels', c, reload, c.name),
  }),
  users: () => collection({
    title: 'Users', path: '/api/v1/users',
    cols: [['Username', (u) => u.username], ['Role', (u) => u.role], ['Display name', (u) => u.display_name],
           ['Person', (u) => (u.person_id ? personLabel(state.people.get(u.person_id)) : '')], ['Disabled', (u) => u.disabled]],
    fields: () => (isAdmin() ? [{ name: 'username', label: 'Username', required: true },
      { name: 'role', label: 'Role', type: 'select', options: opts(['viewer', 'duty_officer', 'security_manager', 'liaison', 'person', 'admin']) },
      { name: 'display_name', label: 'Display name' },
      { name: 'password', label: 'Password (12 characters or more)', type: 'password', required: true, autocomplete: 'new-password' },
      { name: 'person_id', label: 'Person (role person only)', type: 'select', options: personOptions() }] : []),
    rowActions: (u, reload) => (isAdmin() && u.id !== state.me.id ? h('button', { type: 'button', class: 'small', onclick: async () => {
      try { await api('PATCH', `/api/v1/users/${encodeURIComponent(u.id)}`, { disabled: !u.disabled }); reload(); } catch (e) { notice(e.message, 'error'); }
    } }, u.disabled ? 'Enable' : 'Disable') : null),
  }),
  api_keys: () => collection({
    title: 'API keys', path: '/api/v1/api_keys',
    cols: [['Name', (k) => k.name], ['Role', (k) => k.role], ['Created', (k) => localTime(k.created_at)], ['Revoked', (k) => k.revoked]],
    fields: () => (isAdmin() ? [{ name: 'name', label: 'What it is for', required: true },
      { name: 'role', label: 'Role', type: 'select', options: opts(['viewer', 'duty_officer', 'security_manager', 'liaison']) }] : []),
    after: (rec, result) => {
      result.replaceChildren(h('div', { class: 'secret' }, h('h3', null, 'The key, shown once'),
        h('code', { class: 'key' }, rec.token || rec.key || ''), h('p', { class: 'note' }, 'Send it as "Authorization: Bearer …". It is not shown again.')));
    },
    rowActions: (k, reload) => (isAdmin() && !k.revoked ? h('button', { type: 'button', class: 'small', onclick: async () => {
      try { await api('PATCH', `/api/v1/api_keys/${encodeURIComponent(k.id)}`, { revoked: true }); reload(); } catch (e) { notice(e.message, 'error'); }
    } }, 'Revoke') : null),
  }),
  audit: auditScreen,
};

// The devices' last fix times, from the latest positions the viewer may see.
const lastFix = new Map();
async function loadLastFixes() {
  try {
    const page = await api('GET', '/api/v1/positions/latest?bbox=-180,-90,180,90&limit=10000');
    lastFix.clear();
    for (const p of page.items) lastFix.set(p.device_id, p.time);
    for (const tr of document.querySelectorAll('table.grid tbody tr[data-id]')) {
      const t = lastFix.get(tr.dataset.id);
      const cell = tr.cells[4];
      if (t && cell) cell.textContent = `${localTime(t)} (${age(t)})`;
    }
  } catch { /* the column says "none yet" */ }
}

// --- device enrolment: the settings, shown once --------------------------------------

async function enrolment(dev, key, box) {
  const origin = location.origin;
  const rows = dev.protocol === 'owntracks'
    ? [['App', 'OwnTracks (Android or iOS), Settings → Connection'], ['Mode', 'HTTP'],
       ['URL', `${origin}/ingest/owntracks`], ['Authentication', 'on'], ['User ID', 'safeguard'], ['Password', key],
       ['Device ID', dev.id.slice(-8)], ['Tracker ID', (dev.name || 'SG').replace(/[^A-Za-z0-9]/g, '').slice(0, 2).toUpperCase() || 'SG']]
    : [['App', 'Traccar Client (or OsmAnd\'s online tracking)'], ['Server URL', `${origin}/ingest/osmand`],
       ['Device identifier', key], ['Location accuracy', 'high'], ['Frequency', '60 s (30 s on movements)'],
       ['Offline buffering', 'on']];
  const dl = h('dl', { class: 'settings' }, rows.map(([k, v]) => [h('dt', null, k), h('dd', null, h('code', null, v))]));
  const panel = h('div', { class: 'secret', id: 'enrolment' },
    h('h3', null, `Settings for ${dev.name}`), h('p', { class: 'warn' }, 'The key is shown once: type it into the device now.'), dl);
  if (dev.protocol === 'owntracks') {
    const cfg = { _type: 'configuration', mode: 3, url: `${origin}/ingest/owntracks`, auth: true, username: 'safeguard',
                  password: key, deviceId: rows[6][1], tid: rows[7][1], monitoring: 1 };
    const link = `owntracks:///config?inline=${btoa(JSON.stringify(cfg))}`;
    const canvas = h('canvas', { id: 'enrol-qr', 'aria-label': 'QR code: OwnTracks configuration import' });
    try { await QRCode.toCanvas(canvas, link, { errorCorrectionLevel: 'M', margin: 2, width: 240 }); } catch (e) { canvas.replaceWith(h('p', { class: 'error' }, e.message)); }
    panel.append(h('p', null, 'Or scan this with the phone: OwnTracks imports the whole configuration.'), canvas);
  }
  box.replaceChildren(panel);
}

// --- agreements ---------------------------------------------------------------------------

const LEVEL_TEXT = { full: 'in full', summary: 'as a summary (pseudonyms instead of names, coarse positions)', none: 'nothing of' };
const COND_TEXT = { always: '', during_shared_movement: ', only during movements both take part in', during_open_sos: ', only while an SOS is open for that person' };
export const CATEGORIES = ['people', 'positions', 'movements', 'incidents', 'zones', 'alarms', 'alerts', 'roll-calls', 'sites', 'vehicles'];

function grantText(g) {
  const lv = LEVEL_TEXT[g.level] || g.level;
  const span = [g.from ? ` from ${localTime(g.from)}` : '', g.to ? ` until ${localTime(g.to)}` : ''].join('');
  return `${orgName(g.grantor_id)} lets ${orgName(g.grantee_id)} see ${g.level === 'none' ? 'nothing of its' : 'its'} ${g.category}${g.level === 'none' ? '' : ' ' + lv}${COND_TEXT[g.condition] ?? ''}${span}${g.in_force === false ? ' (not in force)' : ''}.`;
}

const sideText = (side) => (!side.accepted_at ? 'not accepted yet'
  : `${side.state || 'active'} (accepted ${localTime(side.accepted_at)})`);

function agreementsScreen() {
  const list = h('div', { class: 'agreements' });
  async function reload() {
    try {
      const items = await all('/api/v1/agreements');
      list.replaceChildren(...(items.length ? items.map(card) : [h('p', { class: 'note' }, 'No agreements yet.')]));
    } catch (e) { list.replaceChildren(h('p', { class: 'error' }, e.message)); }
  }
  function card(a) {
    const mine = (a.sides || []).find((s) => s.org_id === state.me.org_id) || {};
    const other = (a.sides || []).find((s) => s.org_id !== state.me.org_id) || {};
    const act = (verb, label) => h('button', { type: 'button', class: 'small', 'data-act': verb, onclick: async () => {
      try { await api('POST', `/api/v1/agreements/${encodeURIComponent(a.id)}/${verb}`, {}); notice(`Agreement: ${label}`); reload(); } catch (e) { notice(e.message, 'error'); }
    } }, label);
    const partner = a.org_id === state.me.org_id ? a.partner_id : a.org_id;
    const actions = isAdmin() ? [
      !mine.accepted_at && mine.state !== 'revoked' ? act('accept', 'Accept') : null,
      mine.state === 'active' && a.accepted_by_both ? act('suspend', 'Suspend') : null,
      mine.state === 'suspended' ? act('resume', 'Resume') : null,
      mine.state !== 'revoked' ? act('revoke', 'Revoke') : null] : [];
    const own = (a.grants || []).filter((g) => g.grantor_id === state.me.org_id);
    const theirs = (a.grants || []).filter((g) => g.grantor_id !== state.me.org_id);
    return h('article', { class: 'agreement', 'data-id': a.id },
      h('h2', null, `With ${orgName(partner)}`),
      h('p', null, a.accepted_by_both ? 'Accepted by both sides.' : 'Waiting for acceptance.',
        ` Your side: ${sideText(mine)}. Their side: ${sideText(other)}.`),
      h('h3', null, 'What they see of yours'), h('ul', null, own.length ? own.map((g) => h('li', null, grantText(g))) : h('li', null, 'Nothing.')),
      h('h3', null, 'What you see of theirs'), h('ul', null, theirs.length ? theirs.map((g) => h('li', null, grantText(g))) : h('li', null, 'Nothing.')),
      h('div', { class: 'row-actions' }, actions));
  }
  const out = h('section', { class: 'screen' }, h('h1', { id: 'screen-title' }, 'Sharing agreements'),
    h('p', { class: 'note' }, 'An agreement says, for each side, what the other may see. It takes effect when both have accepted; either side may suspend or revoke it.'),
    list);
  if (isAdmin()) out.append(proposeForm(reload));
  reload();
  return out;
}

function proposeForm(reload) {
  const rows = h('div', { class: 'grants' });
  const addGrant = (cat = 'sites', level = 'full', cond = 'always') => {
    const sel = (name, options, v) => h('select', { name, 'aria-label': name }, options.map(([k, l]) => h('option', { value: k, selected: k === v || null }, l)));
    rows.append(h('div', { class: 'grant row' },
      sel('category', opts(CATEGORIES), cat), sel('level', [['full', 'full'], ['summary', 'summary'], ['none', 'none']], level),
      sel('condition', [['always', 'always'], ['during_shared_movement', 'during shared movements'], ['during_open_sos', 'during an open SOS']], cond),
      h('button', { type: 'button', class: 'small', onclick: (e) => e.target.closest('.grant').remove() }, 'Remove')));
  };
  addGrant();
  const partners = [...state.orgs.values()].filter((o) => o.id !== state.me.org_id);
  const f = form([{ name: 'partner_id', label: 'Partner organisation', type: 'select', options: partners.map((o) => [o.id, o.name]) },
                  { name: 'partner_other', label: 'or its id' }], 'Propose', async (v) => {
    const grants = [...rows.querySelectorAll('.grant')].map((g) => ({
      category: g.querySelector('[name=category]').value, level: g.querySelector('[name=level]').value,
      condition: g.querySelector('[name=condition]').value }));
    await api('POST', '/api/v1/agreements', { partner_id: v.partner_other || v.partner_id, grants });
    notice('Agreement proposed');
    reload();
  }, h('fieldset', null, h('legend', null, 'What you let them see'), rows,
        h('button', { type: 'button', class: 'small', onclick: () => addGrant('people', 'summary') }, 'Add a grant')));
  f.id = 'propose';
  return h('details', { class: 'create' }, h('summary', null, 'Propose an agreement'), f);
}

// --- audit ----------------------------------------------------------------------------------

function auditScreen() {
  // The server filters (GET /api/v1/audit?action=&actor=&object_type=&object_id=&from=&to=)
  const filt = h('form', { class: 'filters row', role: 'search' },
    h('label', null, 'Action', h('input', { name: 'action', placeholder: 'e.g. create, login, read' })),
    h('label', null, 'Actor id', h('input', { name: 'actor' })),
    h('label', null, 'Object type', h('input', { name: 'object_type', placeholder: 'e.g. person, zone' })),
    h('label', null, 'Object id', h('input', { name: 'object_id' })),
    h('label', null, 'From', h('input', { name: 'from', type: 'datetime-local' })),
    h('label', null, 'To', h('input', { name: 'to', type: 'datetime-local' })),
    h('button', { type: 'submit' }, 'Filter'));
  const cols = [['#', (a) => a.seq], ['When', (a) => localTime(a.at)], ['Actor', (a) => a.actor], ['Action', (a) => a.action],
                ['Object', (a) => `${a.object_type || ''} ${a.object_id || ''}`], ['Request', (a) => a.request_id]];
  let next = null;
  let t = null;
  const body = h('div');
  const more = h('button', { type: 'button', hidden: true }, 'Load older entries');
  const query = () => {
    const q = new URLSearchParams({ limit: '200' });
    for (const [k, v] of new FormData(filt)) {
      if (!v) continue;
      q.set(k, k === 'from' || k === 'to' ? new Date(v).toISOString() : v);
    }
    return q;
  };
  async function page(append) {
    const q = query();
    if (append && next) q.set('cursor', next);
    try {
      const res = await api('GET', `/api/v1/audit?${q}`);
      if (!append || !t) { t = table(cols, res.items); body.replaceChildren(t); } else addRows(t, cols, res.items);
      if (!res.items.length && !append) body.replaceChildren(h('p', { class: 'note' }, 'No entry matches.'));
      next = res.next;
      more.hidden = !next;
    } catch (e) { body.replaceChildren(h('p', { class: 'error' }, e.message)); }
  }
  filt.addEventListener('submit', (e) => { e.preventDefault(); page(false); });
  more.addEventListener('click', () => page(true));
  page(false);
  return h('section', { class: 'screen' }, h('h1', { id: 'screen-title' }, 'Audit trail'), filt, body, more);
}
