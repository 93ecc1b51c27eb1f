// Warning and accounting for people: the alert composer (a circle or polygon
// drawn on a map, or an incident's area; a template; exercise or real; the
// recipients previewed on the map and in a list with their reasons; the
// delivery state per recipient and channel) and the roll-call tracker
// (progress by state, the missing on a map with their last known positions,
// answering for someone with a reason, CSV export), live from the stream.
import L from './leaflet-global.js';
import { api, all } from './api.js';
import { h, table, form, notice, localTime, age } from './ui.js';
import { state, isOwn, sharedLabel, orgName } from './state.js';
import { addBasemap } from './map.js';

const canWrite = () => state.me && !['viewer', 'person'].includes(state.me.role);
const orgCol = ['Organisation', (r) => (isOwn(r) ? 'own' : `${orgName(r.org_id)} (${r.access})`)];
const exerciseTag = (x) => (x.status === 'Exercise' || x.exercise ? h('b', { class: 'exercise-tag' }, 'EXERCISE') : '');
const personName = (id) => {
  const p = state.people.get(id);
  return p ? (p.name || p.pseudonym || id) : id;
};

export const TEMPLATES = [
  ['', 'No template'],
  ['vbied', 'Car bomb'],
  ['attack', 'Armed attack'],
  ['road', 'Road closed'],
  ['drill', 'Evacuation drill (exercise)'],
];
const TEMPLATE = {
  vbied: { event: 'Car bomb', urgency: 'Immediate', severity: 'Extreme', certainty: 'Observed',
    headline: 'Car bomb: stay where you are', instruction: 'Stay indoors and away from windows. Do not travel. Answer the roll-call.' },
  attack: { event: 'Armed attack', urgency: 'Immediate', severity: 'Severe', certainty: 'Likely',
    headline: 'Armed attack reported: shelter in place', instruction: 'Shelter in place, lock the doors, keep your phone on.' },
  road: { event: 'Road closure', urgency: 'Expected', severity: 'Moderate', certainty: 'Likely',
    headline: 'Road closed: do not use this route', instruction: 'Use the alternative route agreed with your escort.' },
  drill: { event: 'Evacuation drill', urgency: 'Expected', severity: 'Minor', certainty: 'Observed', status: 'Exercise',
    headline: 'Drill: go to your assembly point', instruction: 'This is an exercise. Go to your assembly point and answer the roll-call.' },
};

// A small map on the offline basemap (or the configured tiles), centred on
// the organisation's own sites.
function smallMap(el) {
  const renderer = L.canvas({ padding: 0.3 });
  const map = L.map(el, { preferCanvas: true, renderer, minZoom: 2, maxZoom: 18, keyboard: true }).setView([24.9, 67.1], 10);
  addBasemap(map, renderer);
  const own = [...state.sites.values()].filter(isOwn)
    .map((s) => (s.geometry && s.geometry.type === 'Point' ? [s.geometry.coordinates[1], s.geometry.coordinates[0]] : null))
    .filter(Boolean);
  if (own.length) map.fitBounds(L.latLngBounds(own).pad(0.3), { maxZoom: 12 });
  L.control.scale({ imperial: false }).addTo(map);
  return { map, renderer, shape: L.layerGroup().addTo(map), marks: L.layerGroup().addTo(map) };
}

// --- alerts ----------------------------------------------------------------------------

function deliveriesView(alertId, box) {
  async function load() {
    try {
      const d = await api('GET', `/api/v1/alerts/${encodeURIComponent(alertId)}/deliveries`);
      const counts = Object.entries(d.counts).map(([ch, by]) =>
        h('li', null, h('b', null, ch), ' ', Object.entries(by).map(([st, n]) => `${st} ${n}`).join(' · ')));
      box.replaceChildren(
        h('h3', null, 'Delivery ', h('button', { type: 'button', class: 'small', onclick: load }, 'Refresh')),
        h('ul', { class: 'delivery-counts' }, counts),
        table([
          ['Person', (x) => personName(x.person_id)], ['Channel', (x) => x.channel],
          ['State', (x) => h('span', { class: `dstate ${x.state}` }, x.state)], ['Tries', (x) => String(x.attempts)],
          ['Wave', (x) => (x.rollcall_id ? String(x.wave) : '')], ['Sent', (x) => localTime(x.sent_at)],
          ['Problem', (x) => x.last_error || ''],
        ], d.deliveries));
      box.querySelector('table').id = 'deliveries';
      // follow it while the fan-out writes rows (queued) and the channels send (pending)
      const n = (st) => Object.values(d.counts).reduce((sum, by) => sum + (by[st] || 0), 0);
      clearTimeout(box.followTimer);
      if (box.isConnected && (n('queued') || n('pending'))) box.followTimer = setTimeout(load, n('queued') ? 1000 : 5000);
    } catch (e) {
      box.replaceChildren(h('p', { class: 'error' }, e.message));
    }
  }
  load();
  return load;
}

