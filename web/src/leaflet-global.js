// leaflet.markercluster is a UMD plugin that extends the global L; Leaflet's
// CommonJS build does not set it, so this module does, before the plugin runs.
import L from 'leaflet';

window.L = L;
export default L;
