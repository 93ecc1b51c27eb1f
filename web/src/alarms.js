// The alarm panel beside the map: every open or acknowledged alarm the
// viewer may see, most urgent first, with its escalation timer; a visible
// and audible signal for a new alarm and for an escalation; the person's
// position on the map; acknowledge, hand over, resolve, comment. Alarms come
// from the public API and the stream only (GET /api/v1/alarms, the alarm,
// alarm_changed and alarm_escalated events).
import L from './leaflet-global.js';
import { api, all } from './api.js';
import { state, orgName, personLabel, sharedLabel } from './state.js';
import { h, form, notice, localTime, age } from './ui.js';

const a = {
  items: new Map(), // id -> alarm as the viewer sees it
  layer: null, map: null, renderer: null, show: null,
  beeps: 0, audio: null, timer: null,
  // id -> number of the latest read or action: answers come back in any
  // order (several connections), and an older one must not undo a newer
  gen: new Map(),
};

function begin(id) {
  const g = (a.gen.get(id) || 0) + 1;
  a.gen.set(id, g);
  return g;
}

const OUTCOMES = [['assisted', 'assisted'], ['false_alarm', 'false alarm'],
  ['escalated_to_authorities', 'escalated to the authorities'], ['other', 'other']];
const LEVEL_TEXT = { duty_officers: 'duty officers', security_manager: 'security manager', partner_duty_officers: "partners' duty officers" };

export function alarmPanel() {
  return h('section', { id: 'alarm-panel', class: 'panel alarms', 'aria-label': 'Alarms' },
    h('h2', null, 'Alarms ', h('span', { id: 'alarm-signal', class: 'signal', role: 'status', 'aria-live': 'assertive' })),
    h('ol', { id: 'alarm-list', class: 'alarm-list' }));
}

// Called once the map exists: the layer, and a way to show details.
export async function alarmsStart(map, renderer, show, layer) {
  a.map = map;
  a.renderer = renderer;
  a.show = show;
  a.layer = layer;
  await alarmsReload();
  if (!a.timer) a.timer = setInterval(tick, 1000); // the escalation countdowns
}

export async function alarmsReload() {
  try {
    const [open, ack] = await Promise.all([all('/api/v1/alarms?state=open'), all('/api/v1/alarms?state=acknowledged')]);
    a.items.clear();
    for (const al of [...open, ...ack]) a.items.set(al.id, al);
  } catch { /* a role that reads no alarms: no panel content */ }
  render();
}

// A stream event about an alarm: read it again at the viewer's access.
export async function alarmEvent(type, data) {
  const g = begin(data.id);
  let al = null;
  try { al = await api('GET', `/api/v1/alarms/${encodeURIComponent(data.id)}`); } catch { /* out of view */ }
  if (a.gen.get(data.id) !== g) return; // a later event or action already spoke
  const known = a.items.has(data.id);
  if (al && !state.people.has(al.person_id)) {
    // someone enrolled since the registry was loaded
    try { const p = await api('GET', `/api/v1/people/${encodeURIComponent(al.person_id)}`); state.people.set(p.id, p); } catch { /* not readable */ }
  }
  if (!al || al.state === 'resolved') a.items.delete(data.id);
  else a.items.set(al.id, al);
  render();
  window.__alarmEvents = (window.__alarmEvents || 0) + 1;
  if (al && al.state !== 'resolved' && (type === 'alarm' || type === 'alarm_escalated' || (!known && type === 'alarm_changed'))) {
    signal(type === 'alarm_escalated' ? `Escalated to the ${LEVEL_TEXT[al.escalation] || al.escalation}` : 'New alarm', al);
  }
}

// Visible (the panel's signal, the page title) and audible (a tone made in
// the page: no file to fetch, nothing leaves the origin).
function signal(what, al) {
  a.beeps++;
  window.__alarmSignals = (window.__alarmSignals || 0) + 1;
  const s = document.getElementById('alarm-signal');
  if (s) {
    s.textContent = `${al.exercise ? 'EXERCISE · ' : ''}${what}: ${al.cause} · ${who(al)}`;
    s.classList.remove('on');
    void s.offsetWidth; // restart the animation
    s.classList.add('on');
  }
  document.title = `(${a.items.size}) ALARM — Safeguard`;
  try {
    a.audio = a.audio || new AudioContext();
    const t = a.audio.currentTime;
    for (let i = 0; i < 3; i++) {
      const o = a.audio.createOscillator();
      const g = a.audio.createGain();
      o.frequency.value = al.priority === 1 ? 1200 : 880;
      g.gain.setValueAtTime(0.2, t + i * 0.35);
      g.gain.setValueAtTime(0, t + i * 0.35 + 0.2);
      o.connect(g).connect(a.audio.destination);
      o.start(t + i * 0.35);
      o.stop(t + i * 0.35 + 0.22);
    }
  } catch { /* no audio device: the visible signal stands */ }
}

