// What the console knows: the session, and the registry records the user
// may see (own and shared), loaded through the public API.
import { all, api } from './api.js';

export const state = {
  me: null,          // GET /api/v1/session
  console: {},       // me.console: tile_url, tile_attribution, stale_after_s
  orgs: new Map(),   // id -> organisation
  people: new Map(),
  vehicles: new Map(),
  sites: new Map(),
  zones: new Map(),
  devices: new Map(),
  incidents: new Map(), // open ones
};

export async function loadRegistry() {
  const [orgs, people, vehicles, sites, zones, devices] = await Promise.all([
    all('/api/v1/organisations'), all('/api/v1/people'), all('/api/v1/vehicles'),
    all('/api/v1/sites'), all('/api/v1/zones'), all('/api/v1/devices'),
  ]);
  const fill = (m, items) => { m.clear(); for (const i of items) m.set(i.id, i); };
  fill(state.orgs, orgs);
  fill(state.people, people);
  fill(state.vehicles, vehicles);
  fill(state.sites, sites);
  fill(state.zones, zones);
  fill(state.devices, devices);
  // a person's account does not read incidents: no layer then
  fill(state.incidents, await all('/api/v1/incidents?status=open').catch(() => []));
}

export const INCIDENT_TYPES = ['explosive_device', 'vehicle_borne_device', 'armed_attack', 'kidnapping', 'protest',
  'road_closure', 'crime', 'accident', 'threat_report', 'other'];

export async function loadSession() {
  state.me = await api('GET', '/api/v1/session');
  state.console = state.me.console || {};
  return state.me;
}

export const orgName = (id) => (state.orgs.get(id) || {}).name || id;
export const isOwn = (rec) => !rec.org_id || (state.me && rec.org_id === state.me.org_id);

// A person as the viewer may name them: the name, or the pseudonym a
// partner sees at summary level.
export function personLabel(p) {
  if (!p) return 'unknown person';
  return p.name || p.pseudonym || p.id;
}

// Who a device stands for: its person or vehicle when the viewer may see them.
export function deviceSubject(devId) {
  const d = state.devices.get(devId);
  if (!d) return { kind: 'device', label: 'unlisted device', device: null };
  if (d.vehicle_id) {
    const v = state.vehicles.get(d.vehicle_id);
    return { kind: 'vehicle', label: v ? v.registration : d.name, device: d, vehicle: v };
  }
  if (d.person_id) {
    const p = state.people.get(d.person_id);
    return { kind: 'person', label: p ? personLabel(p) : d.name, device: d, person: p };
  }
  return { kind: 'device', label: d.name, device: d };
}

// "shared by X (summary)" for a partner's record, "" for one's own.
export function sharedLabel(rec) {
  if (!rec || isOwn(rec)) return '';
  return `shared by ${orgName(rec.org_id)} (${rec.access || 'shared'})`;
}

export const LEVELS = ['', 'minimal', 'low', 'moderate', 'substantial', 'high', 'extreme'];
export const levelLabel = (n) => `L${n} ${LEVELS[n] || ''}`.trim();