async function startRollcall(alert) {
  const rc = await api('POST', '/api/v1/rollcalls', { alert_id: alert.id, title: alert.headline });
  sessionStorage.setItem('sg-rollcall', rc.id);
  notice(`Roll-call started: ${rc.counts.asked} asked`);
  location.hash = '#rollcalls';
}

export function alertsScreen() {
  const list = h('div', { class: 'list' });
  const sent = h('div', { id: 'alert-sent', class: 'result', 'aria-live': 'polite' });
  async function reload() {
    try {
      const res = await api('GET', '/api/v1/alerts?limit=100');
      const items = res.items.sort((x, y) => (y.sent_at || '').localeCompare(x.sent_at || ''));
      list.replaceChildren(table([
        ['Sent', (x) => localTime(x.sent_at)], ['', exerciseTag],
        ['Headline', (x) => x.headline], ['Event', (x) => x.event], ['Severity', (x) => x.severity],
        ['Type', (x) => x.msg_type], ['Recipients', (x) => (isOwn(x) ? String(x.recipients) : '')],
        ['Relayed from', (x) => x.relayed_from || ''], orgCol,
        ['', (x) => h('span', { class: 'row-actions' },
          h('a', { href: `/api/v1/alerts/${encodeURIComponent(x.id)}/cap`, target: '_blank', rel: 'noopener' }, 'CAP'),
          isOwn(x) && canWrite() ? h('button', { type: 'button', class: 'small deliveries', onclick: () => {
            sent.replaceChildren(h('h3', null, x.headline), h('div'));
            deliveriesView(x.id, sent.lastChild);
            sent.scrollIntoView({ block: 'nearest' });
          } }, 'Delivery') : null,
          isOwn(x) && canWrite() && x.recipients > 0 && x.msg_type !== 'Cancel' ? h('button', { type: 'button', class: 'small ask',
            onclick: () => startRollcall(x).catch((e) => notice(e.message, 'error')) }, 'Roll-call') : null,
          !isOwn(x) && canWrite() ? h('button', { type: 'button', class: 'small relay', onclick: async () => {
            try {
              const rec = await api('POST', `/api/v1/alerts/${encodeURIComponent(x.id)}/relay`);
              notice(`Relayed to ${rec.recipients} of your people`);
              reload();
            } catch (e) { notice(e.message, 'error'); }
          } }, 'Relay to my people') : null)],
      ], items, { title: sharedLabel }));
    } catch (e) {
      list.replaceChildren(h('p', { class: 'error' }, e.message));
    }
  }
  const out = h('section', { class: 'screen', 'aria-labelledby': 'screen-title' }, h('h1', { id: 'screen-title' }, 'Alerts'));
  if (canWrite()) out.append(composer(reload, sent));
  out.append(sent, list);
  reload();
  return out;
}

