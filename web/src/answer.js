// The one-time roll-call link's page (served as /answer.html#TOKEN). The
// token stays in the fragment, which browsers never send: it is read here,
// removed from the address bar and history, and sent only in request
// bodies, so no server or proxy log ever holds it.
const $ = (id) => document.getElementById(id);
const token = decodeURIComponent(location.hash.slice(1));
history.replaceState(null, '', location.pathname);

function problem(text) {
  $('problem').textContent = text;
  $('problem').hidden = false;
}

async function post(path, body) {
  const r = await fetch(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
    credentials: 'omit',
    cache: 'no-store',
  });
  let data = null;
  try {
    data = await r.json();
  } catch {
    data = null;
  }
  return { ok: r.ok, status: r.status, data };
}

function position() {
  return new Promise((resolve) => {
    if (!$('share').checked || !navigator.geolocation) return resolve(null);
    navigator.geolocation.getCurrentPosition(
      (p) => resolve({ lat: p.coords.latitude, lon: p.coords.longitude }),
      () => resolve(null),
      { timeout: 8000, maximumAge: 60000 },
    );
  });
}

async function start() {
  if (!token) {
    problem('This link has no code. Open the whole link from your message.');
    return;
  }
  const q = await post('/api/v1/answer/question', { token });
  if (!q.ok) {
    problem(q.status === 429 ? 'Too many tries: wait a minute and open the link again.'
      : 'This link is not valid, or was used already.');
    return;
  }
  $('exercise').hidden = !q.data.exercise;
  $('title').textContent = `Are you safe? ${q.data.title}`;
  $('headline').textContent = q.data.headline === q.data.title ? '' : q.data.headline;
  $('instruction').textContent = q.data.instruction || '';
  $('answer').hidden = false;
  $('answer').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const state = ev.submitter ? ev.submitter.value : 'safe';
    for (const b of $('answer').querySelectorAll('button')) b.disabled = true;
    const body = { token, state };
    const note = $('note').value.trim();
    if (note) body.note = note;
    if ($('pin').value) body.pin = $('pin').value;
    const pos = await position();
    if (pos) Object.assign(body, pos);
    const r = await post('/api/v1/answer', body);
    if (r.ok) {
      $('answer').hidden = true;
      $('problem').hidden = true;
      $('thanks').hidden = false;
    } else {
      for (const b of $('answer').querySelectorAll('button')) b.disabled = false;
      problem(r.status === 404 || r.status === 409 ? 'This link is not valid, or was used already.'
        : 'Your answer could not be sent. Try again.');
    }
  });
}

start();
