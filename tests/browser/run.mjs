// The console's end-to-end suite: Debian's Chromium (playwright-core)
// against the real binary serving its demo data. Ends with
// "N passed, N failed". Usage:
//   SAFEGUARD_BIN=build/safeguard node tests/browser/run.mjs [-k name,...]
// SG_SCREENSHOTS=docs/screenshots keeps the screenshots the tests take.
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, startDemo, assert, login, call, osmand, newPage, consoleLogin } from './lib.mjs';

const bin = resolve(process.env.SAFEGUARD_BIN || 'build/safeguard');
const shots = process.env.SG_SCREENSHOTS ? resolve(process.env.SG_SCREENSHOTS) : mkdtempSync(join(tmpdir(), 'sg-shots-'));
mkdirSync(shots, { recursive: true });
const shot = (page, name) => page.screenshot({ path: join(shots, `${name}.png`) });

const tests = [];
const test = (name, fn) => tests.push({ name, fn });

const text = (page, sel) => page.locator(sel).innerText();

// --- the tests ---------------------------------------------------------------------------

test('served_from_anywhere', async ({ srv }) => {
  // the server runs with its working directory in a scratch folder without
  // any console files: what it serves is compiled in
  const index = await (await fetch(`${srv.base}/`)).text();
  assert(index.includes('<script src="/app.js"'), 'index.html served');
  const js = await fetch(`${srv.base}/app.js`);
  assert(js.ok && (await js.text()).length > 100000, 'app.js served from the binary');
  const css = await fetch(`${srv.base}/app.css`);
  assert(css.ok && (await css.text()).includes('.leaflet-'), 'app.css carries Leaflet\'s styles');
  const topo = await fetch(`${srv.base}/countries.json`);
  assert(topo.ok && (await topo.json()).type === 'Topology', 'the offline basemap is served');
});

test('login_map_layers', async ({ browser, srv }) => {
  const page = await newPage(browser, srv);
  assert(await page.isVisible('#login'), 'login form first');
  await page.fill('#login input[name=username]', 'company.duty');
  await page.fill('#login input[name=password]', 'wrong password here');
  await page.click('#login button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#login-error').textContent.length > 0);
  assert((await text(page, '#login-error')).includes('Wrong username or password'), 'a wrong password says so');
  await consoleLogin(page, srv, 'company.duty');
  const who = await text(page, '#who');
  assert(who.includes('Indus Engineering Consortium') && who.includes('company.duty') && /duty officer/i.test(who), `organisation and role shown: ${who}`);
  await page.waitForSelector('.leaflet-control-layers');
  const layers = await page.locator('.leaflet-control-layers-overlays label').allInnerTexts();
  for (const l of ['Risk zones', 'Sites', 'Incidents', 'People', 'Vehicles']) assert(layers.some((x) => x.includes(l)), `layer ${l} listed`);
  // zones at every level, labelled (own and the partner's, shared)
  await page.waitForSelector('.zone-tip');
  const labels = await page.locator('.zone-tip').allInnerTexts();
  for (let l = 1; l <= 6; l++) assert(labels.some((x) => x.startsWith(`L${l} `)), `a level ${l} zone labelled (${labels})`);
  // people and vehicles: the demo's simulator moves them
  await page.waitForFunction(() => document.querySelectorAll('.cluster, .leaflet-marker-icon').length > 0, null, { timeout: 15000 });
  await page.waitForSelector('#live.on', { timeout: 10000 });
  await shot(page, 'map');
  // layers switch off and on
  await page.locator('.leaflet-control-layers-overlays label', { hasText: 'Risk zones' }).locator('input').uncheck();
  await page.waitForFunction(() => document.querySelectorAll('.zone-tip').length === 0, null, { timeout: 3000 })
    .catch(() => { throw new Error('zones hidden with their layer'); });
  await page.locator('.leaflet-control-layers-overlays label', { hasText: 'Risk zones' }).locator('input').check();
  assert(await page.locator('.zone-tip').count() >= 6, 'zones back');
  // click a site for its details
  await page.fill('#search', 'Jinnah');
  await page.click('#search-results button');
  await page.waitForFunction(() => document.querySelector('#details h2')?.textContent.includes('Jinnah'));
  assert((await text(page, '#details')).includes('airport'), 'site details');
  // who is near the airport: the radius query lists what it finds
  await page.click('#near-btn');
  const box = await page.locator('#map').boundingBox();
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  await page.waitForFunction(() => document.querySelector('#details h2')?.textContent.startsWith('Within'));
  assert(page.errors.length === 0, `no script errors: ${page.errors}`);
  await page.context().close();
});

