// How the console and the phone app say what went wrong with a request,
// in their own words: each app's strings (its t: the fields' labels, any
// word it says otherwise), then the words both share (zhCN below).
import { ApiError } from './api.js';

// The words both apps use (zh-CN); an app's own strings come first, so it
// can say a kind otherwise or add one (the phone's ESTORAGE).
const zhCN = {
  'refusal.EINVALID': '输入有误',
  'refusal.ECONFLICT': '与当前数据冲突，未执行',
  'refusal.ENOTFOUND': '对象不存在，或您无权查看',
  'refusal.EFORBIDDEN': '您的角色无权执行此操作',
  'refusal.EUNAUTHORIZED': '登录已失效，请重新登录',
  'refusal.ETOOLARGE': '超出大小或数量限制',
  'refusal.EUNPROCESSABLE': '请求无法处理',
  'refusal.ERATELIMIT': '操作过于频繁，请稍后再试',
  'refusal.EUNAVAILABLE': '服务暂时不可用，请稍后再试',
  'refusal.EINTERNAL': '服务器内部错误，请稍后再试或联系管理员',
  'refusal.ENOTIMPLEMENTED': '本系统未启用此功能',
  'refusal.other': '操作未完成',
  'refusal.network': '无法连接服务器，请检查网络',
  'refusal.stale': '记录已被他人修改，请刷新后重试',
  'refusal.check': '，请检查：',
};

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
// refusal.other (a page's own fault too), with its message.
export function describeRefusal(err, appT, labels = {}) {
  const t = words(appT);
  const known = (key) => {
    const s = appT(key);
    return s === key ? null : s;
  };
  if (!isRefusal(err)) return `${refusalHead(err, appT)}（${err?.message ?? String(err)}）`;
  const fields = Object.entries(err.fields ?? {});
  const head = refusalHead(err, appT);
  const named = err.code === 'EINVALID' || err.code === 'ETOOLARGE'
    ? [...new Set(fields.map(([name]) => labels[name] ?? known(`field.${name}`) ?? name))]
    : [];
  const detail = [err.message, ...fields.map(([name, reason]) => `${name}: ${reason}`)].filter(Boolean).join('；');
  return `${head}${named.length ? `${t('refusal.check')}${named.join('、')}` : ''}${detail ? `（${detail}）` : ''}`;
}

// refusalHead is the first words of describeRefusal alone: what kind of
// refusal, for a badge where the rest does not fit.
export function refusalHead(err, appT) {
  const t = words(appT);
  if (!isRefusal(err)) {
    return networkFailure(err) ? t('refusal.network') : t('refusal.other');
  }
  if (err.code === 'ECONFLICT' && err.fields?.version === 'stale') return t('refusal.stale');
  const s = t(`refusal.${err.code}`);
  return s ?? t('refusal.other');
}

// words looks a key up in the app's strings, then in the shared ones;
// undefined for neither.
function words(appT) {
  return (key) => {
    const s = appT(key);
    return s !== key ? s : zhCN[key];
  };
}

// networkFailure: fetch fails with a TypeError of its own words when the
// network does (Chromium, Firefox, Safari); any other TypeError is a fault
// of the page, not the network.
const networkFailure = (err) => globalThis.navigator?.onLine === false ||
  (err instanceof TypeError && /^(Failed to fetch|NetworkError when attempting to fetch resource\.|Load failed)$/.test(err.message));

const isRefusal = (err) => err instanceof ApiError || (typeof err?.status === 'number' && typeof err?.code === 'string');
