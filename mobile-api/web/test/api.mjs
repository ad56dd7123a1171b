// The shared API client (shared/api.js) in Node, against a fetch of the
// test's own: a form's call repeats a busy answer (409 with Retry-After:
// a lease held elsewhere) with the same Idempotency-Key, a few times at
// most, and then shows it; a plain conflict (no Retry-After) and the
// phone outbox's own requests are not repeated.
// Run by TestAPIClientRepeatsBusyAnswers (backend/cmd/suiji).
import assert from 'node:assert/strict';
import { createClient, ApiError, BUSY_REPEATS } from '../shared/api.js';

let passed = 0;
let failed = 0;

// answers makes a fetch that gives the statuses in order (then 200) and
// records the requests.
function answers(statuses, retryAfter = '0') {
  const seen = [];
  globalThis.fetch = async (path, init) => {
    seen.push({ path, key: init.headers['Idempotency-Key'] });
    const status = statuses[seen.length - 1] ?? 200;
    const headers = new Headers(status === 409 && retryAfter !== null ? { 'Retry-After': retryAfter } : {});
    const body = status === 200 ? { ok: true } : { error: { code: 'ECONFLICT', message: 'busy' } };
    return new Response(JSON.stringify(body), { status, headers });
  };
  return seen;
}

const store = { get: () => null, set() {}, remove() {} };
const cases = [
  ['a busy answer is repeated with the same key until it goes through', async () => {
    const seen = answers([409, 409]);
    const api = createClient({ store });
    assert.deepEqual(await api.post('/api/v1/plans/p1/draws', {}), { ok: true });
    assert.equal(seen.length, 3);
    assert.equal(new Set(seen.map((r) => r.key)).size, 1, 'one Idempotency-Key for every repeat');
  }],
  ['repeated a few times at most, then shown', async () => {
    const seen = answers(Array(10).fill(409));
    const api = createClient({ store });
    await assert.rejects(api.post('/api/v1/plans/p1/draws', {}), (err) => err instanceof ApiError && err.status === 409 && err.retryAfter === '0');
    assert.equal(seen.length, BUSY_REPEATS + 1);
  }],
  ['a conflict without Retry-After is shown at once', async () => {
    const seen = answers([409], null);
    const api = createClient({ store });
    await assert.rejects(api.patch('/api/v1/plans/p1', {}), (err) => err.status === 409);
    assert.equal(seen.length, 1);
  }],
  ['repeated after the access token was refreshed too', async () => {
    const seen = [];
    globalThis.fetch = async (path, init) => {
      seen.push(path);
      if (path === '/api/v1/auth/refresh') {
        return new Response(JSON.stringify({ access_token: 'a2', refresh_token: 'r2', user: { id: 'u1', roles: [] } }), { status: 200 });
      }
      const n = seen.filter((p) => p !== '/api/v1/auth/refresh').length;
      if (n === 1) return new Response(JSON.stringify({ error: { code: 'EUNAUTHORIZED', message: 'expired' } }), { status: 401 });
      if (n === 2) return new Response(JSON.stringify({ error: { code: 'ECONFLICT', message: 'busy' } }), { status: 409, headers: { 'Retry-After': '0' } });
      return new Response(JSON.stringify({ ok: true }), { status: 200 });
    };
    let token = 'r1';
    const api = createClient({ store: { get: () => token, set: (v) => { token = v; }, remove: () => { token = null; } } });
    assert.deepEqual(await api.post('/api/v1/plans/p1/draws', {}), { ok: true });
    assert.deepEqual(seen, ['/api/v1/plans/p1/draws', '/api/v1/auth/refresh', '/api/v1/plans/p1/draws', '/api/v1/plans/p1/draws']);
  }],
  ['the outbox\'s own requests are not repeated here', async () => {
    const seen = answers([409]);
    const api = createClient({ store });
    await assert.rejects(api.request('PUT', '/api/v1/tasks/t1/items/i1', { body: {}, headers: { 'Idempotency-Key': 'k1' } }), (err) => err.status === 409);
    assert.equal(seen.length, 1);
  }],
];
for (const [name, run] of cases) {
  try {
    await run();
    passed++;
    console.log(`ok    ${name}`);
  } catch (err) {
    failed++;
    console.log(`FAIL  ${name}\n      ${err.message}`);
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