function composer(reload, sent) {
  const preview = h('div', { id: 'alert-preview', class: 'result', 'aria-live': 'polite' });
  const incidents = [...state.incidents.values()].filter(isOwn);
  const fields = [
    { name: 'template', label: 'Template', type: 'select', value: '', options: TEMPLATES },
    { name: 'headline', label: 'Headline', required: true },
    { name: 'event', label: 'Event', required: true, value: 'Security incident' },
    { name: 'instruction', label: 'Instruction', type: 'textarea' },
    { name: 'urgency', label: 'Urgency', type: 'select', value: 'Immediate', options: ['Immediate', 'Expected', 'Future', 'Past', 'Unknown'].map((v) => [v, v]) },
    { name: 'severity', label: 'Severity', type: 'select', value: 'Severe', options: ['Extreme', 'Severe', 'Moderate', 'Minor', 'Unknown'].map((v) => [v, v]) },
    { name: 'certainty', label: 'Certainty', type: 'select', value: 'Likely', options: ['Observed', 'Likely', 'Possible', 'Unlikely', 'Unknown'].map((v) => [v, v]) },
    { name: 'status', label: 'Status', type: 'select', value: 'Actual', options: [['Actual', 'Actual'], ['Exercise', 'Exercise (drill)']] },
    { name: 'area', label: 'Area', type: 'select', value: 'circle',
      options: [['circle', 'A circle (click the map for its centre)'], ['polygon', 'A polygon (click its corners)'], ['incident', 'An incident\'s area']] },
    { name: 'lat', label: 'Centre latitude', type: 'number', step: 'any', min: -90, max: 90 },
    { name: 'lon', label: 'Centre longitude', type: 'number', step: 'any', min: -180, max: 180 },
    { name: 'radius_km', label: 'Radius (km)', type: 'number', step: 'any', value: 3, min: 0.01 },
    { name: 'incident_id', label: 'Incident', type: 'select', value: '',
      options: [['', '—'], ...incidents.map((i) => [i.id, `${i.type.replace(/_/g, ' ')} · ${localTime(i.time)}`])] },
    { name: 'area_desc', label: 'Area in words' },
  ];
  const mapEl = h('div', { class: 'small-map', id: 'alert-map', role: 'application', 'aria-label': 'Draw the alert\'s area' });
  const clear = h('button', { type: 'button', class: 'small', id: 'alert-clear' }, 'Clear the shape');
  let mm = null;
  let corners = [];
  const f = form(fields, 'Preview recipients', async (v) => {
    const b = { headline: v.headline, event: v.event, instruction: v.instruction, urgency: v.urgency, severity: v.severity,
      certainty: v.certainty, status: v.status, area_desc: v.area_desc };
    if (v.area === 'circle') {
      if (v.lat === undefined || v.lon === undefined || !v.radius_km) throw new Error('click the map for the circle\'s centre, or give latitude and longitude');
      Object.assign(b, { geometry: { type: 'Point', coordinates: [Number(v.lon), Number(v.lat)] }, radius_m: Number(v.radius_km) * 1000 });
    } else if (v.area === 'polygon') {
      if (corners.length < 3) throw new Error('click at least three corners on the map');
      const ring = corners.map((c) => [c.lng, c.lat]);
      ring.push(ring[0]);
      b.geometry = { type: 'Polygon', coordinates: [ring] };
    } else {
      if (!v.incident_id) throw new Error('choose an incident');
      b.incident_id = v.incident_id;
    }
    for (const k of Object.keys(b)) if (b[k] === undefined || b[k] === '') delete b[k];
    const p = await api('POST', '/api/v1/alerts?preview=true', b);
    showPreview(b, p);
  });
  f.id = 'new-alert';
  const el = (n) => f.elements[n];
  el('template').addEventListener('change', () => {
    const t = TEMPLATE[el('template').value];
    if (!t) return;
    for (const [k, val] of Object.entries(t)) if (el(k)) el(k).value = val;
    if (!t.status) el('status').value = 'Actual';
  });
  function drawShape() {
    if (!mm) return;
    mm.shape.clearLayers();
    const mode = el('area').value;
    if (mode === 'circle' && el('lat').value && el('lon').value) {
      const c = [Number(el('lat').value), Number(el('lon').value)];
      L.circle(c, { radius: Number(el('radius_km').value || 0) * 1000, renderer: mm.renderer, color: '#b3261e', weight: 2, fillOpacity: 0.08 }).addTo(mm.shape);
    } else if (mode === 'polygon' && corners.length) {
      (corners.length > 2 ? L.polygon(corners, { renderer: mm.renderer, color: '#b3261e', weight: 2, fillOpacity: 0.08 })
        : L.polyline(corners, { renderer: mm.renderer, color: '#b3261e', weight: 2 })).addTo(mm.shape);
    } else if (mode === 'incident' && el('incident_id').value) {
      const inc = state.incidents.get(el('incident_id').value);
      const g = inc && inc.geometry;
      if (g && g.type === 'Point') {
        L.circle([g.coordinates[1], g.coordinates[0]], { radius: inc.radius_m || 500, renderer: mm.renderer, color: '#b3261e' }).addTo(mm.shape);
      } else if (g) {
        L.geoJSON(g, { renderer: mm.renderer, style: { color: '#b3261e' } }).addTo(mm.shape);
      }
    }
  }
  for (const n of ['lat', 'lon', 'radius_km', 'area', 'incident_id']) el(n).addEventListener('input', drawShape);
  for (const n of ['area', 'incident_id']) el(n).addEventListener('change', drawShape);
  clear.addEventListener('click', () => { corners = []; el('lat').value = ''; el('lon').value = ''; drawShape(); });

  function showPreview(body, p) {
    const why = { position: 'position', home_site: 'home site', named: 'named', site: 'site' };
    if (mm) {
      mm.marks.clearLayers();
      for (const x of p.recipients) {
        if (!x.position) continue;
        L.circleMarker([x.position.lat, x.position.lon], { renderer: mm.renderer, radius: 6, color: '#0b3d91', fillOpacity: 0.8 })
          .bindTooltip(x.name || x.person_id).addTo(mm.marks);
      }
    }
    preview.replaceChildren(
      h('h3', null, `${p.count} ${p.count === 1 ? 'person' : 'people'} would be alerted`, body.status === 'Exercise' ? ' (exercise)' : ''),
      h('ol', { class: 'results' }, p.recipients.map((x) => h('li', null, x.name || x.person_id, ` · ${x.reasons.map((r) => why[r] || r).join(', ')}`))),
      h('button', { type: 'button', id: 'alert-send', onclick: async () => {
        try {
          const rec = await api('POST', '/api/v1/alerts', body);
          notice(`Alert sent to ${rec.recipients} people`);
          preview.replaceChildren();
          if (mm) mm.marks.clearLayers();
          sent.replaceChildren(h('h3', null, `Sent: ${rec.headline} (${rec.recipients} people)`, rec.status === 'Exercise' ? ' · EXERCISE' : ''),
            rec.recipients ? h('button', { type: 'button', id: 'alert-rollcall', onclick: () => startRollcall(rec).catch((e) => notice(e.message, 'error')) },
              'Ask them: are you safe?') : null,
            h('div'));
          deliveriesView(rec.id, sent.lastChild);
          f.reset();
          corners = [];
          drawShape();
          reload();
        } catch (e) { notice(e.message, 'error'); }
      } }, `Send to ${p.count} ${p.count === 1 ? 'person' : 'people'}`));
  }

  const box = h('details', { class: 'create composer' }, h('summary', null, 'New alert'),
    h('div', { class: 'compose' }, f, h('div', { class: 'compose-map' }, mapEl, clear, preview)));
  box.addEventListener('toggle', () => {
    if (!box.open) return;
    if (!mm) {
      mm = smallMap(mapEl);
      mm.map.on('click', (e) => {
        if (el('area').value === 'polygon') {
          corners.push(e.latlng);
        } else {
          el('area').value = 'circle';
          el('lat').value = e.latlng.lat.toFixed(5);
          el('lon').value = e.latlng.lng.toFixed(5);
        }
        drawShape();
      });
    }
    setTimeout(() => mm.map.invalidateSize(), 0);
  });
  return box;
}

