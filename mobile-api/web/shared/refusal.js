// How the console and the phone app say what went wrong with a request,
// in their own words (each app's t and strings file).
import { ApiError } from './api.js';

// describeRefusal says it whole: the kind of refusal by the API's error
// code (refusal.<CODE>; a record changed meanwhile is refusal.stale), the
// fields the input got wrong by their labels (field.<name>, or labels
// where the app's general label would mislead — the feedback's method is
// how it was delivered, not an item's method — or else the API's name;
// only for EINVALID and ETOOLARGE, where the input is at fault), then, in
// brackets for whoever supports the user, the server's own message and
// reasons, which are English. err is an ApiError, or one kept as a plain
// object ({status, code, message, fields}: the phone's outbox stores
// refusals so). Anything else is the network (a TypeError, or offline) or
// refusal.other, with its message.
export function describeRefusal(err, t, labels = {}) {
  const known = (key) => {
    const s = t(key);
    return s === key ? null : s;
  };
  if (!isRefusal(err)) return `${refusalHead(err, t)}（${err?.message ?? String(err)}）`;
  const fields = Object.entries(err.fields ?? {});
  const head = refusalHead(err, t);
  const named = err.code === 'EINVALID' || err.code === 'ETOOLARGE'
    ? [...new Set(fields.map(([name]) => labels[name] ?? known(`field.${name}`) ?? name))]
    : [];
  const detail = [err.message, ...fields.map(([name, reason]) => `${name}: ${reason}`)].filter(Boolean).join('；');
  return `${head}${named.length ? `${t('refusal.check')}${named.join('、')}` : ''}${detail ? `（${detail}）` : ''}`;
}

// refusalHead is the first words of describeRefusal alone: what kind of
// refusal, for a badge where the rest does not fit.
export function refusalHead(err, t) {
  if (!isRefusal(err)) {
    // fetch and XHR fail with a TypeError when the network does.
    return err instanceof TypeError || globalThis.navigator?.onLine === false ? t('refusal.network') : t('refusal.other');
  }
  if (err.code === 'ECONFLICT' && err.fields?.version === 'stale') return t('refusal.stale');
  const key = `refusal.${err.code}`;
  const s = t(key);
  return s === key ? t('refusal.other') : s;
}

const isRefusal = (err) => err instanceof ApiError || (typeof err?.status === 'number' && typeof err?.code === 'string');