test('enrol_move_zone_event', async ({ browser, srv }) => {
  const page = await newPage(browser, srv);
  await consoleLogin(page, srv, 'company.admin');
  // a person, through the people screen
  await page.click('#nav a[data-screen=people]');
  await page.click('details.create summary');
  await page.fill('form.edit input[name=name]', 'Amir Test Engineer');
  await page.fill('form.edit input[name=job]', 'Surveyor');
  await page.click('form.edit button[type=submit]');
  await page.waitForSelector('table.grid td:has-text("Amir Test Engineer")');
  // enrol a Traccar Client phone for them and read its settings
  await page.click('#nav a[data-screen=devices]');
  await page.waitForSelector('form.edit select[name=person_id] option:has-text("Amir Test Engineer")', { state: 'attached' });
  await page.fill('form.edit input[name=name]', 'Amir phone');
  await page.selectOption('form.edit select[name=protocol]', 'osmand');
  await page.selectOption('form.edit select[name=person_id]', { label: 'Amir Test Engineer' });
  await page.click('form.edit button[type=submit]');
  await page.waitForSelector('#enrolment');
  const settings = await text(page, '#enrolment');
  assert(settings.includes(`${srv.base}/ingest/osmand`), `server URL shown: ${settings}`);
  const key = (await page.locator('#enrolment dt:has-text("Device identifier") + dd').innerText()).trim();
  assert(key.length >= 20, `device key shown once: ${key}`);
  await shot(page, 'devices');
  // an OwnTracks phone: the settings and the configuration QR code
  await page.fill('form.edit input[name=name]', 'Amir second phone');
  await page.selectOption('form.edit select[name=protocol]', 'owntracks');
  await page.click('form.edit button[type=submit]');
  await page.waitForSelector('#enrolment canvas#enrol-qr');
  assert((await text(page, '#enrolment')).includes('/ingest/owntracks'), 'OwnTracks URL shown');
  // the first report puts Amir on the map; the next moves him without a reload
  const t0 = Date.now() - 60000; // each report newer than the one before
  await osmand(srv, key, 24.86, 67.01, t0);
  await page.click('#nav a[data-screen=map]');
  await page.waitForSelector('#live.on');
  await page.evaluate(() => { window.__notReloaded = true; });
  await page.fill('#search', 'Amir Test');
  await page.click('#search-results button');
  await page.waitForFunction(() => document.querySelector('#details')?.textContent.includes('24.86000, 67.01000'));
  await osmand(srv, key, 24.8612, 67.0115, t0 + 5000);
  await page.waitForFunction(() => document.querySelector('#details')?.textContent.includes('24.86120, 67.01150'), null, { timeout: 10000 });
  assert(await page.evaluate(() => window.__notReloaded === true), 'the page was not reloaded');
  // draw a zone around him (the map is centred on him) in the editor
  await page.click('#draw-zone');
  const b = await page.locator('#map').boundingBox();
  const cx = b.x + b.width / 2, cy = b.y + b.height / 2;
  for (const [dx, dy] of [[-80, -80], [80, -80], [80, 80], [-80, 80]]) await page.mouse.click(cx + dx, cy + dy);
  await shot(page, 'zone-editor');
  await page.click('#draw-finish');
  await page.fill('#new-zone input[name=name]', 'Test checkpoint zone');
  await page.selectOption('#new-zone select[name=level]', '5');
  await page.fill('#new-zone input[name=reason]', 'Drawn by the browser test');
  // the demo has an L5 zone already: wait for this one's answer, not for a label
  const [created] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/api/v1/zones') && r.request().method() === 'POST'),
    page.click('#new-zone button[type=submit]'),
  ]);
  assert(created.status() === 201, `zone created: ${created.status()}`);
  await page.waitForFunction(() => document.querySelector('#details h2')?.textContent === 'Test checkpoint zone');
  // the next report inside is tagged: the enter event appears in the list
  await osmand(srv, key, 24.8613, 67.0116, t0 + 10000);
  await page.waitForSelector('#events li.enter:has-text("Test checkpoint zone")', { timeout: 10000 }).catch(async (e) => {
    const admin = await login(srv, 'company.admin');
    const zones = await call(srv, admin, 'GET', '/api/v1/zones?limit=100');
    const z = zones.data.items.find((x) => x.name === 'Test checkpoint zone');
    const at = await call(srv, admin, 'GET', '/api/v1/zones/at?lat=24.8613&lon=67.0116');
    await shot(page, 'failed-zone-event');
    throw new Error(`${e.message}\nzone: ${JSON.stringify(z && z.geometry)}\nzones at the report: ${JSON.stringify(at.data)}\nevents: ${await text(page, '#events')}`);
  });
  const ev = await page.locator('#events li.enter', { hasText: 'Test checkpoint zone' }).first().innerText();
  assert(ev.includes('Amir Test Engineer') && ev.includes('entered zone') && ev.includes('L5 high'), `enter event: ${ev}`);
  await shot(page, 'map-event');
  assert(page.errors.length === 0, `no script errors: ${page.errors}`);
  await page.context().close();
});

