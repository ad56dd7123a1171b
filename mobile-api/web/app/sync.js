// Keeping the phone's copy of the inspector's tasks current: a sync when
// the app starts or comes back online, and the live event stream
// (GET /api/v1/me/events, server-sent events read with fetch, since an
// EventSource cannot send the bearer token) while it is open. Every event
// about a task makes the app fetch that task again; the stream resumes
// after a drop from the last event seen (Last-Event-ID), so nothing sent
// meanwhile is missed.
import { ApiError } from '../shared/api.js';
import * as store from './store.js';

// syncTasks brings the stored tasks up to date and returns them. It uses
// the delta sync (GET /api/v1/me/tasks?since=CURSOR: what changed, with
// tombstones for tasks taken away) where the server has it, and otherwise
// lists every task the inspector may see.
export async function syncTasks(api) {
  const cursor = await store.getMeta('cursor');
  try {
    for (let since = cursor ?? '', more = true; more;) {
      const page = await api.get(`/api/v1/me/tasks?since=${encodeURIComponent(since)}`);
      for (const x of page.tasks ?? []) {
        if (x.deleted || x.removed || x.tombstone) await store.deleteTask(x.id);
        else await store.putTask(x);
      }
      more = Boolean(page.more ?? page.has_more) && page.cursor !== since;
      since = page.cursor ?? since;
      await store.setMeta('cursor', since);
    }
  } catch (err) {
    if (!(err instanceof ApiError && (err.status === 404 || err.status === 405))) throw err;
    await store.replaceTasks(await listAll(api));
  }
  await store.setMeta('synced_at', new Date().toISOString());
  return store.allTasks();
}

async function listAll(api) {
  const out = [];
  let after = '';
  for (let i = 0; i < 50; i++) {
    const page = await api.get(`/api/v1/tasks?limit=200${after ? `&after=${encodeURIComponent(after)}` : ''}`);
    out.push(...page.tasks);
    if (!page.next) break;
    after = page.next;
  }
  return out;
}

// refreshTask fetches one task again after an event about it; a task the
// inspector may no longer see (404) is removed from the phone.
export async function refreshTask(api, id) {
  try {
    const x = await api.get(`/api/v1/tasks/${encodeURIComponent(id)}`);
    await store.putTask(x);
    return x;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      await store.deleteTask(id);
      return null;
    }
    throw err;
  }
}

// refreshRecords reads a task's findings and non-cooperation records —
// the group's, not only this phone's; the task itself does not carry them —
// and keeps them on the phone (meta "records:ID") for the task page, also
// offline. It returns them.
export async function refreshRecords(api, id) {
  const path = `/api/v1/tasks/${encodeURIComponent(id)}`;
  const [f, n] = await Promise.all([api.get(`${path}/findings`), api.get(`${path}/non-cooperation`)]);
  const records = [...(f.findings ?? []), ...(n.non_cooperation ?? [])];
  await store.setMeta(`records:${id}`, records);
  return records;
}

// listen reads the event stream until stop() is called, calling
// onEvent(notification) for each entry; it reconnects after a drop,
// resuming from the last event seen.
export function listen(api, onEvent) {
  const abort = new AbortController();
  let retry = 3000;
  (async () => {
    while (!abort.signal.aborted) {
      try {
        let last = await store.getMeta('last_event_id');
        if (last == null) {
          // First start: only what comes from now on (the inbox shows the past).
          const inbox = await api.get('/api/v1/me/notifications?limit=1');
          last = inbox.notifications[0]?.seq ?? 0;
          await store.setMeta('last_event_id', last);
        }
        const resp = await api.request('GET', '/api/v1/me/events', {
          raw: true, signal: abort.signal,
          headers: { Accept: 'text/event-stream', 'Last-Event-ID': String(last) },
        });
        await readEvents(resp.body, async (ev) => {
          if (ev.retry) retry = ev.retry;
          if (!ev.data) return;
          const n = JSON.parse(ev.data);
          await onEvent(n);
          if (ev.id) await store.setMeta('last_event_id', Number(ev.id));
        });
      } catch (err) {
        if (abort.signal.aborted) return;
        if (err instanceof ApiError && err.status === 401) return; // signed out
      }
      await new Promise((r) => setTimeout(r, retry));
    }
  })();
  return () => abort.abort();
}

// readEvents parses a text/event-stream body (the WHATWG format: fields
// per line, events ended by a blank line, comments starting with ':').
async function readEvents(body, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  let ev = { data: '' };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let nl;
    while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + (buf.startsWith('\r\n', nl) ? 2 : 1));
      if (line === '') {
        if (ev.data || ev.retry) await onEvent({ ...ev, data: ev.data.replace(/\n$/, '') });
        ev = { data: '' };
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'data') ev.data += `${value}\n`;
      else if (field === 'id') ev.id = value;
      else if (field === 'retry' && /^\d+$/.test(value)) ev.retry = Number(value);
    }
  }
}
