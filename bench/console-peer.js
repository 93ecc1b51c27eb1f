// The peer of bench/console.sh: the textbook Leaflet live-tracking page.
// One DOM marker per device (no clustering, the default SVG renderer), moved
// at once on every position event; the same basemap, the same stream.
import L from 'leaflet';
import { feature } from 'topojson-client';

const map = L.map('map', { maxZoom: 18 }).setView([27.8, 68.5], 6);
const markers = new Map();
const icon = L.divIcon({ className: 'dot', iconSize: [10, 10] });

function place(p) {
  const m = markers.get(p.device_id);
  if (m) m.setLatLng([p.lat, p.lon]);
  else markers.set(p.device_id, L.marker([p.lat, p.lon], { icon }).addTo(map));
}

(async () => {
  const topo = await (await fetch('/countries.json')).json();
  L.geoJSON(feature(topo, topo.objects.countries), { interactive: false,
    style: { color: '#8a96a3', weight: 1, fillColor: '#eef0ea', fillOpacity: 1 } }).addTo(map);
  const page = await (await fetch('/api/v1/positions/latest?bbox=-180,-90,180,90&limit=10000')).json();
  for (const p of page.items) place(p);
  const es = new EventSource('/api/v1/stream');
  es.addEventListener('position', (ev) => place(JSON.parse(ev.data)));
  document.getElementById('map').dataset.ready = String(markers.size);
})();