test('agreement_partner_sites', async ({ browser, srv }) => {
  const root = await login(srv, 'company.admin');
  const pw = 'amber canyon lighthouse 42';
  const org = await call(srv, root, 'POST', '/api/v1/organisations', { name: 'Coastal Guard Services', kind: 'other',
    admin: { username: 'coastal.admin', password: pw } });
  assert(org.status === 201, `organisation created: ${JSON.stringify(org.data)}`);
  srv.users['coastal.admin'] = pw;
  const coastal = await login(srv, 'coastal.admin');
  const site = await call(srv, coastal, 'POST', '/api/v1/sites', { name: 'Coastal Guard Base Keamari', kind: 'office',
    geometry: { type: 'Point', coordinates: [66.975, 24.82] }, radius_m: 400 });
  assert(site.status === 201, `site created: ${JSON.stringify(site.data)}`);

  const company = await newPage(browser, srv);
  await consoleLogin(company, srv, 'company.admin');
  await company.fill('#search', 'Coastal Guard');
  assert(await company.locator('#search-results button').count() === 0, 'the stranger\'s site is not on the map before');

  // the coastal admin proposes: sites, in full
  const partner = await newPage(browser, srv);
  await consoleLogin(partner, srv, 'coastal.admin');
  await partner.click('#nav a[data-screen=agreements]');
  await partner.click('details.create summary');
  await partner.fill('#propose input[name=partner_other]', org.data.id === root.user.org_id ? '' : root.user.org_id);
  await partner.selectOption('#propose .grant select[name=category]', 'sites');
  await partner.selectOption('#propose .grant select[name=level]', 'full');
  await partner.click('#propose button[type=submit]');
  await partner.waitForSelector('.agreement:has-text("Waiting for acceptance")');
  const summary = await partner.locator('.agreement').first().innerText();
  // (the partner's name stays hidden from a stranger until it accepts)
  assert(summary.includes(`Coastal Guard Services lets ${root.user.org_id} see its sites in full`) && summary.includes('Their side: not accepted yet'),
         `plain-language summary of the grant: ${summary}`);
  // the company accepts in its console
  await company.click('#nav a[data-screen=agreements]');
  const card = company.locator('.agreement', { hasText: 'Coastal Guard Services' });
  await card.locator('button[data-act=accept]').click();
  await company.waitForSelector('.agreement:has-text("Coastal Guard Services"):has-text("Accepted by both sides")');
  await shot(company, 'agreements');
  // the audit trail, filtered on the server: the acceptance is there
  await company.click('#nav a[data-screen=audit]');
  await company.waitForSelector('table.grid tbody tr');
  await company.fill('form.filters input[name=object_type]', 'agreement');
  await company.click('form.filters button[type=submit]');
  await company.waitForFunction(() => [...document.querySelectorAll('table.grid tbody tr')].every((tr) => tr.cells[4].textContent.startsWith('agreement')));
  const actions = await company.locator('table.grid tbody tr td:nth-child(4)').allInnerTexts();
  assert(actions.includes('accept'), `the acceptance in the filtered trail: ${actions}`);
  // and sees the partner's site on its map, labelled with its organisation and level
  // (grants are cached for up to a second: a partner's records may take that long)
  for (let i = 0; i < 10; i++) {
    await company.click(`#nav a[data-screen=${i % 2 ? 'sites' : 'map'}]`);
    if (i % 2) continue;
    await company.fill('#search', 'Coastal Guard');
    if (await company.waitForSelector('#search-results button', { timeout: 1500 }).catch(() => null)) break;
  }
  await company.click('#search-results button');
  await company.waitForFunction(() => document.querySelector('#details')?.textContent.includes('Coastal Guard Base'));
  const d = await text(company, '#details');
  assert(d.includes('Coastal Guard Services') && d.includes('full'), `partner's site labelled: ${d}`);
  assert(company.errors.length === 0 && partner.errors.length === 0, `no script errors: ${company.errors} ${partner.errors}`);
  await company.context().close();
  await partner.context().close();
});

test('incidents_on_the_map', async ({ browser, srv }) => {
  const page = await newPage(browser, srv);
  await consoleLogin(page, srv, 'company.duty');
  // the demo's recent incidents (the liaison cell's shared in full), one an exercise
  await page.waitForSelector('.incident-tip');
  const tips = await page.locator('.incident-tip').allInnerTexts();
  assert(tips.some((t) => t.includes('vehicle borne device') && t.includes('extreme')), `the car bomb: ${tips}`);
  assert(tips.some((t) => t.startsWith('EXERCISE') && t.includes('kidnapping')), `the exercise marked: ${tips}`);
  // add one by clicking the map
  await page.fill('#search', 'Port Qasim Power');
  await page.click('#search-results button');
  await page.click('#add-incident');
  const b = await page.locator('#map').boundingBox();
  await page.mouse.click(b.x + b.width / 2 + 40, b.y + b.height / 2);
  await page.waitForSelector('#new-incident');
  await page.selectOption('#new-incident select[name=type]', 'armed_attack');
  await page.selectOption('#new-incident select[name=severity]', 'severe');
  await page.fill('#new-incident input[name=radius_m]', '1500');
  await page.fill('#new-incident textarea[name=notes]', 'Shots fired at the plant gate');
  await page.click('#new-incident button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#details h2')?.textContent === 'armed attack');
  assert((await text(page, '#details')).includes('1500 m around the point'), await text(page, '#details'));
  // who is near it: the demo's staff living at the plant, by home site
  await page.waitForSelector('#exposure h3');
  const exposed = await text(page, '#exposure');
  assert(/Exposed: [1-9]\d* people/.test(exposed) && exposed.includes('home site') && exposed.includes('Port Qasim Power Plant'),
         `exposure list: ${exposed}`);
  await page.waitForSelector('.incident-tip:has-text("armed attack")');
  // the organisation's own assessment, beside the record
  await page.waitForSelector('#assess');
  await page.selectOption('#assess select[name=severity]', 'extreme');
  await page.fill('#assess textarea[name=notes]', 'Second attack likely');
  await page.click('#assess button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#assessment-text')?.textContent.includes('extreme'));
  assert((await text(page, '#details')).includes('Severity') && (await text(page, '#assessment-text')).includes('Second attack likely'),
         await text(page, '#details'));
  // the liaison cell's console gets it over the stream, without reloading
  const partner = await newPage(browser, srv);
  await consoleLogin(partner, srv, 'host.duty');
  await partner.waitForSelector('#live.on');
  const admin = await login(srv, 'company.manager');
  const r = await call(srv, admin, 'POST', '/api/v1/incidents', { type: 'threat_report', time: new Date().toISOString(), severity: 'moderate',
    confidence: 'unconfirmed', geometry: { type: 'Point', coordinates: [67.2, 24.95] }, radius_m: 2500 });
  assert(r.status === 201, JSON.stringify(r.data));
  await partner.waitForSelector('.incident-tip:has-text("threat report")', { timeout: 10000 });
  await shot(page, 'incidents');
  assert(page.errors.length === 0 && partner.errors.length === 0, `no script errors: ${page.errors} ${partner.errors}`);
  await page.context().close();
  await partner.context().close();
});

