// The API client every front-end uses: JSON in and out, the bearer token,
// one silent refresh when the access token has expired, an
// Idempotency-Key on every mutation, and errors as ApiError carrying the
// API's {code, message, fields} (and, for imports, the report).

// retryAfter is the Retry-After header's value (null without one): on a
// 409 it marks work still in progress — the same Idempotency-Key's first
// request, or a lease held elsewhere — which a repeat may get through.
export class ApiError extends Error {
  constructor(status, body, retryAfter = null) {
    const e = body?.error ?? {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || codeOfStatus(status);
    this.fields = e.fields || {};
    this.body = body;
    this.retryAfter = retryAfter;
  }
}

// codeOfStatus is the error code of an answer without the API's error
// body (a proxy's 502, a 413 from a load balancer).
function codeOfStatus(status) {
  return {
    400: 'EINVALID', 401: 'EUNAUTHORIZED', 403: 'EFORBIDDEN', 404: 'ENOTFOUND', 409: 'ECONFLICT', 413: 'ETOOLARGE',
    422: 'EUNPROCESSABLE', 429: 'ERATELIMIT', 501: 'ENOTIMPLEMENTED', 502: 'EUNAVAILABLE', 503: 'EUNAVAILABLE', 504: 'EUNAVAILABLE',
  }[status] ?? 'EINTERNAL';
}

// BUSY_REPEATS is how often a form's call repeats a busy answer, and
// BUSY_WAIT_MAX the longest wait between (a Retry-After beyond it is cut).
export const BUSY_REPEATS = 3;
const BUSY_WAIT_MAX = 10_000;

// busyWait is how long to wait before repeating a 409 with Retry-After
// (work in progress elsewhere), in ms, or null: not busy, or no repeats
// left.
function busyWait(resp, repeats) {
  if (resp.status !== 409 || repeats <= 0) return null;
  const header = resp.headers.get('Retry-After');
  const after = Number(header);
  if (header == null || header.trim() === '' || !Number.isFinite(after) || after < 0) return null;
  return Math.min(after * 1000, BUSY_WAIT_MAX);
}

// createClient({store, onSignedOut}): store keeps the refresh token
// (get/set/remove of one string); onSignedOut runs when the session ends.
export function createClient({ store, onSignedOut = () => {} }) {
  let access = null;
  let user = null;
  let refreshing = null;

  async function send(method, path, { body, form, raw = false, retry = true, busy = 0, headers = {}, signal } = {}) {
    const h = { Accept: 'application/json', ...headers };
    if (access) h.Authorization = `Bearer ${access}`;
    if (method !== 'GET' && method !== 'HEAD' && !h['Idempotency-Key']) h['Idempotency-Key'] = crypto.randomUUID();
    let payload;
    if (form) payload = form;
    else if (body !== undefined) {
      h['Content-Type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const resp = await fetch(path, { method, headers: h, body: payload, credentials: 'same-origin', signal });
    if (resp.status === 401 && retry && store.get() && !path.startsWith('/api/v1/auth/')) {
      await refresh();
      return send(method, path, { body, form, raw, retry: false, busy, headers, signal });
    }
    const wait = busyWait(resp, busy);
    if (wait != null) {
      // Work still in progress (a lease held elsewhere: another plan of
      // the year being drawn, say): the same request, with the same
      // Idempotency-Key, once the server said it may get through.
      await new Promise((resolve) => setTimeout(resolve, wait));
      return send(method, path, { body, form, raw, retry, busy: busy - 1, headers: { ...headers, 'Idempotency-Key': h['Idempotency-Key'] }, signal });
    }
    if (!resp.ok) {
      let data = null;
      try { data = await resp.json(); } catch { /* not JSON */ }
      // A sign-in refused is not the end of a session: the form stays, with why.
      if (resp.status === 401 && path !== '/api/v1/auth/login') signedOut();
      throw new ApiError(resp.status, data, resp.headers.get('Retry-After'));
    }
    if (raw) return resp;
    if (resp.status === 204) return null;
    return resp.json();
  }

  function adopt(session) {
    access = session.access_token;
    user = session.user;
    store.set(session.refresh_token);
    return user;
  }

  function signedOut() {
    access = null;
    user = null;
    store.remove();
    onSignedOut();
  }

  async function refresh() {
    refreshing ??= (async () => {
      try {
        const resp = await fetch('/api/v1/auth/refresh', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
          body: JSON.stringify({ refresh_token: store.get() }),
        });
        if (!resp.ok) {
          // Only a refused token ends the session; a server that is down
          // or busy (5xx, 429) leaves it for the next try.
          if (resp.status === 400 || resp.status === 401) signedOut();
          throw new ApiError(resp.status, await resp.json().catch(() => null));
        }
        return adopt(await resp.json());
      } finally {
        refreshing = null;
      }
    })();
    return refreshing;
  }

  return {
    get user() { return user; },
    hasRole(...roles) { return !!user && (user.roles.includes('admin') || roles.some((r) => user.roles.includes(r))); },
    async login(username, password) {
      return adopt(await send('POST', '/api/v1/auth/login', { body: { username, password }, retry: false }));
    },
    // resume signs in again from a stored refresh token (after a reload).
    async resume() {
      if (!store.get()) return null;
      try { return await refresh(); } catch { return null; }
    },
    async logout() {
      try { await send('POST', '/api/v1/auth/logout', { retry: false }); } catch { /* ends locally anyway */ }
      signedOut();
    },
    // request is the general form: any method, extra headers (the
    // app's outbox sends its own Idempotency-Key), raw for the Response.
    request: (method, path, { body, headers, raw, signal } = {}) => send(method, path, { body, headers, raw, signal }),
    get: (path) => send('GET', path),
    // The forms' own calls repeat a busy answer (409 with Retry-After) a
    // few times before showing it; the phone's outbox (request) keeps its
    // own order and repeats later.
    post: (path, body) => send('POST', path, { body, busy: BUSY_REPEATS }),
    patch: (path, body) => send('PATCH', path, { body, busy: BUSY_REPEATS }),
    upload: (path, form) => send('POST', path, { form, busy: BUSY_REPEATS }),
    blob: async (path) => (await send('GET', path, { raw: true })).blob(),
  };
}