function who(al) {
  const p = state.people.get(al.person_id);
  return p ? personLabel(p) : al.person_id;
}

const urgency = (x, y) => (x.state === 'open') - (y.state === 'open') || y.priority - x.priority || Date.parse(x.opened_at) - Date.parse(y.opened_at);

function render() {
  drawMarkers();
  renderList();
}

function countdown(al) {
  if (!al.escalate_at) return al.state === 'open' ? 'no further escalation' : '';
  const s = Math.round((Date.parse(al.escalate_at) - Date.now()) / 1000);
  if (s <= 0) return 'escalating…';
  return `escalates in ${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

// Each second: the countdowns only (rebuilding the list would take the
// focus and an open form from the operator).
function tick() {
  for (const el of document.querySelectorAll('#alarm-list [data-countdown]')) {
    const al = a.items.get(el.dataset.countdown);
    if (al) el.textContent = countdown(al);
  }
}

function renderList() {
  const list = document.getElementById('alarm-list');
  if (!list) return;
  const items = [...a.items.values()].sort((x, y) => -urgency(x, y));
  if (!items.length) {
    if (list.dataset.empty !== '1') list.replaceChildren(h('li', { class: 'note' }, 'No open alarm.'));
    list.dataset.empty = '1';
    if (document.title.includes('ALARM')) document.title = 'Safeguard — map';
    return;
  }
  list.dataset.empty = '0';
  // An alarm that has not changed keeps its element (and what the operator
  // is typing in it); one that changed is drawn again with the forms' text
  // and the open state carried over; the focus stays where it was.
  const old = new Map([...list.querySelectorAll(':scope > li.alarm')].map((li) => [li.dataset.id, li]));
  const active = document.activeElement;
  let refocus = list.contains(active) ? active : null;
  list.replaceChildren(...items.map((al) => {
    const key = JSON.stringify([al, who(al), state.me && state.me.org_id]);
    const prev = old.get(al.id);
    if (prev && prev.dataset.key === key) return prev;
    const prevOpen = prev ? prev.querySelector('details[open]') !== null : false;
    const li = item(al, prevOpen);
    li.dataset.key = key;
    if (prev) {
      const moved = carry(prev, li, refocus);
      if (moved) refocus = moved;
    }
    return li;
  }));
  if (refocus && refocus.isConnected && refocus !== document.activeElement) refocus.focus();
}

// The text typed into an alarm's forms, from its old element to its new one;
// answers the new field that stands for the focused one, if any.
function carry(from, to, focused) {
  let moved = null;
  for (const f of from.querySelectorAll('form[class]')) {
    const kind = [...f.classList].find((c) => c !== 'edit');
    const g = kind && to.querySelector(`form.${kind}`);
    if (!g) continue;
    for (const el of f.elements) {
      if (!el.name || !g.elements[el.name]) continue;
      const n = g.elements[el.name];
      if (el.value !== el.defaultValue || el.tagName === 'SELECT') n.value = el.value;
      if (el === focused) moved = n;
    }
  }
  return moved;
}

function item(al, expanded) {
  const own = al.owner_org === (state.me && state.me.org_id);
  const li = h('li', { class: `alarm p${al.priority} ${al.state}${al.exercise ? ' exercise' : ''}`, 'data-id': al.id },
    h('button', { type: 'button', class: 'link', onclick: () => focus(al) },
      al.exercise ? h('b', { class: 'exercise-tag' }, 'EXERCISE ') : null,
      h('b', null, al.cause), ` · ${who(al)}`),
    h('div', { class: 'meta' }, `${al.state} · ${age(al.opened_at)} · `,
      h('span', { 'data-countdown': al.id }, countdown(al)),
      al.state === 'open' ? ` · calling ${LEVEL_TEXT[al.escalation] || al.escalation}` : ''),
    h('div', { class: 'meta' }, own ? 'owned by your centre' : `owned by ${orgName(al.owner_org)}`,
      sharedLabel(al) ? ` · ${sharedLabel(al)}` : ''),
    actions(al, own, expanded));
  return li;
}

function actions(al, own, expanded) {
  if (al.access === 'summary') return null;
  const box = h('details', { 'data-id': al.id, open: expanded || null }, h('summary', null, 'Act'));
  const after = (rec, msg) => { begin(rec.id); if (rec.state === 'resolved') a.items.delete(rec.id); else a.items.set(rec.id, rec); render(); notice(msg); };
  if (own && al.state === 'open') {
    box.append(h('button', { type: 'button', class: 'ack', onclick: async () => {
      try { after(await api('POST', `/api/v1/alarms/${encodeURIComponent(al.id)}/acknowledge`, {}), 'Alarm acknowledged'); }
      catch (e) { notice(e.message, 'error'); }
    } }, 'Acknowledge'));
  }
  if (own) {
    const partners = [...state.orgs.values()].filter((o) => o.id !== al.owner_org);
    if (partners.length) {
      const f = form([{ name: 'to_org', label: 'Hand over to', type: 'select', options: partners.map((o) => [o.id, o.name]) },
        { name: 'note', label: 'Note' }], 'Hand over', async (v) => {
        after(await api('POST', `/api/v1/alarms/${encodeURIComponent(al.id)}/handover`, v), `Handed over to ${orgName(v.to_org)}`);
      });
      f.classList.add('handover');
      box.append(f);
    }
    const r = form([{ name: 'outcome', label: 'Outcome', type: 'select', options: OUTCOMES },
      { name: 'note', label: 'What happened', type: 'textarea', required: true }], 'Resolve', async (v) => {
      after(await api('POST', `/api/v1/alarms/${encodeURIComponent(al.id)}/resolve`, v), 'Alarm resolved');
    });
    r.classList.add('resolve');
    box.append(r);
  }
  const c = form([{ name: 'note', label: 'Comment', required: true }], 'Comment', async (v) => {
    after(await api('POST', `/api/v1/alarms/${encodeURIComponent(al.id)}/comment`, v), 'Comment added');
  });
  c.classList.add('comment');
  box.append(c);
  return box;
}

function drawMarkers() {
  if (!a.layer) return;
  a.layer.clearLayers();
  for (const al of a.items.values()) {
    if (al.lat == null || al.lon == null) continue;
    const colour = al.exercise ? '#1f6feb' : '#d1242f';
    const mk = L.circleMarker([al.lat, al.lon], { radius: 14, color: colour, weight: 3, fillColor: colour, fillOpacity: 0.25,
      renderer: a.renderer, dashArray: al.exercise ? '4 4' : null });
    mk.bindTooltip(h('span', { class: 'alarm-label' }, al.exercise ? 'EXERCISE · ' : '', `ALARM ${al.cause} · ${who(al)}`),
      { permanent: true, direction: 'right', className: 'alarm-tip' });
    mk.on('click', (e) => { L.DomEvent.stop(e); focus(al); });
    a.layer.addLayer(mk);
  }
}

async function focus(listed) {
  let al = listed;
  try { al = await api('GET', `/api/v1/alarms/${encodeURIComponent(listed.id)}`); } catch { /* as listed */ }
  if (al.lat != null && a.map) a.map.setView([al.lat, al.lon], Math.max(a.map.getZoom(), 15), { animate: false });
  if (!a.show) return;
  a.show(`${al.exercise ? 'EXERCISE — ' : ''}Alarm: ${al.cause}`, [
    ['Person', who(al)], ['State', al.state], ['Priority', String(al.priority)], ['Opened', `${localTime(al.opened_at)} (${age(al.opened_at)})`],
    ['Position', al.lat != null ? `${al.lat.toFixed(5)}, ${al.lon.toFixed(5)} at ${localTime(al.position_time)}` : 'none known'],
    ['Calling', LEVEL_TEXT[al.escalation] || al.escalation], ['Owner', orgName(al.owner_org)], ['Note', al.note],
    ['Steps', (al.log || []).map((s) => `${localTime(s.at)} ${s.action}${s.note ? `: ${s.note}` : ''}`).join(' · ')],
  ]);
}