test('alarm_sos_handover_resolve', async ({ browser, srv }) => {
  // the company's duty officer: the demo's open SOS is on the panel
  const page = await newPage(browser, srv);
  await consoleLogin(page, srv, 'company.duty');
  await page.waitForSelector('#alarm-list li.alarm.open');
  assert((await text(page, '#alarm-list')).includes('escalates in'), `the escalation timer: ${await text(page, '#alarm-list')}`);
  await page.evaluate(() => { window.__notReloaded = true; });
  // an engineer's phone sends SOS through the OsmAnd endpoint (as Traccar Client does)
  const admin = await login(srv, 'company.admin');
  const person = await call(srv, admin, 'POST', '/api/v1/people', { name: 'Alarm Test Engineer', kind: 'staff', status: 'in_country' });
  assert(person.status === 201, JSON.stringify(person.data));
  const dev = await call(srv, admin, 'POST', '/api/v1/devices', { name: 'SOS phone', kind: 'phone', protocol: 'osmand', person_id: person.data.id });
  assert(dev.status === 201, JSON.stringify(dev.data));
  const before = await page.evaluate(() => window.__alarmSignals || 0);
  const r = await fetch(`${srv.base}/ingest/osmand?id=${encodeURIComponent(dev.data.key)}&timestamp=${Math.floor(Date.now() / 1000)}` +
    '&lat=24.8990&lon=67.1550&speed=0.0&bearing=0.0&altitude=12.0&accuracy=9.6&batt=64.0&charge=false&alarm=sos', { method: 'POST' });
  assert(r.status === 200, `SOS report: ${r.status}`);
  // the signal, visible and counted, without a reload
  await page.waitForFunction((n) => (window.__alarmSignals || 0) > n, before, { timeout: 10000 }).catch(async (e) => {
    const list = await call(srv, admin, 'GET', '/api/v1/alarms?state=open');
    throw new Error(`${e.message}\nalarms: ${JSON.stringify(list.data.items.map((x) => [x.person_id, x.cause, x.state]))}` +
      `\npanel: ${await text(page, '#alarm-list')}\nlive: ${await text(page, '#live')}\nerrors: ${page.errors}`);
  });
  await page.waitForSelector('#alarm-signal.on:has-text("Alarm Test Engineer")');
  await page.waitForSelector('#alarm-list li.alarm:has-text("Alarm Test Engineer")');
  assert(await page.evaluate(() => window.__notReloaded === true), 'the page was not reloaded');
  await page.waitForSelector('.alarm-tip:has-text("Alarm Test Engineer")');
  await shot(page, 'alarm');
  // hand it over to the liaison cell
  const li = page.locator('#alarm-list li.alarm', { hasText: 'Alarm Test Engineer' });
  await li.locator('summary').click();
  await li.locator('form.handover select[name=to_org]').selectOption({ label: 'Host Nation Security Liaison Cell' });
  await li.locator('form.handover input[name=note]').fill('Your patrol is at the airport');
  await li.locator('form.handover button[type=submit]').click();
  await page.waitForSelector('#alarm-list li.alarm:has-text("owned by Host Nation Security Liaison Cell")');
  // the liaison cell's duty officer acknowledges and resolves it
  const host = await newPage(browser, srv);
  await consoleLogin(host, srv, 'host.duty');
  const hli = host.locator('#alarm-list li.alarm.open', { hasText: 'owned by your centre' });
  await hli.first().waitFor();
  await hli.first().locator('summary').click();
  await hli.first().locator('button.ack').click();
  const acked = host.locator('#alarm-list li.alarm.acknowledged', { hasText: 'owned by your centre' });
  await acked.first().waitFor();
  if (await acked.first().locator('details[open]').count() === 0) await acked.first().locator('summary').click();
  await acked.first().locator('form.resolve select[name=outcome]').selectOption('assisted');
  await acked.first().locator('form.resolve textarea[name=note]').fill('Patrol escorted him to the terminal');
  // the person's centre comments meanwhile: the event reaches the liaison
  // console while its officer types, and takes neither the text nor the focus
  const seen = await host.evaluate(() => window.__alarmEvents || 0);
  const mine = (await call(srv, admin, 'GET', '/api/v1/alarms?state=acknowledged')).data.items.find((x) => x.person_id === person.data.id);
  assert(mine, 'the company still sees its alarm');
  const cm = await call(srv, admin, 'POST', `/api/v1/alarms/${mine.id}/comment`, { note: 'His manager is on the phone with him' });
  assert(cm.status === 200, `comment: ${cm.status} ${JSON.stringify(cm.data)}`);
  await host.waitForFunction((n) => (window.__alarmEvents || 0) > n, seen, { timeout: 10000 });
  assert(await acked.first().locator('form.resolve textarea[name=note]').inputValue() === 'Patrol escorted him to the terminal',
         'the typed note survives a stream event');
  assert(await host.evaluate(() => document.activeElement && document.activeElement.name === 'note'), 'the focus stays in the note');
  await acked.first().locator('form.resolve button[type=submit]').click();
  await host.waitForFunction(() => ![...document.querySelectorAll('#alarm-list li.alarm')].some((e) => e.textContent.includes('owned by your centre')));
  // the company's console hears of it over the stream: gone from its panel too
  await page.waitForFunction(() => ![...document.querySelectorAll('#alarm-list li.alarm')].some((e) => e.textContent.includes('Alarm Test Engineer')),
                             null, { timeout: 10000 });
  const alarms = await call(srv, admin, 'GET', '/api/v1/alarms?state=resolved');
  const done = alarms.data.items.find((x) => x.person_id === person.data.id);
  assert(done && done.outcome === 'assisted' && done.handed_over_from === admin.user.org_id, `resolved by the partner: ${JSON.stringify(done)}`);
  assert(page.errors.length === 0 && host.errors.length === 0, `no script errors: ${page.errors} ${host.errors}`);
  await page.context().close();
  await host.context().close();
});

