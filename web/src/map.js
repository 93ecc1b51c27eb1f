// The live map: basemap, sites, risk zones, people and vehicles at their
// latest positions (clustered, stale ones greyed with their age), moved by
// the event stream; search, "who is near here", drawing zones and sites,
// and the live event list.
import L from './leaflet-global.js';
import 'leaflet.markercluster';
import { feature, mesh } from 'topojson-client';
import { api } from './api.js';
import { h, age, localTime, notice, form } from './ui.js';
import { state, deviceSubject, sharedLabel, orgName, isOwn, levelLabel, personLabel, LEVELS, INCIDENT_TYPES } from './state.js';
import { alarmPanel, alarmsStart, alarmsReload, alarmEvent } from './alarms.js';

// Sequential, colour-blind-safe ramp (ColorBrewer YlOrRd), with labels and
// dash patterns so the level never rests on colour alone.
export const LEVEL_COLOURS = ['', '#ffeda0', '#fed976', '#feb24c', '#fd8d3c', '#e31a1c', '#800026'];
const LEVEL_DASH = ['', '2 6', '4 6', '8 4', '', '', ''];

const m = {
  map: null, root: null, renderer: null,
  sites: null, zones: null, incidents: null, people: null, vehicles: null, search: null, near: null, draw: null,
  markers: new Map(),  // device id -> { marker, pos, subject, layer }
  pendingMoves: new Set(),
  es: null, lastId: null,
  drawing: null,       // { kind: 'zone'|'site', points: [], line }
  nearMode: false,
  events: [],
  ready: null, setReady: null, // the map is drawn with the latest positions
};

export function mapView() {
  if (m.root) return m.root;
  const mapEl = h('div', { id: 'map', role: 'application', 'aria-label': 'Map of people, vehicles, sites and risk zones' });
  const side = h('aside', { class: 'side', 'aria-label': 'Map tools and live events' },
    alarmPanel(),
    h('section', { class: 'panel' },
      h('label', { class: 'search' }, 'Search',
        h('input', { id: 'search', type: 'search', placeholder: 'person, vehicle, site or zone', autocomplete: 'off',
          oninput: runSearch, onkeydown: searchKey })),
      h('ul', { id: 'search-results', class: 'results' })),
    h('section', { class: 'panel tools' },
      h('div', { class: 'row' },
        h('button', { id: 'near-btn', type: 'button', 'aria-pressed': 'false' }, 'Who is near…'),
        h('label', { class: 'inline' }, 'within',
          h('input', { id: 'near-radius', type: 'number', min: '10', max: '200000', value: '3000', step: '100' }), 'm')),
      h('div', { class: 'row' },
        h('button', { id: 'draw-zone', type: 'button' }, 'Draw zone'),
        h('button', { id: 'draw-site', type: 'button' }, 'Draw site'),
        h('button', { id: 'add-incident', type: 'button' }, 'Add incident'),
        h('button', { id: 'draw-finish', type: 'button', hidden: true }, 'Finish shape'),
        h('button', { id: 'draw-cancel', type: 'button', hidden: true }, 'Cancel')),
      h('p', { id: 'map-hint', class: 'note', role: 'status' })),
    h('section', { id: 'details', class: 'panel', 'aria-live': 'polite' }),
    h('section', { class: 'panel' }, h('h2', null, 'Live events ', h('span', { id: 'live', class: 'live off' }, 'connecting')),
      h('ol', { id: 'events', class: 'events' })));
  m.root = h('div', { class: 'mapview' }, mapEl, side);
  m.ready = new Promise((resolve) => { m.setReady = resolve; });
  return m.root;
}

