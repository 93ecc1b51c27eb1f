// Builds the console into OUTDIR: app.js (our modules with Leaflet,
// leaflet.markercluster, topojson-client and qrcode, bundled and minified by
// esbuild), app.css (Leaflet's and markercluster's styles with ours; their
// images inlined as data: URLs, which the CSP allows), countries.json (the
// offline basemap: Natural Earth 1:50m countries from world-atlas) and
// index.html. meson compiles these files into the binary (tools/embed.c).
// Usage: node web/build.mjs OUTDIR
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2];
if (!out) {
  console.error('usage: node build.mjs OUTDIR');
  process.exit(2);
}
if (!existsSync(join(here, 'node_modules', 'leaflet'))) {
  console.error('web/node_modules is missing: run scripts/web.sh (npm ci in web/) first');
  process.exit(1);
}
mkdirSync(out, { recursive: true });
const common = { bundle: true, minify: true, logLevel: 'warning', legalComments: 'eof' };
await build({
  ...common,
  entryPoints: [join(here, 'src', 'main.js')],
  outfile: join(out, 'app.js'),
  format: 'iife',
  platform: 'browser',
  target: ['chrome110', 'firefox110', 'safari16'],
});
await build({
  ...common,
  entryPoints: [join(here, 'style.css')],
  outfile: join(out, 'app.css'),
  loader: { '.png': 'dataurl', '.svg': 'dataurl' },
});
// The roll-call answer page: its own small script, no console, no map.
await build({
  ...common,
  entryPoints: [join(here, 'src', 'answer.js')],
  outfile: join(out, 'answer.js'),
  format: 'iife',
  platform: 'browser',
  target: ['chrome90', 'firefox90', 'safari14'],
});
copyFileSync(join(here, 'answer.html'), join(out, 'answer.html'));
copyFileSync(join(here, 'answer.css'), join(out, 'answer.css'));
copyFileSync(join(here, 'node_modules', 'world-atlas', 'countries-50m.json'), join(out, 'countries.json'));
copyFileSync(join(here, 'index.html'), join(out, 'index.html'));