test('alert_preview_send_relay', async ({ browser, srv }) => {
  // the liaison cell warns of an attack on the airport road (through the API)
  const host = await login(srv, 'host.duty');
  const w = await call(srv, host, 'POST', '/api/v1/alerts', { event: 'Armed attack', urgency: 'Expected', severity: 'Severe',
    certainty: 'Likely', headline: 'Host: attack expected near Port Qasim', geometry: { type: 'Point', coordinates: [67.35, 24.79] },
    radius_m: 20000 });
  assert(w.status === 201, JSON.stringify(w.data));
  const page = await newPage(browser, srv);
  await consoleLogin(page, srv, 'company.duty');
  await page.click('#nav a[data-screen=alerts]');
  await page.waitForSelector('table.grid tbody tr:has-text("attack expected near Port Qasim")');
  // relay it to the company's own people in the same area
  const [relayed] = await Promise.all([
    page.waitForResponse((r) => r.url().includes('/relay') && r.request().method() === 'POST'),
    page.locator('table.grid tbody tr', { hasText: 'attack expected near Port Qasim' }).locator('button.relay').click(),
  ]);
  assert(relayed.status() === 201, `relayed: ${relayed.status()}`);
  await page.waitForFunction(() => [...document.querySelectorAll('table.grid tbody tr')].filter((r) => r.textContent.includes('attack expected near Port Qasim')).length === 2);
  // a new alert of the company's own: the recipients first, then send
  await page.click('details.create summary');
  await page.fill('#new-alert input[name=headline]', 'Stay inside: convoy attacked near Port Qasim');
  await page.fill('#new-alert input[name=lat]', '24.79');
  await page.fill('#new-alert input[name=lon]', '67.35');
  await page.fill('#new-alert input[name=radius_km]', '20');
  await page.selectOption('#new-alert select[name=status]', 'Exercise');
  await page.click('#new-alert button[type=submit]');
  await page.waitForSelector('#alert-preview h3');
  const pv = await text(page, '#alert-preview');
  assert(/[1-9]\d* (person|people) would be alerted/.test(pv) && pv.includes('home site'), `preview: ${pv}`);
  assert((await call(srv, host, 'GET', '/api/v1/alerts?limit=100')).data.items.every((x) => !x.headline.startsWith('Stay inside')),
         'a preview sends nothing');
  await page.click('#alert-send');
  await page.waitForSelector('table.grid tbody tr:has-text("Stay inside: convoy attacked") >> text=EXERCISE');
  await shot(page, 'alerts');
  assert(page.errors.length === 0, `no script errors: ${page.errors}`);
  await page.context().close();
});

