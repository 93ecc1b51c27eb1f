// The public API, as the console uses it: the session cookie authenticates,
// the CSRF token given at login goes with every unsafe request.
let expired = () => {};
export function onExpired(f) { expired = f; }

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.field = problem && problem.field;
  }
}

export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  const csrf = sessionStorage.getItem('csrf');
  if (csrf && method !== 'GET') headers['X-CSRF-Token'] = csrf;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, { method, headers, credentials: 'same-origin',
                                  body: body !== undefined ? JSON.stringify(body) : undefined });
  const txt = await res.text();
  let data = null;
  try { data = txt ? JSON.parse(txt) : null; } catch { data = null; }
  if (res.status === 401 && path !== '/api/v1/session') expired();
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

// Every page of a collection (up to max items).
export async function all(path, max = 20000) {
  const items = [];
  let cursor = null;
  do {
    const q = new URLSearchParams({ limit: '500' });
    if (cursor) q.set('cursor', cursor);
    const page = await api('GET', `${path}${path.includes('?') ? '&' : '?'}${q}`);
    items.push(...page.items);
    cursor = page.next;
  } while (cursor && items.length < max);
  return items;
}