// --- roll-calls --------------------------------------------------------------------------

function progressBar(c) {
  const total = Math.max(1, c.asked);
  const seg = (cls, label, n) => {
    const el = h('span', { class: `seg ${cls}`, title: `${label}: ${n}` });
    el.style.width = `${(100 * n) / total}%`; // through the CSSOM: the CSP forbids style attributes
    return el;
  };
  return h('div', { class: 'progress', role: 'img', 'aria-label': `safe ${c.safe}, need help ${c.need_help}, no answer ${c.no_answer} of ${c.asked}` },
    h('div', { class: 'bar' }, seg('safe', 'Safe', c.safe), seg('help', 'Need help', c.need_help), seg('silent', 'No answer', c.no_answer)),
    h('p', { class: 'legend', id: 'rollcall-counts' },
      h('span', { class: 'key safe' }, `Safe ${c.safe}`), ' · ', h('span', { class: 'key help' }, `Need help ${c.need_help}`), ' · ',
      h('span', { class: 'key silent' }, `No answer ${c.no_answer}`), ` · of ${c.asked} (${Math.round((100 * (c.asked - c.no_answer)) / total)} % accounted)`));
}

function tracker(id, box, back) {
  let mm = null;
  let es = null;
  let timer = null;
  const mapEl = h('div', { class: 'small-map', id: 'rollcall-map', role: 'img', 'aria-label': 'The missing at their last known positions' });
  const body = h('div');
  box.replaceChildren(body, mapEl);
  let first = true; // the screen may not be in the document yet
  async function load() {
    if (!first && !box.isConnected) { stop(); return; }
    first = false;
    let rc;
    let rep = null;
    try {
      rc = await api('GET', `/api/v1/rollcalls/${encodeURIComponent(id)}`);
      if (rc.people) rep = await api('GET', `/api/v1/rollcalls/${encodeURIComponent(id)}/report`);
    } catch (e) {
      body.replaceChildren(h('p', { class: 'error' }, e.message));
      return;
    }
    const own = isOwn(rc) && canWrite();
    const people = rep ? rep.people : [];
    const missing = people.filter((p) => p.state === 'no_answer');
    body.replaceChildren(
      h('h2', { id: 'rollcall-title' }, rc.title, ' ', exerciseTag(rc), rc.state === 'closed' ? ' (closed)' : ''),
      rc.exercise ? h('p', { class: 'exercise-banner' }, 'EXERCISE: a drill. Its answers are counted apart from real roll-calls.') : null,
      h('p', null, `Wave ${rc.wave} of ${rc.waves}`, rc.escalated ? ' · the silent were escalated as alarms' : '',
        ` · started ${localTime(rc.started_at)} · `, isOwn(rc) ? 'own' : `${orgName(rc.org_id)} (${rc.access})`),
      progressBar(rc.counts),
      h('p', { class: 'row-actions' },
        rep ? h('a', { href: `/api/v1/rollcalls/${encodeURIComponent(id)}/report?format=csv`, download: `rollcall-${id}.csv`, id: 'rollcall-csv' }, 'Export CSV') : null,
        own && rc.state === 'open' ? h('button', { type: 'button', class: 'small', id: 'rollcall-close', onclick: async () => {
          if (!confirm('Close this roll-call? No more waves; the links stop working.')) return;
          try { await api('POST', `/api/v1/rollcalls/${encodeURIComponent(id)}/close`); load(); } catch (e) { notice(e.message, 'error'); }
        } }, 'Close') : null,
        h('button', { type: 'button', class: 'small', onclick: back }, 'All roll-calls')),
      rep ? table([
        ['Person', (x) => personName(x.person_id)],
        ['Answer', (x) => h('span', { class: `astate ${x.state}` }, x.state.replace('_', ' '))],
        ['By', (x) => x.via || ''], ['When', (x) => localTime(x.answered_at)],
        ['Note', (x) => [x.note, x.reason ? `(${x.reason})` : ''].filter(Boolean).join(' ')],
        ['Last known', (x) => (x.last_position ? `${x.last_position.lat.toFixed(4)}, ${x.last_position.lon.toFixed(4)} · ${age(x.last_position.time)}` : '—')],
        ['', (x) => (own && rc.state === 'open' && x.state === 'no_answer' ? answerFor(id, x, load) : (x.alarm_id ? 'alarm open' : ''))],
      ], people) : h('p', null, 'Shared with you as counts only.'));
    const t = body.querySelector('table');
    if (t) t.id = 'rollcall-people';
    if (!mm) mm = smallMap(mapEl);
    mm.marks.clearLayers();
    const pts = [];
    for (const x of missing) {
      if (!x.last_position) continue;
      const ll = [x.last_position.lat, x.last_position.lon];
      pts.push(ll);
      L.circleMarker(ll, { renderer: mm.renderer, radius: 7, color: '#b3261e', fillOpacity: 0.9 })
        .bindTooltip(`${personName(x.person_id)} · no answer · last seen ${age(x.last_position.time)}`).addTo(mm.marks);
    }
    if (pts.length) mm.map.fitBounds(L.latLngBounds(pts).pad(0.4), { maxZoom: 13 });
    mapEl.hidden = !rep;
  }
  function stop() {
    if (es) es.close();
    if (timer) clearInterval(timer);
    es = null;
    timer = null;
  }
  // live: the stream's roll-call events; a slow poll as a safety net
  es = new EventSource('/api/v1/stream?categories=rollcalls', { withCredentials: true });
  for (const t of ['rollcall_progress', 'rollcall_wave', 'rollcall_escalated', 'rollcall_closed']) {
    es.addEventListener(t, (ev) => { if (JSON.parse(ev.data).rollcall_id === id) load(); });
  }
  timer = setInterval(load, 15000);
  load();
  return stop;
}