test('exercise_alert_rollcall_tracker', async ({ browser, srv }) => {
  // a webhook of the company's (a receiver started here): the messages carry the answer links
  const http = await import('node:http');
  const got = [];
  const hook = http.createServer((req, res) => {
    let b = '';
    req.on('data', (c) => { b += c; });
    req.on('end', () => { got.push(JSON.parse(b)); res.end('ok'); });
  });
  await new Promise((ok) => hook.listen(0, '127.0.0.1', ok));
  const admin = await login(srv, 'company.admin');
  const ch = await call(srv, admin, 'POST', '/api/v1/channels', { name: 'Push gateway', kind: 'webhook',
    url: `http://127.0.0.1:${hook.address().port}/hook`, secret: 'browser-test-webhook-key' });
  assert(ch.status === 201, JSON.stringify(ch.data));
  try {
    // where Wei is now (the simulator moves him): the circle goes there
    const duty = await login(srv, 'company.duty');
    const people = (await call(srv, duty, 'GET', '/api/v1/people?limit=100')).data.items;
    const wei = people.find((p) => p.name === 'Wei Jun');
    const devs = (await call(srv, duty, 'GET', `/api/v1/devices?person_id=${wei.id}`)).data.items;
    let fix = null;
    for (let i = 0; i < 100 && !fix; i++) { // the simulator's first round may still be on its way
      const latest = (await call(srv, duty, 'GET', '/api/v1/positions/latest?bbox=-180,-90,180,90')).data.items;
      fix = latest.find((x) => devs.some((d) => d.id === x.device_id));
      if (!fix) await new Promise((ok) => setTimeout(ok, 200));
    }
    assert(fix, `Wei has a position: ${JSON.stringify(devs)}`);
    const page = await newPage(browser, srv);
    await consoleLogin(page, srv, 'company.duty');
    await page.click('#nav a[data-screen=alerts]');
    await page.click('details.composer summary');
    await page.selectOption('#new-alert select[name=template]', 'drill');
    assert(await page.inputValue('#new-alert select[name=status]') === 'Exercise', 'the drill template marks an exercise');
    // draw: a click on the map sets the circle's centre, then it is placed on Wei
    await page.waitForSelector('#alert-map .leaflet-interactive, #alert-map canvas');
    const box = await page.locator('#alert-map').boundingBox();
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    assert(await page.inputValue('#new-alert input[name=lat]') !== '', 'a click on the map sets the centre');
    await page.fill('#new-alert input[name=lat]', String(fix.lat));
    await page.fill('#new-alert input[name=lon]', String(fix.lon));
    await page.fill('#new-alert input[name=radius_km]', '4');
    await page.click('#new-alert button[type=submit]');
    await page.waitForSelector('#alert-preview h3');
    const pv = await text(page, '#alert-preview');
    assert(/[1-9]\d* (person|people) would be alerted \(exercise\)/.test(pv) && pv.includes('Wei Jun'), `preview: ${pv}`);
    await page.click('#alert-send');
    await page.waitForSelector('#alert-sent:has-text("Sent: Drill: go to your assembly point")');
    await page.waitForSelector('#deliveries tbody tr');
    await page.click('#alert-rollcall');
    await page.waitForSelector('#rollcall-title:has-text("Drill: go to your assembly point")');
    await page.waitForSelector('.exercise-banner');
    const counts = () => text(page, '#rollcall-counts');
    const asked = Number(/of (\d+)/.exec(await counts())[1]);
    assert(asked >= 1 && (await counts()).includes(`No answer ${asked}`), `nobody answered yet: ${await counts()}`);
    await page.evaluate(() => { window.__notReloaded = true; });
    const rcId = await page.evaluate(() => sessionStorage.getItem('sg-rollcall'));
    // 1. by the API: Wei answers for himself
    const weiTok = await login(srv, 'engineer.wei');
    const r1 = await call(srv, weiTok, 'POST', `/api/v1/rollcalls/${rcId}/answers`, { state: 'safe', note: 'at the gate' });
    assert(r1.status === 200, JSON.stringify(r1.data));
    await page.waitForFunction(() => /Safe 1/.test(document.getElementById('rollcall-counts').textContent), null, { timeout: 10000 });
    // 2. by the operator, for someone, with a reason (if anyone else was asked)
    let safe = 1;
    if (asked > 1) {
      const row = page.locator('#rollcall-people tbody tr', { has: page.locator('form.answer-for') }).first();
      await row.locator('input[name=reason]').fill('seen at the gate by the escort lead');
      await row.locator('form.answer-for button').click();
      safe++;
      await page.waitForFunction((n) => new RegExp(`Safe ${n}`).test(document.getElementById('rollcall-counts').textContent), safe);
    }
    // 3. by the link, on the phone's page: someone still silent (the link's token comes from the webhook's message)
    let deadline = Date.now() + 10000;
    let silent = null;
    while (!silent && Date.now() < deadline) {
      const rep = (await call(srv, duty, 'GET', `/api/v1/rollcalls/${rcId}/report`)).data;
      const waiting = new Set(rep.people.filter((p) => p.state === 'no_answer').map((p) => p.person_id));
      silent = got.find((m) => m.rollcall_id === rcId && waiting.has(m.recipient_id));
      if (!silent && waiting.size === 0) break;
      if (!silent) await new Promise((ok) => setTimeout(ok, 200));
    }
    if (silent) {
      const link = /(http:\/\/\S+\/answer\.html#\S+)/.exec(silent.text)[1];
      const phone = await newPage(browser, srv, { viewport: { width: 390, height: 780 } });
      await phone.goto(link);
      await phone.waitForSelector('#answer:not([hidden])');
      assert(await phone.isVisible('#exercise'), 'the page marks the exercise');
      assert(!(await phone.evaluate(() => location.hash)), 'the token leaves the address bar');
      await shot(phone, 'answer-page');
      await phone.click('#answer button.help');
      await phone.waitForSelector('#thanks:not([hidden])');
      await phone.context().close();
      await page.waitForFunction(() => /Need help 1/.test(document.getElementById('rollcall-counts').textContent));
    }
    assert(await page.evaluate(() => window.__notReloaded === true), 'the tracker moved without a reload');
    assert(await page.getAttribute('#rollcall-csv', 'href') === `/api/v1/rollcalls/${rcId}/report?format=csv`, 'CSV export');
    await shot(page, 'rollcall');
    // the demo's own exercise roll-call is listed apart from real ones
    await page.click('#rollcall-tracker button:has-text("All roll-calls")');
    await page.waitForSelector('h2:has-text("Exercises") + table tbody tr:has-text("Camp evacuation drill")');
    assert(page.errors.length === 0, `no script errors: ${page.errors}`);
    await page.context().close();
  } finally {
    await call(srv, admin, 'DELETE', `/api/v1/channels/${ch.data.id}`);
    hook.close();
  }
});

const PAYLOADS = ['<img src=x onerror="window.__xss=(window.__xss||0)+1">', '<script>window.__xss=(window.__xss||0)+1</script>',
                  '"><svg onload="window.__xss=1">', 'javascript:window.__xss=1'];

test('stored_payloads_render_as_text', async ({ browser, srv }) => {
  const admin = await login(srv, 'company.admin');
  const P = PAYLOADS[0], S = PAYLOADS[1];
  const stored = [];
  const make = async (path, body) => {
    const r = await call(srv, admin, 'POST', path, body);
    assert(r.status === 201, `${path} stored the payloads: ${JSON.stringify(r.data)}`);
    stored.push(path);
    return r.data;
  };
  const person = await make('/api/v1/people', { name: `${P} Person`, kind: 'staff', status: 'in_country', job: S, nationality: 'PK',
    phone: '+92 300 1234567', emergency_contact: PAYLOADS[2], notes: S });
  await make('/api/v1/sites', { name: `${P} Site`, kind: 'camp', address: S, notes: PAYLOADS[2],
    geometry: { type: 'Point', coordinates: [67.05, 24.9] }, radius_m: 300 });
  await make('/api/v1/vehicles', { registration: '<b onclick=x>K1</b>', make_model: P, colour: 'x"><b>bold', notes: PAYLOADS[3] });
  const dev = await make('/api/v1/devices', { name: `${P} Device`, kind: 'phone', protocol: 'osmand', person_id: person.id, notes: S });
  await make('/api/v1/zones', { name: `${P} Zone`, level: 3, reason: S,
    geometry: { type: 'Polygon', coordinates: [[[67.0, 24.85], [67.02, 24.85], [67.02, 24.87], [67.0, 24.87], [67.0, 24.85]]] } });
  await make('/api/v1/users', { username: 'payload.viewer', role: 'viewer', password: 'violet harbour tractor 17', display_name: S });
  await make('/api/v1/api_keys', { name: P, role: 'viewer' });
  await osmand(srv, dev.key, 24.86, 67.01);
  // an organisation named with a payload, a partner of the company: its name
  // shows in the partner's labels and in its own header
  const orgPw = 'saffron glacier pylon 88';
  const evil = await call(srv, admin, 'POST', '/api/v1/organisations', { name: `${P} Org`, kind: 'other',
    admin: { username: 'payload.admin', password: orgPw } });
  assert(evil.status === 201, `organisation stored the payload: ${JSON.stringify(evil.data)}`);
  srv.users['payload.admin'] = orgPw;
  const evilAdmin = await login(srv, 'payload.admin');
  const ag = await call(srv, evilAdmin, 'POST', '/api/v1/agreements', { partner_id: admin.user.org_id,
    grants: [{ category: 'sites', level: 'full' }] });
  assert(ag.status === 201, `agreement proposed: ${JSON.stringify(ag.data)}`);
  const acc = await call(srv, admin, 'POST', `/api/v1/agreements/${ag.data.id}/accept`, {});
  assert(acc.status === 200, `agreement accepted: ${JSON.stringify(acc.data)}`);
  await call(srv, evilAdmin, 'POST', '/api/v1/sites', { name: S, kind: 'office', address: P,
    geometry: { type: 'Point', coordinates: [67.03, 24.88] }, radius_m: 200 });

  const own = await newPage(browser, srv);
  await consoleLogin(own, srv, 'payload.admin');
  assert((await text(own, '#who')).includes('<img src=x'), 'the organisation\'s name shows as text in its header');
  await own.click('#nav a[data-screen=agreements]');
  await own.waitForSelector('.agreement');
  assert(await own.evaluate(() => window.__xss === undefined), 'no stored payload ran in the partner\'s console');
  await own.context().close();

  const page = await newPage(browser, srv);
  await consoleLogin(page, srv, 'company.admin');
  await page.fill('#search', 'Person');
  await page.locator('#search-results button', { hasText: 'Person' }).first().click();
  await page.waitForFunction(() => document.querySelector('#details h2')?.textContent.includes('<img'));
  await page.fill('#search', 'Site');
  await page.locator('#search-results button', { hasText: `${P} Site` }).click();
  await page.waitForFunction((p) => document.querySelector('#details')?.textContent.includes(p), S);
  await page.click('#nav a[data-screen=agreements]');
  await page.waitForSelector('.agreement:has-text("<img src=x")');
  for (const screen of ['people', 'sites', 'vehicles', 'devices', 'zones', 'users', 'api_keys', 'audit']) {
    await page.click(`#nav a[data-screen=${screen}]`);
    await page.waitForSelector('table.grid tbody tr');
    // (a screen fills its table page by page: wait for the row with the payload)
    if (screen !== 'audit') {
      await page.waitForFunction(() => { const t = document.querySelector('#view').innerText; return t.includes('<img src=x') || t.includes('<script>'); },
                                 null, { timeout: 10000 }).catch(() => {});
      const body = await page.locator('#view').innerText();
      assert(body.includes('<img src=x') || body.includes('<script>'), `${screen}: the payload shows as text`);
    }
  }
  assert(await page.evaluate(() => window.__xss === undefined), 'no stored payload ran');
  assert(await page.locator('#view img, #view script, #view svg, #details img').count() === 0, 'no element made from stored text');
  assert(page.errors.length === 0, `no script errors: ${page.errors}`);
  await page.context().close();
});

test('no_request_leaves_the_origin', async ({ browser, srv }) => {
  const page = await newPage(browser, srv);
  const foreign = [];
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(`${srv.base}/`) && !u.startsWith('data:') && !u.startsWith('blob:')) foreign.push(u);
  });
  await page.reload();
  await consoleLogin(page, srv, 'company.manager');
  await page.waitForSelector('.zone-tip');
  await page.mouse.wheel(0, -400);
  for (const screen of ['people', 'sites', 'vehicles', 'devices', 'zones', 'alerts', 'rollcalls', 'agreements', 'map']) {
    await page.click(`#nav a[data-screen=${screen}]`);
    await page.waitForTimeout(300);
    if (screen === 'alerts') { // the composer's own map
      await page.click('details.composer summary');
      await page.waitForTimeout(500);
    }
  }
  // the management screens of an administrator (only theirs to see)
  assert(!(await page.isVisible('#nav a[data-screen=users]')), 'user management is for administrators');
  assert(foreign.length === 0, `requests to other origins: ${foreign}`);
  await page.context().close();
});