// Called once the view is in the document.
export async function mapStart() {
  if (m.map) {
    m.map.invalidateSize();
    return;
  }
  m.renderer = L.canvas({ padding: 0.3 });
  m.map = L.map('map', { preferCanvas: true, renderer: m.renderer, worldCopyJump: true, minZoom: 2, maxZoom: 18, keyboard: true })
    .setView([27.8, 68.5], 6);
  // The basemap draws in a pane of its own, under everything, when it has
  // loaded: the live picture (and the stream) does not wait for it.
  m.map.createPane('basemap');
  m.map.getPane('basemap').style.zIndex = '150';
  m.map.getPane('basemap').style.pointerEvents = 'none';
  basemap();
  m.zones = L.layerGroup().addTo(m.map);
  m.sites = L.layerGroup().addTo(m.map);
  m.incidents = L.layerGroup().addTo(m.map);
  m.alarms = L.layerGroup().addTo(m.map);
  const cluster = (cls) => L.markerClusterGroup({
    chunkedLoading: true, showCoverageOnHover: false, maxClusterRadius: 50, spiderfyOnMaxZoom: true,
    iconCreateFunction: (c) => L.divIcon({ html: `<span>${c.getChildCount() | 0}</span>`,
                                         className: `cluster ${cls}`, iconSize: [34, 34] }),
  });
  m.people = cluster('people').addTo(m.map);
  m.vehicles = cluster('vehicles').addTo(m.map);
  m.near = L.layerGroup().addTo(m.map);
  m.draw = L.layerGroup().addTo(m.map);
  L.control.layers(null, { 'Risk zones': m.zones, 'Sites': m.sites, 'Incidents': m.incidents, 'Alarms': m.alarms,
                           'People': m.people, 'Vehicles': m.vehicles },
                   { collapsed: false, position: 'topright' }).addTo(m.map);
  L.control.scale({ imperial: false }).addTo(m.map);
  m.map.on('click', onMapClick);
  m.map.on('dblclick', (e) => { if (m.drawing) { L.DomEvent.stop(e); finishDrawing(); } });
  wireTools();
  drawRegistry();
  fitAll();
  await loadLatest();
  await alarmsStart(m.map, m.renderer, details, m.alarms);
  m.setReady();
  setInterval(flushMoves, 400);
  setInterval(restyleAll, 30000);
  openStream();
}

function basemap() {
  return addBasemap(m.map, L.canvas({ pane: 'basemap', padding: 0.3 }));
}

// The configured tile server, or the offline basemap (also the alert
// composer's and the roll-call tracker's small maps).
export async function addBasemap(map, renderer) {
  const c = state.console;
  if (c.tile_url) {
    const t = L.tileLayer(c.tile_url, { maxZoom: 19, attribution: escapeHtml(c.tile_attribution || '') });
    t.addTo(map);
    return;
  }
  // Offline: Natural Earth countries (world-atlas), drawn on the canvas.
  try {
    const res = await fetch('/countries.json', { credentials: 'same-origin' });
    const topo = await res.json();
    L.geoJSON(feature(topo, topo.objects.countries), {
      renderer, interactive: false,
      style: { color: '#b9c3cc', weight: 0, fillColor: '#eef0ea', fillOpacity: 1 },
    }).addTo(map);
    L.geoJSON(mesh(topo, topo.objects.countries, (a, b) => a !== b), {
      renderer, interactive: false, style: { color: '#8a96a3', weight: 1, opacity: 0.9 },
    }).addTo(map);
    map.attributionControl.addAttribution('Natural Earth (world-atlas)');
  } catch (e) {
    notice(`basemap not loaded: ${e.message}`, 'error');
  }
}