function answerFor(id, person, reload) {
  const f = h('form', { class: 'answer-for' },
    h('select', { name: 'state', 'aria-label': 'Answer' }, h('option', { value: 'safe' }, 'safe'), h('option', { value: 'need_help' }, 'needs help')),
    h('input', { name: 'reason', required: true, placeholder: 'how you know, e.g. seen by the escort lead', 'aria-label': 'Reason', maxlength: 300 }),
    h('button', { type: 'submit', class: 'small' }, 'Answer for them'));
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await api('POST', `/api/v1/rollcalls/${encodeURIComponent(id)}/answers`,
        { person_id: person.person_id, state: f.elements.state.value, reason: f.elements.reason.value });
      reload();
    } catch (e) { notice(e.message, 'error'); }
  });
  return f;
}

export function rollcallsScreen() {
  const out = h('section', { class: 'screen', 'aria-labelledby': 'screen-title' }, h('h1', { id: 'screen-title' }, 'Roll-calls'));
  const list = h('div', { class: 'list' });
  const track = h('div', { id: 'rollcall-tracker', class: 'tracker' });
  let stop = null;
  function open(id) {
    if (stop) stop();
    sessionStorage.setItem('sg-rollcall', id);
    list.hidden = true;
    track.hidden = false;
    stop = tracker(id, track, () => { if (stop) stop(); stop = null; sessionStorage.removeItem('sg-rollcall'); track.hidden = true; list.hidden = false; reload(); });
  }
  async function reload() {
    try {
      const items = await all('/api/v1/rollcalls', 500);
      items.sort((x, y) => (x.state === y.state ? (y.started_at || '').localeCompare(x.started_at || '') : x.state === 'open' ? -1 : 1));
      const cols = [
        ['Started', (x) => localTime(x.started_at)], ['', exerciseTag], ['Title', (x) => x.title], ['State', (x) => x.state],
        ['Wave', (x) => `${x.wave} of ${x.waves}`], orgCol,
        ['', (x) => h('button', { type: 'button', class: 'small track', onclick: () => open(x.id) }, 'Track')],
      ];
      const real = items.filter((x) => x.status !== 'Exercise');
      const drills = items.filter((x) => x.status === 'Exercise');
      list.replaceChildren(h('h2', null, 'Real'), real.length ? table(cols, real, { title: sharedLabel }) : h('p', null, 'None.'),
        h('h2', null, 'Exercises'), drills.length ? table(cols, drills, { title: sharedLabel }) : h('p', null, 'None.'));
    } catch (e) {
      list.replaceChildren(h('p', { class: 'error' }, e.message));
    }
  }
  if (canWrite()) {
    const own = [...state.people.values()].filter(isOwn);
    const sites = [...state.sites.values()].filter(isOwn);
    const f = form([
      { name: 'title', label: 'Title', required: true },
      { name: 'exercise', label: 'Exercise (drill)', type: 'checkbox' },
      { name: 'waves', label: 'Waves before escalation', type: 'number', value: 3, min: 1, max: 10 },
      { name: 'wave_interval_min', label: 'Minutes between waves', type: 'number', value: 10, min: 1, max: 1440 },
    ], 'Ask: are you safe?', async (v, el) => {
      const people = [...el.querySelector('select[name=people]').selectedOptions].map((o) => o.value);
      const siteIds = [...el.querySelector('select[name=sites]').selectedOptions].map((o) => o.value);
      const rc = await api('POST', '/api/v1/rollcalls', { title: v.title, exercise: !!v.exercise, people, sites: siteIds,
        waves: v.waves, wave_interval_s: Math.round((v.wave_interval_min || 10) * 60) });
      el.reset();
      open(rc.id);
    }, h('div', { class: 'pick' },
      h('label', null, 'People', h('select', { name: 'people', multiple: true, size: 6 }, own.map((p) => h('option', { value: p.id }, p.name || p.id)))),
      h('label', null, 'Everyone at these sites', h('select', { name: 'sites', multiple: true, size: 6 }, sites.map((s) => h('option', { value: s.id }, s.name))))));
    f.id = 'new-rollcall';
    out.append(h('details', { class: 'create' }, h('summary', null, 'New roll-call'), f,
      h('p', { class: 'note' }, 'Or ask the recipients of an alert from the Alerts screen.')));
  }
  out.append(list, track);
  track.hidden = true;
  reload();
  const last = sessionStorage.getItem('sg-rollcall');
  if (last) open(last);
  return out;
}
