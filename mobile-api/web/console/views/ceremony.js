// The draw ceremony, for the projector in the room where the draw is
// witnessed: the commitment published beforehand, the public entropy
// source, the draw, then the selections revealed one by one with their
// groups, the seed checked against the commitment in the browser, and a
// QR code to the public record anyone can verify.
import { h } from '../../shared/dom.js';
import { sha256Hex } from '../../shared/verify/verify.js';
import { t } from '../strings.js';
import { errorText } from '../widgets.js';
import { failure } from './plan.js';

export async function render({ api, navigate }, id) {
  const plan = await api.get(`/api/v1/plans/${id}`);
  const draws = (await api.get(`/api/v1/plans/${id}/draws`)).draws;
  const q = new URLSearchParams({ year: plan.year, kind: plan.kind });
  for (const k of ['towns', 'categories', 'flags', 'industries']) if (plan.filter[k].length) q.set(k, plan.filter[k].join(','));
  const pool = await api.get(`/api/v1/reports/pool?${q}`).catch(() => null);

  const entropy = h('input', { id: 'ceremony-entropy', autocomplete: 'off' });
  const status = h('p', { role: 'status', 'aria-live': 'polite' });
  const results = h('div', { id: 'ceremony-results' });
  const side = h('aside', {});
  const go = h('button', { type: 'button', class: 'go', text: t('cer.draw') });
  // With a commitment pending, this is a new attempt: the last one's
  // results are not shown as if they were its own.
  const current = plan.seed_commitment ? null : draws.filter((d) => d.outcome !== 'failed').at(-1);
  // The attempt shown: the one to draw, or the last drawn when none waits.
  const seq = current ? current.seq : plan.commitment?.seq ?? plan.draw_count + 1;
  const reason = current ? current.reason : plan.redraw_approval?.seq === seq ? plan.redraw_approval.reason : '';

  go.addEventListener('click', async () => {
    go.disabled = true;
    status.textContent = t('cer.drawing');
    try {
      const body = { public_entropy: entropy.value.trim() };
      const d = await api.post(`/api/v1/plans/${id}/draws`, body);
      if (d.outcome === 'failed') {
        // Stored and published all the same: its number and commitment
        // are used; the next attempt needs a leader's approval.
        // A short department is named (read only then: most draws succeed).
        const deps = await api.get('/api/v1/departments').catch(() => ({ departments: [] }));
        const depName = (id) => deps.departments.find((x) => x.id === id)?.name ?? id;
        status.textContent = t('cer.failed', { why: failure(d.failure, depName) });
        return;
      }
      status.textContent = '';
      await reveal(d);
    } catch (err) {
      status.textContent = errorText(err);
      go.disabled = false;
    }
  });

  async function reveal(d) {
    const seedOk = (await sha256Hex(d.seed)) === plan.seed_commitment;
    const [names, officers] = await Promise.all([enterpriseNames(api, d.selections), officerNames(api)]);
    const list = h('ol', { class: 'reveal' });
    results.replaceChildren(
      h('p', { class: 'label', text: t('cer.seed') }), h('code', { class: 'hash big', id: 'ceremony-seed', text: d.seed }),
      h('p', { class: seedOk ? 'seedok' : 'bad-text', text: seedOk ? `✓ ${t('cer.seedOk')}` : '✗' }),
      h('h2', { text: t('cer.results', { n: d.selections.length }) }), list);
    const url = `${location.origin}/draws/${d.id}`;
    side.replaceChildren(await qrBox(url));
    const reduce = matchMedia('(prefers-reduced-motion: reduce)').matches;
    for (const [i, s] of d.selections.entries()) {
      list.append(h('li', {},
        h('div', {}, h('span', { class: 'n', text: `${i + 1}` }), h('span', { class: 'name', text: names.get(s.uscc) ?? s.uscc })),
        h('div', { class: 'note', text: `${s.town} · ${s.uscc}` }),
        h('div', { class: 'grp', text: `${t('cer.group')}：${s.group.map((b) => officers.get(b) ? `${officers.get(b)}（${b}）` : b).join('、')}` })));
      if (!reduce) await new Promise((r) => setTimeout(r, 250));
    }
    list.dataset.done = 'true';
  }

  const view = h('div', { class: 'ceremony', id: 'ceremony' },
    h('div', { class: 'bar' },
      h('button', { type: 'button', class: 'secondary', text: t('cer.fullscreen'), onclick: () => document.documentElement.requestFullscreen?.() }),
      h('button', { type: 'button', class: 'secondary', text: t('cer.exit'), onclick: () => { document.exitFullscreen?.().catch(() => {}); navigate(`/plans/${id}`); } })),
    h('h1', { text: `${t('cer.title')} · ${plan.title}` }),
    seq > 1 ? h('p', { class: 'label', id: 'ceremony-attempt', text: `${t('cer.attempt', { seq })}${reason ? ` · ${t('plans.drawReason', { reason })}` : ''}` }) : null,
    h('div', { class: 'stage' },
      h('div', {},
        h('p', { class: 'label', text: t('cer.commitment') }),
        h('code', { class: 'hash big', text: plan.seed_commitment || '—' }),
        pool ? h('p', { class: 'label', text: t('cer.pool', { n: pool.pool_size }) }) : null,
        plan.commitment?.entropy_source ? h('p', { class: 'note', text: t('cer.entropySource', { source: plan.commitment.entropy_source }) }) : null,
        h('p', { class: 'label' }, h('label', { for: 'ceremony-entropy', text: t('cer.entropy') })), entropy,
        h('div', {}, go), status, results),
      side));
  if (current) await reveal(current);
  return view;
}

// enterpriseNames looks the drawn enterprises' names up in the directory
// (the draw record carries only USCCs), a few requests at a time.
async function enterpriseNames(api, selections) {
  const names = new Map();
  const queue = selections.map((s) => s.uscc);
  await Promise.all(Array.from({ length: 6 }, async () => {
    while (queue.length) {
      const uscc = queue.shift();
      try {
        const data = await api.get(`/api/v1/enterprises?q=${encodeURIComponent(uscc)}&limit=1`);
        const e = data.enterprises.find((x) => x.uscc === uscc);
        if (e) names.set(uscc, e.name);
      } catch { /* the USCC is shown instead */ }
    }
  }));
  return names;
}

async function officerNames(api) {
  try {
    const data = await api.get('/api/v1/inspectors?limit=500');
    return new Map(data.inspectors.map((i) => [i.badge_no, i.name]));
  } catch {
    return new Map();
  }
}

// qrBox draws a QR code of url (vendor/uqr.mjs, when the vendor step has
// run) with the URL beneath it.
async function qrBox(url) {
  const box = h('div', { class: 'qr', id: 'ceremony-qr' });
  try {
    const { encode } = await import('../../vendor/uqr.mjs');
    const { data, size } = encode(url, { ecc: 'M', border: 2 });
    const scale = 8;
    const canvas = h('canvas', { width: size * scale, height: size * scale, 'aria-label': url, role: 'img' });
    const g = canvas.getContext('2d');
    g.fillStyle = '#fff';
    g.fillRect(0, 0, canvas.width, canvas.height);
    g.fillStyle = '#000';
    data.forEach((row, y) => row.forEach((on, x) => { if (on) g.fillRect(x * scale, y * scale, scale, scale); }));
    box.append(canvas);
  } catch {
    /* no QR library: the link alone */
  }
  box.append(h('p', { text: t('cer.qr') }), h('a', { href: url, target: '_blank', rel: 'noopener', text: url }));
  return box;
}