function escapeHtml(s) {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

// --- registry layers ---------------------------------------------------------

export function drawRegistry() {
  if (!m.map) return;
  m.sites.clearLayers();
  m.zones.clearLayers();
  for (const s of state.sites.values()) {
    const layer = shape(s, { color: isOwn(s) ? '#0b5cad' : '#6f42c1', weight: 2, fillOpacity: 0.12 });
    if (!layer) continue;
    layer.bindTooltip(h('span', null, s.name || s.id, sharedLabel(s) ? h('small', null, ` · ${sharedLabel(s)}`) : null));
    layer.on('click', (e) => { L.DomEvent.stop(e); if (!toolClick(e)) showSite(s); });
    layer.options.siteId = s.id;
    m.sites.addLayer(layer);
  }
  const now = Date.now();
  for (const z of state.zones.values()) {
    if (z.retired || (z.valid_to && Date.parse(z.valid_to) < now)) continue;
    const lvl = Math.min(6, Math.max(1, z.level | 0));
    const layer = shape(z, { color: LEVEL_COLOURS[lvl], weight: 2, dashArray: LEVEL_DASH[lvl] || null,
                             fillColor: LEVEL_COLOURS[lvl], fillOpacity: 0.28 });
    if (!layer) continue;
    const future = z.valid_from && Date.parse(z.valid_from) > now;
    layer.bindTooltip(h('span', { class: `zone-label l${lvl}` }, levelLabel(lvl), future ? ' (from ' + localTime(z.valid_from) + ')' : ''),
                      { permanent: true, direction: 'center', className: 'zone-tip' });
    layer.on('click', (e) => { L.DomEvent.stop(e); if (!toolClick(e)) showZone(z); });
    m.zones.addLayer(layer);
  }
  drawIncidents();
}

// The first view: every site and zone the viewer may see.
function fitAll() {
  const b = L.latLngBounds([]);
  for (const g of [m.sites, m.zones]) g.eachLayer((l) => { if (l.getBounds) b.extend(l.getBounds()); else b.extend(l.getLatLng()); });
  if (b.isValid()) m.map.fitBounds(b.pad(0.05), { maxZoom: 12 });
}

// Open incidents with their area of effect, fading over two days.
function drawIncidents() {
  m.incidents.clearLayers();
  const now = Date.now();
  for (const inc of state.incidents.values()) {
    if (inc.status === 'closed') continue;
    const hours = Math.max(0, (now - Date.parse(inc.time)) / 3600000);
    const fade = Math.max(0.25, 1 - hours / 48);
    const layer = shape(inc, { color: inc.exercise ? '#1f6feb' : '#a40e26', weight: 2, dashArray: inc.exercise ? '6 4' : null,
                               opacity: fade, fillColor: inc.exercise ? '#54aeff' : '#ff8182', fillOpacity: 0.35 * fade });
    if (!layer) continue;
    layer.bindTooltip(h('span', { class: 'incident-label' }, inc.exercise ? 'EXERCISE · ' : '', inc.type.replace(/_/g, ' '),
                        ` · ${inc.severity} · ${age(inc.time)}`), { permanent: true, direction: 'top', className: 'incident-tip' });
    layer.on('click', (e) => { L.DomEvent.stop(e); if (!toolClick(e)) showIncident(inc); });
    m.incidents.addLayer(layer);
  }
}

const OPERATORS = ['admin', 'security_manager', 'duty_officer', 'liaison'];

// The viewer's organisation's own assessment, beside the owner's record.
async function assessment(inc, box) {
  let mine = null;
  try { mine = await api('GET', `/api/v1/incidents/${encodeURIComponent(inc.id)}/assessment`); } catch { /* none yet */ }
  const shown = h('p', { class: 'note', id: 'assessment-text' }, mine
    ? `Your assessment: ${mine.severity}${mine.confidence ? `, ${mine.confidence}` : ''}${mine.notes ? ` — ${mine.notes}` : ''}`
    : 'Your organisation has not assessed it.');
  const kids = [h('h3', null, 'Your assessment'), shown];
  if (OPERATORS.includes(state.me.role)) {
    const f = form([
      { name: 'severity', label: 'Severity', type: 'select', value: mine ? mine.severity : inc.severity,
        options: ['extreme', 'severe', 'moderate', 'minor', 'unknown'].map((v) => [v, v]) },
      { name: 'confidence', label: 'Confidence', type: 'select', value: mine ? mine.confidence : inc.confidence,
        options: ['confirmed', 'probable', 'possible', 'unconfirmed'].map((v) => [v, v]) },
      { name: 'notes', label: 'Notes', type: 'textarea', value: mine ? mine.notes : '' },
    ], 'Save assessment', async (v) => {
      mine = await api('POST', `/api/v1/incidents/${encodeURIComponent(inc.id)}/assessment`, v);
      shown.textContent = `Your assessment: ${mine.severity}${mine.confidence ? `, ${mine.confidence}` : ''}${mine.notes ? ` — ${mine.notes}` : ''}`;
      notice('Assessment saved');
    });
    f.id = 'assess';
    kids.push(f);
  }
  box.replaceChildren(...kids);
}

function showIncident(inc) {
  const box = h('section', { id: 'exposure', 'aria-live': 'polite' }, h('p', { class: 'note' }, 'Who is near it…'));
  const own = h('section', { id: 'assessment' });
  details(`${inc.exercise ? 'EXERCISE — ' : ''}${inc.type.replace(/_/g, ' ')}`, [
    ['Severity', inc.severity], ['Confidence', inc.confidence], ['When', `${localTime(inc.time)} (${age(inc.time)})`],
    ['Casualties', inc.casualties], ['Area', inc.radius_m ? `${inc.radius_m} m around the point` : 'polygon'],
    ['Organisation', orgName(inc.org_id)], ['Sharing', sharedLabel(inc) || 'own'], ['Source', inc.source], ['Notes', inc.notes],
  ], h('div', null, box, own));
  exposure(inc, box);
  assessment(inc, own);
}

// The people in the incident's area (fresh position or home site), nearest
// first, and the sites in it.
async function exposure(inc, box) {
  try {
    const x = await api('GET', `/api/v1/incidents/${encodeURIComponent(inc.id)}/exposure`);
    const why = { position: 'position', home_site: 'home site' };
    box.replaceChildren(
      h('h3', null, `Exposed: ${x.count} ${x.count === 1 ? 'person' : 'people'}`),
      h('ol', { class: 'results exposure' }, x.people.map((p) => h('li', null,
        h('button', { type: 'button', class: 'link', onclick: () => jumpTo({ kind: 'person', label: personLabel(p), rec: p }) }, personLabel(p)),
        ` · ${Math.round(p.distance_m)} m · ${p.reasons.map((r) => why[r] || r).join(' and ')}`,
        p.org_id !== state.me.org_id ? ` · ${orgName(p.org_id)} (${p.access})` : ''))),
      h('h3', null, `Sites in the area: ${x.sites.length}`),
      h('ul', { class: 'results' }, x.sites.map((s) => h('li', null, s.name || s.id, ` · ${Math.round(s.distance_m)} m`))));
  } catch (e) {
    box.replaceChildren(h('p', { class: 'note' }, e.status === 403 ? 'Exposure: not for this role.' : `Exposure not loaded: ${e.message}`));
  }
}

function shape(rec, style) {
  const g = rec.geometry;
  if (!g) return null;
  if (g.type === 'Point') {
    const [lon, lat] = g.coordinates;
    return rec.radius_m ? L.circle([lat, lon], { ...style, radius: rec.radius_m, renderer: m.renderer })
                        : L.circleMarker([lat, lon], { ...style, radius: 8, renderer: m.renderer });
  }
  return L.geoJSON(g, { style, renderer: m.renderer });
}

// --- people and vehicles ------------------------------------------------------

async function loadLatest() {
  try {
    const page = await api('GET', '/api/v1/positions/latest?bbox=-180,-90,180,90&limit=10000');
    for (const p of page.items) place(p);
    flushMoves();
  } catch (e) {
    if (e.status !== 401) notice(`positions not loaded: ${e.message}`, 'error');
  }
}

function styleFor(entry) {
  const stale = Date.now() - Date.parse(entry.pos.time) > (state.console.stale_after_s || 900) * 1000;
  const own = entry.pos.org_id === (state.me && state.me.org_id);
  const vehicle = entry.subject.kind === 'vehicle';
  return {
    radius: vehicle ? 8 : 6, weight: vehicle ? 3 : 2,
    color: stale ? '#6e7781' : vehicle ? '#0a3d62' : '#ffffff',
    fillColor: stale ? '#afb8c1' : own ? (vehicle ? '#1a7f37' : '#0969da') : '#8250df',
    fillOpacity: stale ? 0.55 : 0.95, dashArray: stale ? '2 3' : null,
  };
}

function place(p) {
  let entry = m.markers.get(p.device_id);
  if (entry && Date.parse(entry.pos.time) > Date.parse(p.time)) return; // older than what we show
  if (!entry) {
    const subject = deviceSubject(p.device_id);
    entry = { pos: p, subject, marker: null, layer: subject.kind === 'vehicle' ? m.vehicles : m.people, added: false };
    entry.marker = L.circleMarker([p.lat, p.lon], { ...styleFor(entry), renderer: m.renderer });
    entry.marker.options.deviceId = p.device_id;
    entry.marker.bindTooltip(() => tooltip(entry));
    entry.marker.on('click', (e) => { L.DomEvent.stop(e); if (!toolClick(e)) showDevice(p.device_id); });
    m.markers.set(p.device_id, entry);
  }
  entry.pos = p;
  m.pendingMoves.add(p.device_id);
}

function tooltip(entry) {
  const s = entry.subject;
  return h('span', null, h('b', null, s.label), ` · ${age(entry.pos.time)}`,
           isOwnPos(entry) ? '' : ` · ${orgName(entry.pos.org_id)} (${entry.pos.access || 'shared'})`);
}
const isOwnPos = (entry) => entry.pos.org_id === (state.me && state.me.org_id);

// Moves gathered over a short while go to the clusters in one batch: the
// map stays fluid with thousands of devices reporting.
function flushMoves() {
  if (!m.pendingMoves.size || !m.map) return;
  const byLayer = new Map();
  for (const id of m.pendingMoves) {
    const e = m.markers.get(id);
    if (!e) continue;
    if (!byLayer.has(e.layer)) byLayer.set(e.layer, { out: [], in: [] });
    const b = byLayer.get(e.layer);
    if (e.added) b.out.push(e.marker);
    e.marker.setLatLng([e.pos.lat, e.pos.lon]);
    e.marker.setStyle(styleFor(e));
    b.in.push(e.marker);
    e.added = true;
  }
  m.pendingMoves.clear();
  for (const [layer, b] of byLayer) {
    if (b.out.length) layer.removeLayers(b.out);
    layer.addLayers(b.in);
  }
  const open = document.getElementById('details');
  if (open && open.dataset.device && m.markers.has(open.dataset.device)) showDevice(open.dataset.device, true);
}

function restyleAll() {
  for (const e of m.markers.values()) e.marker.setStyle(styleFor(e));
}

// Registry changes (a device enrolled, a person renamed): labels follow.
export function refreshSubjects() {
  for (const [id, e] of m.markers) {
    const subject = deviceSubject(id);
    const layer = subject.kind === 'vehicle' ? m.vehicles : m.people;
    if (layer !== e.layer && e.added) { e.layer.removeLayer(e.marker); layer.addLayer(e.marker); }
    e.subject = subject;
    e.layer = layer;
    e.marker.setStyle(styleFor(e));
  }
}

// --- details ---------------------------------------------------------------------

function details(title, rows, extra, attrs = {}) {
  const d = document.getElementById('details');
  d.replaceChildren(h('h2', null, title),
    h('dl', null, rows.filter(([, v]) => v !== undefined && v !== null && v !== '').map(([k, v]) => [h('dt', null, k), h('dd', null, v)])),
    ...(extra ? [extra] : []));
  delete d.dataset.device;
  Object.assign(d.dataset, attrs);
}

function showDevice(id, quiet) {
  const e = m.markers.get(id);
  if (!e) return;
  const s = e.subject, p = e.pos, person = s.person, veh = s.vehicle;
  const stale = Date.now() - Date.parse(p.time) > (state.console.stale_after_s || 900) * 1000;
  details(s.label, [
    ['Kind', s.kind],
    ['Organisation', orgName(p.org_id)],
    ['Sharing', isOwnPos(e) ? 'own' : `${p.access || 'shared'} (partner)`],
    person && person.pseudonym ? ['Pseudonym', person.pseudonym] : ['', ''],
    person ? ['Job', person.job] : ['', ''],
    person ? ['Phone', person.phone] : ['', ''],
    veh ? ['Vehicle', [veh.make_model, veh.colour, veh.armoured ? 'armoured' : ''].filter(Boolean).join(', ')] : ['', ''],
    ['Device', s.device ? s.device.name : id],
    ['Last fix', `${localTime(p.time)} (${age(p.time)})${stale ? ' — STALE' : ''}`],
    ['Position', `${p.lat.toFixed(5)}, ${p.lon.toFixed(5)}`],
  ], null, { device: id });
  if (!quiet) document.getElementById('details').querySelector('h2').focus?.();
}

function showSite(s) {
  details(s.name || s.id, [
    ['Kind', s.kind], ['Organisation', orgName(s.org_id)], ['Sharing', sharedLabel(s) || 'own'],
    ['Address', s.address], ['Radius', s.radius_m ? `${s.radius_m} m` : ''], ['Notes', s.notes],
  ]);
}

function showZone(z) {
  const own = isOwn(z);
  const retire = own ? h('button', { type: 'button', onclick: async () => {
    try {
      await api('PATCH', `/api/v1/zones/${encodeURIComponent(z.id)}`, { retired: true });
      state.zones.set(z.id, { ...z, retired: true });
      drawRegistry();
      notice(`Zone retired: ${z.name}`);
    } catch (e) { notice(e.message, 'error'); }
  } }, 'Retire zone') : null;
  details(z.name || z.id, [
    ['Risk level', levelLabel(z.level)], ['Organisation', orgName(z.org_id)], ['Sharing', sharedLabel(z) || 'own'],
    ['Reason', z.reason], ['Valid from', localTime(z.valid_from)], ['Valid to', localTime(z.valid_to)],
  ], retire);
}

// --- search --------------------------------------------------------------------------

function searchItems(q) {
  q = q.trim().toLowerCase();
  if (q.length < 2) return [];
  const out = [];
  const hit = (s) => s && String(s).toLowerCase().includes(q);
  for (const p of state.people.values()) if (hit(p.name) || hit(p.pseudonym)) out.push({ kind: 'person', label: personLabel(p), rec: p });
  for (const v of state.vehicles.values()) if (hit(v.registration)) out.push({ kind: 'vehicle', label: v.registration, rec: v });
  for (const s of state.sites.values()) if (hit(s.name)) out.push({ kind: 'site', label: s.name, rec: s });
  for (const z of state.zones.values()) if (!z.retired && hit(z.name)) out.push({ kind: 'zone', label: z.name, rec: z });
  return out.slice(0, 30);
}

export async function jumpTo(item) {
  await m.ready;
  const { kind, rec } = item;
  if (kind === 'site' || kind === 'zone') {
    const g = rec.geometry;
    if (g.type === 'Point') {
      const c = L.latLng(g.coordinates[1], g.coordinates[0]);
      if (rec.radius_m) m.map.fitBounds(c.toBounds(rec.radius_m * 2.2), { maxZoom: 15, animate: false });
      else m.map.setView(c, 13, { animate: false });
    } else {
      m.map.fitBounds(L.geoJSON(g).getBounds(), { maxZoom: 15, animate: false });
    }
    (kind === 'site' ? showSite : showZone)(rec);
    return true;
  }
  for (const [id, e] of m.markers) {
    const s = e.subject;
    if ((kind === 'person' && s.person && s.person.id === rec.id) || (kind === 'vehicle' && s.vehicle && s.vehicle.id === rec.id)) {
      m.map.setView([e.pos.lat, e.pos.lon], Math.max(m.map.getZoom(), 15), { animate: false });
      showDevice(id);
      return true;
    }
  }
  details(item.label, [['Kind', kind], ['Position', 'no position the viewer may see']]);
  return false;
}

// The registry was reloaded: a search typed meanwhile is run again.
export function refreshSearch() {
  const input = document.getElementById('search');
  if (input && input.value) input.dispatchEvent(new Event('input'));
}

// --- tools: who is near, drawing -----------------------------------------------------

function hint(t) { document.getElementById('map-hint').textContent = t; }

// The search answers from the registry as soon as the view exists (typed
// while the basemap loads, it is not lost); a jump waits for the map.
function runSearch() {
  const input = document.getElementById('search');
  document.getElementById('search-results').replaceChildren(...searchItems(input.value).map((it) =>
    h('li', null, h('button', { type: 'button', class: 'link', onclick: () => jumpTo(it) }, it.label, h('small', null, ` ${it.kind}`)))));
}

function searchKey(ev) {
  if (ev.key !== 'Enter') return;
  ev.preventDefault();
  const first = searchItems(ev.target.value)[0];
  if (first) jumpTo(first);
}

function wireTools() {
  const nearBtn = document.getElementById('near-btn');
  nearBtn.addEventListener('click', () => {
    m.nearMode = !m.nearMode;
    nearBtn.setAttribute('aria-pressed', String(m.nearMode));
    hint(m.nearMode ? 'Click the map: the people within the radius are listed.' : '');
  });
  document.getElementById('draw-zone').addEventListener('click', () => startDrawing('zone'));
  document.getElementById('draw-site').addEventListener('click', () => startDrawing('site'));
  document.getElementById('add-incident').addEventListener('click', () => {
    stopDrawing();
    m.nearMode = false;
    document.getElementById('near-btn').setAttribute('aria-pressed', 'false');
    m.incidentMode = true;
    hint('Click the map where it happened.');
  });
  document.getElementById('draw-finish').addEventListener('click', finishDrawing);
  document.getElementById('draw-cancel').addEventListener('click', stopDrawing);
}

// While drawing or asking "who is near", a click on a shape or a marker is a
// click on the map.
function toolClick(e) {
  if (!m.drawing && !m.nearMode && !m.incidentMode) return false;
  onMapClick(e);
  return true;
}

function onMapClick(e) {
  if (m.drawing) {
    m.drawing.points.push(e.latlng);
    m.draw.clearLayers();
    L.polygon(m.drawing.points, { color: '#d1242f', weight: 2, dashArray: '4 4', renderer: m.renderer }).addTo(m.draw);
    for (const p of m.drawing.points) L.circleMarker(p, { radius: 4, color: '#d1242f', renderer: m.renderer }).addTo(m.draw);
    hint(`${m.drawing.points.length} corner(s). Finish with "Finish shape" or a double click.`);
    return;
  }
  if (m.incidentMode) { m.incidentMode = false; incidentForm(e.latlng); return; }
  if (m.nearMode) nearQuery(e.latlng);
}

function incidentForm(ll) {
  hint('');
  m.draw.clearLayers();
  L.circleMarker(ll, { radius: 6, color: '#a40e26', renderer: m.renderer }).addTo(m.draw);
  const now = new Date(Date.now() - new Date().getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  const f = form([
    { name: 'type', label: 'Type', type: 'select', options: INCIDENT_TYPES.map((t) => [t, t.replace(/_/g, ' ')]) },
    { name: 'severity', label: 'Severity', type: 'select', value: 'severe', options: ['extreme', 'severe', 'moderate', 'minor', 'unknown'].map((v) => [v, v]) },
    { name: 'confidence', label: 'Confidence', type: 'select', value: 'probable', options: ['confirmed', 'probable', 'possible', 'unconfirmed'].map((v) => [v, v]) },
    { name: 'radius_m', label: 'Radius of effect (m)', type: 'number', value: 1000, min: 1, required: true },
    { name: 'time', label: 'When', type: 'datetime', value: now, required: true },
    { name: 'casualties', label: 'Casualties', type: 'number', min: 0 },
    { name: 'source', label: 'Source' }, { name: 'notes', label: 'Notes', type: 'textarea' },
    { name: 'exercise', label: 'Exercise', type: 'checkbox' },
  ], 'Create incident', async (v) => {
    const rec = await api('POST', '/api/v1/incidents', { ...v, geometry: { type: 'Point', coordinates: [Number(ll.lng.toFixed(6)), Number(ll.lat.toFixed(6))] } });
    state.incidents.set(rec.id, rec);
    m.draw.clearLayers();
    drawIncidents();
    showIncident(rec);
    notice(`Incident created: ${rec.type.replace(/_/g, ' ')}`);
  });
  f.id = 'new-incident';
  details('New incident', [['Position', `${ll.lat.toFixed(5)}, ${ll.lng.toFixed(5)}`]], f);
}

async function nearQuery(ll) {
  const r = Math.max(10, Math.min(200000, Number(document.getElementById('near-radius').value) || 3000));
  m.near.clearLayers();
  L.circle(ll, { radius: r, color: '#cf222e', weight: 2, fill: false, dashArray: '6 4', renderer: m.renderer }).addTo(m.near);
  try {
    const q = new URLSearchParams({ near: `${ll.lat.toFixed(6)},${ll.lng.toFixed(6)}`, radius_m: String(r), limit: '10000' });
    const page = await api('GET', `/api/v1/positions/latest?${q}`);
    const rows = page.items.map((p) => {
      const s = deviceSubject(p.device_id);
      const d = m.map.distance(ll, [p.lat, p.lon]);
      return { p, s, d };
    }).sort((a, b) => a.d - b.d);
    const people = rows.filter((x) => x.s.kind !== 'vehicle');
    const list = h('ol', { id: 'near-list', class: 'results' }, rows.map((x) =>
      h('li', null, h('button', { type: 'button', class: 'link', onclick: () => { place(x.p); flushMoves(); showDevice(x.p.device_id); } },
        x.s.label), ` ${x.s.kind} · ${Math.round(x.d)} m · ${age(x.p.time)}`,
        x.p.org_id !== state.me.org_id ? ` · ${orgName(x.p.org_id)} (${x.p.access})` : '')));
    details(`Within ${r} m`, [['People', String(people.length)], ['Vehicles', String(rows.length - people.length)],
      ['Centre', `${ll.lat.toFixed(5)}, ${ll.lng.toFixed(5)}`]], list);
  } catch (e) {
    notice(e.message, 'error');
  }
}

function startDrawing(kind) {
  stopDrawing();
  m.incidentMode = false;
  m.nearMode = false;
  document.getElementById('near-btn').setAttribute('aria-pressed', 'false');
  m.drawing = { kind, points: [] };
  m.map.doubleClickZoom.disable();
  document.getElementById('draw-finish').hidden = false;
  document.getElementById('draw-cancel').hidden = false;
  hint(`Drawing a ${kind}: click the map at each corner.`);
}

function stopDrawing() {
  m.drawing = null;
  m.draw && m.draw.clearLayers();
  m.map && m.map.doubleClickZoom.enable();
  document.getElementById('draw-finish').hidden = true;
  document.getElementById('draw-cancel').hidden = true;
  hint('');
}

function finishDrawing() {
  const d = m.drawing;
  if (!d) return;
  // a double click also adds its own two clicks: drop repeated corners
  const pts = d.points.filter((p, i) => i === 0 || !p.equals(d.points[i - 1]));
  if (pts.length < 3) { hint('A shape needs at least three corners.'); return; }
  const ring = pts.map((p) => [Number(p.lng.toFixed(6)), Number(p.lat.toFixed(6))]);
  ring.push(ring[0]);
  const geometry = { type: 'Polygon', coordinates: [ring] };
  const kind = d.kind;
  const fields = kind === 'zone'
    ? [{ name: 'name', label: 'Name', required: true },
       { name: 'level', label: 'Risk level', type: 'select', value: '4',
         options: [1, 2, 3, 4, 5, 6].map((n) => [String(n), `${n} ${LEVELS[n]}`]) },
       { name: 'reason', label: 'Reason' },
       { name: 'valid_from', label: 'Valid from', type: 'datetime' },
       { name: 'valid_to', label: 'Valid to', type: 'datetime' }]
    : [{ name: 'name', label: 'Name', required: true },
       { name: 'kind', label: 'Kind', type: 'select', value: 'project_site',
         options: ['project_site', 'camp', 'office', 'airport', 'hotel', 'other'].map((k) => [k, k.replace('_', ' ')]) },
       { name: 'address', label: 'Address' }];
  const f = form(fields, kind === 'zone' ? 'Create zone' : 'Create site', async (v) => {
    if (v.level) v.level = Number(v.level);
    const rec = await api('POST', `/api/v1/${kind}s`, { ...v, geometry });
    (kind === 'zone' ? state.zones : state.sites).set(rec.id, rec);
    stopDrawing();
    drawRegistry();
    details(rec.name, [['Created', kind], ['Id', rec.id]]);
    notice(`${kind === 'zone' ? 'Zone' : 'Site'} created: ${rec.name}`);
  });
  f.id = `new-${kind}`;
  details(kind === 'zone' ? 'New risk zone' : 'New site', [['Corners', String(pts.length)]], f);
  f.elements.name.focus();
}

// --- the stream ------------------------------------------------------------------------

function setLive(on, textLabel) {
  const el = document.getElementById('live');
  if (!el) return;
  el.className = `live ${on ? 'on' : 'off'}`;
  el.textContent = textLabel;
}

function openStream() {
  if (m.es) m.es.close();
  // EventSource resends Last-Event-ID itself when it reconnects after a drop.
  // only what the map shows: a large alert's per-person messages stay away
  const es = new EventSource('/api/v1/stream?categories=positions,incidents,alarms,alarms_duress', { withCredentials: true });
  m.es = es;
  es.onopen = () => setLive(true, 'live');
  es.addEventListener('position', (ev) => { m.lastId = ev.lastEventId; place(JSON.parse(ev.data)); });
  es.addEventListener('geofence', (ev) => { m.lastId = ev.lastEventId; geofence(JSON.parse(ev.data)); });
  es.addEventListener('gap', () => { loadLatest(); alarmsReload(); });
  for (const t of ['alarm', 'alarm_changed', 'alarm_escalated']) {
    es.addEventListener(t, (ev) => { m.lastId = ev.lastEventId; alarmEvent(t, JSON.parse(ev.data)); });
  }
  const incidentEvent = async (ev) => {
    const id = JSON.parse(ev.data).id;
    try {
      const inc = await api('GET', `/api/v1/incidents/${encodeURIComponent(id)}`);
      state.incidents.set(inc.id, inc);
      drawIncidents();
    } catch { /* gone from view */ }
  };
  es.addEventListener('incident', incidentEvent);
  es.addEventListener('incident_changed', incidentEvent);
  es.onerror = async () => {
    setLive(false, 'reconnecting');
    if (es.readyState !== EventSource.CLOSED) return; // the browser retries with Last-Event-ID
    try {
      await api('GET', '/api/v1/session'); // 401 here ends the session in the console
      setTimeout(() => { if (m.es === es) { openStream(); loadLatest(); } }, 3000);
    } catch { /* expired: the login form is back */ }
  };
}

export function closeStream() {
  if (m.es) m.es.close();
  m.es = null;
}

function geofence(ev) {
  const s = deviceSubject(ev.device_id);
  const fence = ev.fence_type === 'zone' ? state.zones.get(ev.fence_id) : state.sites.get(ev.fence_id);
  const fname = fence ? fence.name : ev.fence_id;
  const lvl = ev.fence_type === 'zone' && fence ? ` (${levelLabel(fence.level)})` : '';
  const li = h('li', { class: `ev ${ev.event}` },
    h('time', { datetime: ev.time }, new Date(ev.time).toLocaleTimeString()), ' ',
    h('button', { type: 'button', class: 'link', onclick: () => { if (m.markers.has(ev.device_id)) showDevice(ev.device_id); } }, s.label),
    ` ${ev.event === 'enter' ? 'entered' : 'left'} ${ev.fence_type} `, h('b', null, fname), lvl);
  // the map's own list: an event that comes while another screen is shown
  // is there when the map is back
  const list = m.root && m.root.querySelector('#events');
  if (!list) return;
  list.prepend(li);
  while (list.children.length > 200) list.lastChild.remove();
}

export function mapStop() {
  closeStream();
}