test('session_expiry_back_to_login', async ({ browser, srv }) => {
  const page = await newPage(browser, srv);
  await consoleLogin(page, srv, 'company.viewer');
  assert(!(await page.isVisible('#nav a[data-screen=users]')), 'a viewer is not offered user management');
  await page.context().clearCookies(); // the session ends (expired, or revoked elsewhere)
  // the stream notices within seconds; a click on a screen notices at once
  await page.click('#nav a[data-screen=people]', { timeout: 1000 }).catch(() => {});
  await page.waitForSelector('#login:not([hidden])', { timeout: 10000 });
  assert((await text(page, '#login-note')).includes('session has ended'), 'says why');
  assert(await page.isHidden('#view') && await page.isHidden('#nav'), 'no half-broken page behind the form');
  await consoleLogin(page, srv, 'company.viewer');
  await page.click('#logout');
  await page.waitForSelector('#login:not([hidden])');
  const after = await page.evaluate(() => fetch('/api/v1/session').then((r) => r.status));
  assert(after === 401, `logged out for the server too: ${after}`);
  await page.context().close();
});

test('operations_room_screen', async ({ browser, srv }) => {
  const page = await newPage(browser, srv, { viewport: { width: 2560, height: 1440 } });
  await consoleLogin(page, srv, 'host.duty');
  await page.waitForSelector('.zone-tip');
  const who = await text(page, '#who');
  assert(who.includes('Host Nation Security Liaison Cell'), who);
  // keyboard: the search box and the screens are reachable with Tab
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => document.activeElement && (document.activeElement.id || document.activeElement.tagName));
  assert(['A', 'BUTTON', 'INPUT', 'map'].includes(focused), `keyboard focus lands on a control: ${focused}`);
  // the company's people are shown as pseudonyms to the liaison cell (summary)
  await page.click('#nav a[data-screen=people]');
  await page.waitForSelector('table.grid tbody tr');
  const rows = await page.locator('table.grid tbody tr').allInnerTexts();
  assert(rows.some((r) => /^[A-Z]{2}-\d{4}\t/.test(r) && r.includes('Indus Engineering Consortium (summary)')), `pseudonyms at summary: ${rows.slice(0, 3)}`);
  assert(!rows.some((r) => r.includes('Wei Jun')), 'no real name of a summary-shared person');
  await page.click('#nav a[data-screen=map]');
  await shot(page, 'map-operations-room');
  await page.context().close();
});

// --- the runner --------------------------------------------------------------------------------

const only = (() => { const i = process.argv.indexOf('-k'); return i > 0 ? process.argv[i + 1].split(',') : null; })();
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
const srv = await startDemo(bin);
let passed = 0, failed = 0;
for (const t of tests) {
  if (only && !only.some((k) => t.name.includes(k))) continue;
  const t0 = Date.now();
  try {
    await t.fn({ browser, srv });
    passed++;
    console.log(`ok   ${t.name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${t.name} (${Date.now() - t0} ms): ${e.stack || e}`);
  }
}
await browser.close();
await srv.stop(); // sanitizer reports (leaks) come at exit
const err = srv.stderr();
if (/ERROR|AddressSanitizer|runtime error/.test(err)) {
  failed++;
  const at = err.search(/ERROR|AddressSanitizer|runtime error/);
  console.log(`FAIL server_log: ${err.slice(Math.max(0, at - 1500), at + 2500)}`);
}
console.log(`screenshots: ${shots}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
