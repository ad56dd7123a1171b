// A third, independent implementation of suiji's draws — beside the Go
// package backend/draw and backend/draw/verify_draw.py — written from the
// specification (backend/draw/SPEC.md, "suiji-draw/2", published at
// /public/v1/draw-spec) with WebCrypto, so that a citizen can re-compute a
// published draw in the browser and install nothing. Records of
// suiji-draw/1 are verified by the rules they were drawn by (SPEC Appendix
// B, as the version-1 package documented them). It runs unchanged in Node
// (test/vectors.mjs feeds it every test vector).
//
//   verifyRecord(record, {history})   a draw record; history: the year's
//                                     other draw records (SPEC §6.3) — every
//                                     one, [] for none; left out, the
//                                     history facts are not checked
//   verifyReplacement(record)         one replacement record (§11)
//   verifyReplacements(draw, list)    a draw's replacements in order
//
// Each resolves to {ok: true} or {ok: false, path, message}: path is the
// first field found wrong, in the order of SPEC §12 (the paths the test
// vectors expect); message says why, for people.

const encoder = new TextEncoder();

// --- §3 hashes, seeds and the sampler -------------------------------------

// H(x): SHA-256 of the UTF-8 bytes of x, 64 lowercase hex digits.
export async function sha256Hex(text) {
  const digest = await crypto.subtle.digest('SHA-256', encoder.encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}
const H = sha256Hex;

export const derive = (d, label) => H(`${d}|${label}`);

// pick(s, i, n) = 1 + (H(s + "," + i) as a big-endian integer) mod n.
export async function pick(seed, i, n) {
  return Number(BigInt(`0x${await H(`${seed},${i}`)}`) % BigInt(n)) + 1;
}

// sample(s, n, k): picks 1, 2, … skipping repeats until k distinct values.
export async function sample(seed, n, k) {
  const taken = new Set();
  const out = [];
  for (let i = 1; out.length < k; i++) {
    const v = await pick(seed, i, n);
    if (!taken.has(v)) {
      taken.add(v);
      out.push(v);
    }
  }
  return out;
}

// --- §2, §4 strings in byte order and the canonical text ------------------

// byteCompare orders strings by their UTF-8 bytes, which for valid strings
// is code point order (not JavaScript's UTF-16 order).
export function byteCompare(a, b) {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i].codePointAt(0) - y[i].codePointAt(0);
    if (d) return d < 0 ? -1 : 1;
  }
  return x.length - y.length < 0 ? -1 : x.length > y.length ? 1 : 0;
}

const fieldString = (s) => `${encoder.encode(s).length}:${s}`;
const fieldList = (list) => `${list.length}:${[...list].sort(byteCompare).map(fieldString).join('')}`;

function canonicalLine(fields) {
  return `${fields.map((f) => {
    if (Array.isArray(f)) return fieldList(f);
    if (typeof f === 'string') return fieldString(f);
    return String(f);
  }).join(',')}\n`;
}

const candidateLine = (c) => canonicalLine([c.uscc, c.town, c.industry, c.status, c.categories, c.flags,
  c.non_cooperation, c.random_draws, c.draw_ids, c.covered_this_year, c.excluded]);
const rosterLine = (r) => canonicalLine([r.badge_no, r.department, r.qualifications, r.active,
  r.certificate_expires, r.conflicts, r.last_inspected]);

// --- the verdicts ---------------------------------------------------------

class Mismatch extends Error {
  constructor(path, message) {
    super(message);
    this.path = path;
  }
}
const fail = (path, message) => { throw new Mismatch(path, message); };
const check = (ok, path, message) => { if (!ok) fail(path, message); };

async function verdict(fn) {
  try {
    await fn();
    return { ok: true };
  } catch (err) {
    if (err instanceof Mismatch) return { ok: false, path: err.path, message: err.message };
    return { ok: false, path: '', message: `记录无法解析：${err.message}` };
  }
}

const ALGORITHM = 'rivest-sha256-sampler';
const VERSION = 'suiji-draw/2';
const VERSION_1 = 'suiji-draw/1';
const KEY_CATEGORIES = ['coal_mine', 'non_coal_mine', 'hazardous_chemicals', 'metallurgy_industry_trade'];
const CAP_EXEMPT_FLAGS = ['high_credit_risk', 'frequent_complaints', 'abnormal_operation', 'serious_violation'];

// verifyRecord re-computes a draw record (SPEC §12) and names the first
// field found wrong. Given history — the year's other published attempts,
// all of them; an empty list says there are none — it also checks each
// candidate's draw_ids against them (§6.3, step 10); without it those are
// checked only against random_draws. A suiji-draw/1 record states no
// history.
export function verifyRecord(record, { history = null } = {}) {
  if (record?.algorithm_version === VERSION_1) return verdict(() => checkDrawV1(record));
  return verdict(() => checkDraw(record, history));
}

async function checkSeed(r, drawn, failed) {
  if (drawn) {
    check(/^[0-9a-f]{64}$/.test(r.seed ?? ''), 'seed', '公开的种子不是 64 位十六进制数');
    const h = await H(r.seed);
    check(h === r.seed_commitment, 'seed', `种子的 SHA-256 为 ${h}，与事先公布的承诺 ${r.seed_commitment} 不符`);
  } else if (failed) {
    check(r.seed === '', 'seed', '未成功的抽取不得公开种子');
  }
}

async function checkDraw(r, history) {
  // 1. The algorithm.
  check(r.algorithm === ALGORITHM && r.algorithm_version === VERSION, 'algorithm_version',
    `不支持的算法：${r.algorithm} ${r.algorithm_version}（本验证器实现 ${VERSION}）`);
  // 2. Seed, outcome, entropy.
  const drawn = r.outcome === 'drawn';
  const failed = r.outcome === 'failed';
  await checkSeed(r, drawn, failed);
  check(drawn ? r.failure === '' : !failed || (r.failure ?? '') !== '', 'failure', '失败原因与抽取结果不符');
  check(drawn || failed, 'outcome', `未知的抽取结果：${r.outcome}`);
  check((r.public_entropy !== '') === (r.entropy_source !== ''), 'public_entropy', '公开随机源与其取值不对应');
  // 3. Kind, sample, groups.
  check(['undirected', 'directed', 'coverage'].includes(r.kind), 'kind', `未知的抽查类型：${r.kind}`);
  const ratio = r.sample?.ratio;
  if (ratio !== undefined) check(parseRatio(ratio) !== null, 'sample.ratio', `比例格式不正确：${ratio}`);
  const shares = r.groups.shares;
  const total = shares.reduce((n, s) => n + s.members, 0);
  check(new Set(shares.map((s) => s.department)).size === shares.length && total >= 2 && total <= 40 &&
    shares.every((s) => Number.isInteger(s.members) && s.members >= 0), 'groups', '检查组设置不合规（部门重复或人数不在 2–40 之间）');
  // 4. Candidates and the rules of §6.
  const coverage = r.kind === 'coverage';
  const members = [];
  for (const [i, c] of r.candidates.entries()) {
    const at = `candidates[${i}]`;
    check(i === 0 || byteCompare(r.candidates[i - 1].uscc, c.uscc) < 0, `${at}.uscc`, '候选企业未按统一社会信用代码排序或有重复');
    check(considered(c, r.filter, coverage), at, `${c.uscc} 不符合计划的抽取范围`);
    check(c.draw_ids.every((id, k) => k === 0 || byteCompare(c.draw_ids[k - 1], id) < 0), `${at}.draw_ids`,
      `${c.uscc} 的抽取记录未按字节序排列或有重复`);
    check(c.random_draws === c.draw_ids.length, `${at}.random_draws`, `${c.uscc} 的本年抽取次数与所列抽取记录数不符`);
    check(c.random_draws === 0 || c.covered_this_year, `${at}.covered_this_year`, `${c.uscc} 本年已被抽取，却记为未覆盖`);
    const want = exclusion(c, coverage);
    check(c.excluded === want, `${at}.excluded`, `${c.uscc} 的排除原因应为“${want || '无'}”，记录为“${c.excluded || '无'}”`);
    if (want === '') members.push(c);
  }
  // 5. The pool's hash.
  const poolHash = await H(r.candidates.map(candidateLine).join(''));
  check(poolHash === r.pool_sha256, 'pool_sha256', `候选企业的摘要为 ${poolHash}，与公布的 ${r.pool_sha256} 不符`);
  // 6. The roster.
  const shareDepts = new Set(shares.map((s) => s.department));
  for (const [i, x] of r.roster.entries()) {
    check(i === 0 || byteCompare(r.roster[i - 1].badge_no, x.badge_no) < 0, `roster[${i}].badge_no`, '执法人员未按执法证号排序或有重复');
    check(shareDepts.has(x.department), `roster[${i}].department`, `${x.badge_no} 的部门不参与本次抽取`);
  }
  const rosterHash = await H(r.roster.map(rosterLine).join(''));
  check(rosterHash === r.roster_sha256, 'roster_sha256', `执法人员名录的摘要为 ${rosterHash}，与公布的 ${r.roster_sha256} 不符`);
  // 7. Sizes.
  const n = members.length;
  check(r.pool_size === n, 'pool_size', `抽取池应有 ${n} 家，记录为 ${r.pool_size}`);
  const k = sampleSize(r, n);
  check(k !== null && r.sample_size === k, 'sample_size', k === null ? '无法从此抽取池抽取该数量' : `应抽取 ${k} 家，记录为 ${r.sample_size}`);
  // 8. A failed attempt reveals nothing more — but its candidates state
  // their history like any other's (the Go and Python verifiers check it).
  if (failed) {
    check(r.selections.length === 0 && r.allocation.length === 0, 'selections', '未成功的抽取不得公布抽取结果');
    if (history) checkHistory(r, history);
    return;
  }
  // 9. Re-run the draw.
  const D = await H(`${r.seed}|entropy:${r.public_entropy}`);
  const { selected, allocation } = await selectEnterprises(D, r.kind, members, k);
  const groups = await drawGroups(D, r, selected);
  check(groups !== null, 'selections', '按规则无法组成检查组，记录却称抽取成功');
  check(r.allocation.length === allocation.length, 'allocation', `应分配到 ${allocation.length} 个乡镇，记录为 ${r.allocation.length} 个`);
  for (const [i, a] of allocation.entries()) {
    const got = r.allocation[i];
    check(got.town === a.town && got.pool_size === a.pool_size && got.drawn === a.drawn, `allocation[${i}]`,
      `${a.town} 应有池中 ${a.pool_size} 家、抽取 ${a.drawn} 家；记录为 ${got.town} ${got.pool_size} / ${got.drawn}`);
  }
  check(r.selections.length === selected.length, 'selections', `应抽取 ${selected.length} 家，记录为 ${r.selections.length} 家`);
  for (const [i, e] of selected.entries()) {
    const got = r.selections[i];
    check(got.uscc === e.uscc, `selections[${i}].uscc`, `第 ${i + 1} 家应为 ${e.uscc}，记录为 ${got.uscc}`);
    check(got.town === e.town, `selections[${i}].town`, `第 ${i + 1} 家的乡镇应为 ${e.town}，记录为 ${got.town}`);
    check(sameList(got.group, groups[i]), `selections[${i}].group`, `第 ${i + 1} 家的检查组应为 ${groups[i].join('、')}，记录为 ${got.group.join('、')}`);
  }
  // 10. History, when the year's other records are given (an empty list
  // too: then no candidate may name a draw).
  if (history) checkHistory(r, history);
}

function considered(c, f, coverage) {
  const has = (want, v) => !want.length || want.includes(v);
  const any = (want, vs) => !want.length || vs.some((v) => want.includes(v));
  const inFilter = has(f.towns, c.town) && has(f.industries, c.industry) && any(f.categories, c.categories) && any(f.flags, c.flags);
  const target = c.categories.some((x) => KEY_CATEGORIES.includes(x)) || c.flags.includes('blacklist');
  return inFilter && (!coverage || target);
}

function exclusion(c, coverage) {
  if (c.status !== 'active') return 'not_active';
  if (coverage && c.covered_this_year) return 'already_covered';
  const exempt = c.non_cooperation || c.flags.some((f) => CAP_EXEMPT_FLAGS.includes(f));
  if (!coverage && c.random_draws >= 2 && !exempt) return 'drawn_twice_this_year';
  return '';
}

// parseRatio reads "0.d…d", "1.d…d" (1–6 decimals) or "1" as {p, scale}.
function parseRatio(s) {
  const m = /^([01])(?:\.(\d{1,6}))?$/.exec(typeof s === 'string' ? s : '');
  if (!m) return null;
  const decimals = m[2] ?? '';
  const scale = 10n ** BigInt(decimals.length);
  const p = BigInt(m[1] + decimals);
  return p > 0n && p <= scale ? { p, scale } : null;
}

// sampleSize is k for a pool of n (§5), or null when it cannot be drawn.
function sampleSize(r, n) {
  if (r.kind === 'coverage') return n;
  if (r.sample?.count !== undefined) {
    const c = r.sample.count;
    return Number.isInteger(c) && c >= 1 && c <= n ? c : null;
  }
  const q = parseRatio(r.sample?.ratio);
  if (!q) return null;
  return Number((q.p * BigInt(n) + q.scale - 1n) / q.scale);
}

// --- §7 selecting enterprises ---------------------------------------------

async function selectEnterprises(D, kind, members, k) {
  if (kind === 'coverage') return { selected: [...members], allocation: [] };
  if (kind === 'directed') {
    const picks = k ? await sample(await derive(D, 'enterprises'), members.length, k) : [];
    return { selected: picks.map((i) => members[i - 1]), allocation: [] };
  }
  const towns = [...new Set(members.map((m) => m.town))].sort(byteCompare);
  const N = BigInt(members.length);
  const K = BigInt(k);
  const rows = [];
  for (const town of towns) {
    const inTown = members.filter((m) => m.town === town);
    const share = K * BigInt(inTown.length);
    rows.push({ town, inTown, base: share / N, rem: share % N, tie: await derive(D, `alloc:${town}`) });
  }
  let left = k - rows.reduce((s, x) => s + Number(x.base), 0);
  const byRemainder = [...rows].sort((a, b) => (a.rem !== b.rem ? (a.rem > b.rem ? -1 : 1) : a.tie < b.tie ? -1 : a.tie > b.tie ? 1 : 0));
  for (const x of rows) x.drawn = Number(x.base);
  for (const x of byRemainder) {
    if (left <= 0) break;
    x.drawn++;
    left--;
  }
  const selected = [];
  for (const x of rows) {
    if (!x.drawn) continue;
    const picks = await sample(await derive(D, `town:${x.town}`), x.inTown.length, x.drawn);
    selected.push(...picks.map((i) => x.inTown[i - 1]));
  }
  return { selected, allocation: rows.map((x) => ({ town: x.town, pool_size: x.inTown.length, drawn: x.drawn })) };
}

// --- §8, §9 inspector groups -----------------------------------------------

// SEARCH_BUDGET bounds the look-ahead search (§9.5); like the reference
// implementations, going over it means the verdict cannot be reached here.
const SEARCH_BUDGET = 2_000_000;

// drawGroups returns each selected enterprise's group (badges in record
// order), the assignment whose keys are lexicographically smallest (§9.5),
// or null when no valid assignment exists.
async function drawGroups(D, r, selected) {
  const { shares, required, valid_through: through, keep_last_inspectors: keepLast } = r.groups;
  const certified = r.roster.filter((x) => x.active && x.certificate_expires >= through);
  const m = selected.length;
  const cap = new Map();
  for (const [j, share] of shares.entries()) {
    const inDept = certified.filter((x) => x.department === share.department);
    for (const x of inDept) {
      let c = Math.floor((share.members * m) / inDept.length) + 1;
      for (const q of required) {
        if (!x.qualifications.includes(q)) continue;
        const holders = certified.filter((y) => shareDeptIndex(shares, y.department) >= 0 && y.qualifications.includes(q)).length;
        c = Math.max(c, Math.floor(m / holders) + 1);
      }
      cap.set(x.badge_no, c);
    }
    void j;
  }
  // π(e, j) for every enterprise and share: the eligible in seed order.
  const orders = [];
  for (const e of selected) {
    const perShare = [];
    for (const share of shares) {
      const eligible = certified.filter((x) => x.department === share.department && !x.conflicts.includes(e.uscc) &&
        (keepLast || !x.last_inspected.includes(e.uscc)));
      const order = eligible.length ? await sample(await derive(D, `group:${e.uscc}:${share.department}`), eligible.length, eligible.length) : [];
      perShare.push(order.map((i) => eligible[i - 1]));
    }
    orders.push(perShare);
  }
  const search = new GroupSearch(shares, required, orders, cap, r.selections);
  return search.run();
}

function shareDeptIndex(shares, dept) {
  return shares.findIndex((s) => s.department === dept);
}

// GroupSearch finds the lexicographically smallest assignment (§9.5): for
// each enterprise in turn, its best-ranked valid group under the caps such
// that the remaining enterprises can still all be given groups. The
// published groups serve as a first witness for that look-ahead (they are
// checked, never trusted); otherwise a depth-first search decides.
class GroupSearch {
  constructor(shares, required, orders, cap, published) {
    this.shares = shares;
    this.required = required;
    this.orders = orders; // [enterprise][share] → inspectors in π order
    this.cap = cap;
    this.load = new Map();
    this.budget = SEARCH_BUDGET;
    this.published = published ?? [];
  }

  run() {
    const chosen = [];
    for (let i = 0; i < this.orders.length; i++) {
      let fixed = null;
      for (const g of this.groups(i)) {
        this.take(g, 1);
        if (this.completes(i + 1)) {
          fixed = g;
          break;
        }
        this.take(g, -1);
      }
      if (!fixed) return null;
      chosen.push(fixed);
    }
    return chosen.map((g) => g.map((x) => x.badge_no));
  }

  take(group, delta) {
    for (const x of group) this.load.set(x.badge_no, (this.load.get(x.badge_no) ?? 0) + delta);
  }

  room(x) {
    return (this.load.get(x.badge_no) ?? 0) < this.cap.get(x.badge_no);
  }

  // groups yields enterprise i's valid groups within the caps, by key:
  // share by share, each share's members as ascending positions in π.
  *groups(i) {
    const perShare = this.shares.map((share, j) => ({ size: share.members, list: this.orders[i][j] }));
    const required = this.required;
    const self = this;
    function* combos(j, acc) {
      if (j === perShare.length) {
        if (required.every((q) => acc.some((x) => x.qualifications.includes(q)))) yield [...acc];
        return;
      }
      const { size, list } = perShare[j];
      const picked = [];
      function* choose(start) {
        if (picked.length === size) {
          yield* combos(j + 1, [...acc, ...picked]);
          return;
        }
        for (let p = start; p <= list.length - (size - picked.length); p++) {
          if (!self.room(list[p])) continue;
          picked.push(list[p]);
          yield* choose(p + 1);
          picked.pop();
        }
      }
      yield* choose(0);
    }
    yield* combos(0, []);
  }

  // completes says whether enterprises from..end can all be given valid
  // groups within the caps left.
  completes(from) {
    if (from === this.orders.length) return true;
    if (this.witness(from)) return true;
    return this.dfs(from);
  }

  // witness tries the published groups for the rest as they are.
  witness(from) {
    const taken = [];
    let ok = true;
    for (let i = from; i < this.orders.length && ok; i++) {
      const badges = this.published[i]?.group ?? [];
      const g = this.asGroup(i, badges);
      if (!g || !g.every((x) => this.room(x))) {
        ok = false;
        break;
      }
      this.take(g, 1);
      taken.push(g);
    }
    for (const g of taken) this.take(g, -1);
    return ok;
  }

  // asGroup maps published badges onto a valid group of enterprise i, or null.
  asGroup(i, badges) {
    const out = [];
    let at = 0;
    for (const [j, share] of this.shares.entries()) {
      const part = badges.slice(at, at + share.members);
      at += share.members;
      const list = this.orders[i][j];
      const members = part.map((b) => list.find((x) => x.badge_no === b));
      if (members.some((x) => !x) || new Set(part).size !== part.length) return null;
      out.push(...members);
    }
    if (at !== badges.length) return null;
    return this.required.every((q) => out.some((x) => x.qualifications.includes(q))) ? out : null;
  }

  dfs(i) {
    if (i === this.orders.length) return true;
    if (--this.budget < 0) throw new Error('检查组的前瞻搜索超出预算，无法在浏览器中得出结论');
    if (!this.bounds(i)) return false;
    for (const g of this.groups(i)) {
      this.take(g, 1);
      const ok = this.dfs(i + 1);
      this.take(g, -1);
      if (ok) return true;
    }
    return false;
  }

  // bounds are counting conditions every completion from i must meet: each
  // share's department has room for its members in every group left, and
  // each required qualification's holders for one member per group.
  bounds(i) {
    const left = this.orders.length - i;
    const room = (x) => Math.min(this.cap.get(x.badge_no) - (this.load.get(x.badge_no) ?? 0), left);
    const everyone = new Map();
    for (let e = i; e < this.orders.length; e++) for (const list of this.orders[e]) for (const x of list) everyone.set(x.badge_no, x);
    for (const share of this.shares) {
      let total = 0;
      for (const x of everyone.values()) if (x.department === share.department) total += room(x);
      if (total < share.members * left) return false;
    }
    for (const q of this.required) {
      let total = 0;
      for (const x of everyone.values()) if (x.qualifications.includes(q)) total += room(x);
      if (total < left) return false;
    }
    return true;
  }
}

function sameList(a, b) {
  return Array.isArray(a) && a.length === b.length && a.every((v, i) => v === b[i]);
}

// --- §6.3 history ----------------------------------------------------------

// instant reads an RFC 3339 time as nanoseconds since 1970-01-01T00:00:00Z
// (a BigInt), or null when s is none. Records carry up to nine decimals
// with trailing zeros trimmed (Go's RFC3339Nano), so times are compared as
// instants: as strings ".12Z" sorts before ".1Z", and Date.parse keeps
// milliseconds only. Like Go's time.Parse, it takes more decimals than nine
// and ignores them.
export function instant(s) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:Z|([+-])(\d{2}):(\d{2}))$/
    .exec(typeof s === 'string' ? s : '');
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const monthDays = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  if (!monthDays || day < 1 || day > monthDays || hour > 23 || minute > 59 || second > 59) return null;
  let offset = 0; // seconds east of UTC
  if (m[8]) {
    const [oh, om] = [Number(m[9]), Number(m[10])];
    if (oh > 23 || om > 59) return null;
    offset = (m[8] === '-' ? -1 : 1) * (oh * 3600 + om * 60);
  }
  const seconds = BigInt(daysFromCivil(year, month, day)) * 86400n + BigInt(hour * 3600 + minute * 60 + second - offset);
  return seconds * 1_000_000_000n + BigInt((m[7] ?? '').slice(0, 9).padEnd(9, '0'));
}

// daysFromCivil counts the days from 1970-01-01 to a date of the proleptic
// Gregorian calendar (H. Hinnant's days_from_civil), in integers.
function daysFromCivil(year, month, day) {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function checkHistory(r, history) {
  const at = instant(r.committed_at);
  check(at !== null, 'committed_at', `承诺时间 ${r.committed_at} 不是 RFC 3339 时间`);
  // The attempts in force at the commitment: per plan, the drawn attempt
  // with the highest seq among those drawn before it. A suiji-draw/1
  // record counts from its publication (its year and created_at are
  // published beside it).
  const inForce = new Map();
  for (const h of history) {
    const v1 = h.algorithm_version === VERSION_1;
    const time = v1 ? h.created_at : h.drawn_at;
    const when = instant(time);
    if (when === null || (v1 && !h.year)) throw new Error(`抽取记录 ${h.id} 未载明年度和 RFC 3339 格式的时间（${time}）`);
    if (h.plan_id === r.plan_id || h.year !== r.year || (!v1 && h.outcome !== 'drawn')) continue;
    if (!(when < at)) continue;
    const best = inForce.get(h.plan_id);
    if (!best || h.seq > best.seq) inForce.set(h.plan_id, h);
  }
  for (const [i, c] of r.candidates.entries()) {
    const want = [...inForce.values()].filter((h) => h.selections.some((s) => s.uscc === c.uscc)).map((h) => h.id).sort(byteCompare);
    const got = [...c.draw_ids].sort(byteCompare);
    check(sameList(got, want), `candidates[${i}].draw_ids`, `${c.uscc} 在本年其他计划中的抽取记录应为 [${want.join('、')}]，记录为 [${got.join('、')}]`);
  }
}

// --- §11 replacements -------------------------------------------------------

// verifyReplacement re-computes one replacement record (§11, §12).
export function verifyReplacement(record) {
  return verdict(() => checkReplacement(record));
}

async function checkReplacement(r) {
  check(r.algorithm === ALGORITHM && r.algorithm_version === VERSION && r.type === 'replacement', 'algorithm_version',
    `不支持的记录：${r.algorithm} ${r.algorithm_version} ${r.type}`);
  await checkSeed(r, true, false);
  check((r.public_entropy !== '') === (r.entropy_source !== ''), 'public_entropy', '公开随机源与其取值不对应');
  for (const [i, x] of r.roster.entries()) {
    check(i === 0 || byteCompare(r.roster[i - 1].badge_no, x.badge_no) < 0, `roster[${i}].badge_no`, '执法人员未按执法证号排序或有重复');
  }
  const rosterHash = await H(r.roster.map(rosterLine).join(''));
  check(rosterHash === r.roster_sha256, 'roster_sha256', `执法人员名录的摘要为 ${rosterHash}，与公布的 ${r.roster_sha256} 不符`);
  const out = r.roster.find((x) => x.badge_no === r.out);
  check(out && r.group_before.includes(r.out), 'out', `${r.out} 不在原检查组或名录中`);
  const before = r.group_before;
  const holds = (group) => r.required.every((q) => group.some((b) => r.roster.find((x) => x.badge_no === b)?.qualifications.includes(q)));
  const eligible = r.roster.filter((x) => x.department === out.department && x.active && x.certificate_expires >= r.valid_through &&
    !before.includes(x.badge_no) && !x.conflicts.includes(r.uscc) && (r.keep_last_inspectors || !x.last_inspected.includes(r.uscc)) &&
    holds(before.map((b) => (b === r.out ? x.badge_no : b))));
  check(r.eligible === eligible.length, 'eligible', `符合条件的替换人员应有 ${eligible.length} 名，记录为 ${r.eligible}`);
  check(eligible.length > 0, 'in', '没有可替换的人员');
  const D = await H(`${r.seed}|entropy:${r.public_entropy}`);
  const chosen = eligible[(await pick(await derive(D, `replace:${r.uscc}:${r.out}`), 1, eligible.length)) - 1];
  check(r.in === chosen.badge_no, 'in', `替换进入的应为 ${chosen.badge_no}，记录为 ${r.in}`);
  const after = before.map((b) => (b === r.out ? chosen.badge_no : b));
  check(sameList(r.group_after, after), 'group_after', `替换后的检查组应为 ${after.join('、')}，记录为 ${r.group_after.join('、')}`);
}

// verifyReplacements checks a draw's replacements in order (§12): each on
// its own, then that it belongs to the draw and starts from the group in
// force.
export function verifyReplacements(draw, list) {
  return verdict(async () => {
    const inForce = new Map(draw.selections.map((s) => [s.uscc, s.group]));
    for (const [i, r] of list.entries()) {
      const at = `replacements[${i}]`;
      const v = await verifyReplacement(r);
      if (!v.ok) fail(`${at}.${v.path}`, v.message);
      check(r.draw_id === draw.id, `${at}.draw_id`, '替换记录不属于此次抽取');
      check(r.seq === i + 1, `${at}.seq`, `替换序号应为 ${i + 1}`);
      check(inForce.has(r.uscc), `${at}.uscc`, `${r.uscc} 不在抽取结果中`);
      check(sameList(r.group_before, inForce.get(r.uscc)), `${at}.group_before`, '替换前的检查组与当时有效的检查组不符');
      check(sameList(r.required, draw.groups.required) && r.valid_through === draw.groups.valid_through &&
        r.keep_last_inspectors === draw.groups.keep_last_inspectors, `${at}.required`, '替换所用规则与抽取时不同');
      inForce.set(r.uscc, r.group_after);
    }
  });
}

// --- Appendix B: suiji-draw/1 ----------------------------------------------
//
// Records of version 1 are verified by the rules they were drawn by, as the
// version-1 package documented them: the draw seed is the sealed seed, or
// derive(S, "entropy:" + E) with public entropy, derived once more for
// "redraw:<seq>" from the second draw on; a binary-float ratio rounded up
// (less 1e-9); pool and roster hashes over comma-joined lines with ";"-joined
// sorted lists; allocation ties by SHA-256(seed + "|alloc|" + town); last
// inspectors carried on the pool; and the greedy group step.

async function checkDrawV1(r) {
  check(r.algorithm === ALGORITHM, 'algorithm_version', `不支持的算法：${r.algorithm}`);
  const h = await H(r.seed ?? '');
  check(h === r.seed_commitment, 'seed_commitment', `种子的 SHA-256 为 ${h}，与事先公布的承诺 ${r.seed_commitment} 不符`);
  const joined = (list) => [...(list ?? [])].sort(byteCompare).join(';');
  const pool = r.pool;
  for (let i = 1; i < pool.length; i++) {
    check(byteCompare(pool[i - 1].uscc, pool[i].uscc) < 0, `pool[${i}]`, '抽取池未按统一社会信用代码排序');
  }
  const poolHash = await H(pool.map((p) => `${p.uscc},${p.town},${p.industry},${joined(p.categories)},${joined(p.flags)}\n`).join(''));
  check(poolHash === r.pool_sha256, 'pool_sha256', `抽取池的摘要为 ${poolHash}，与公布的 ${r.pool_sha256} 不符`);
  const roster = [...r.roster].sort((a, b) => byteCompare(a.badge_no, b.badge_no));
  const rosterHash = await H(roster.map((o) => `${o.badge_no},${o.department},${joined(o.qualifications)},${o.active},${o.certificate_expires},${joined(o.conflicts)}\n`).join(''));
  check(rosterHash === r.roster_sha256, 'roster_sha256', `执法人员名录的摘要为 ${rosterHash}，与公布的 ${r.roster_sha256} 不符`);

  let D = r.public_entropy ? await derive(r.seed, `entropy:${r.public_entropy}`) : r.seed;
  if ((r.seq ?? 1) > 1) D = await derive(D, `redraw:${r.seq}`);
  const sizeOf = (n) => (r.ratio ? Math.ceil(r.ratio * n - 1e-9) : (r.count ?? 0));
  let selected = [];
  const allocation = [];
  if (r.kind === 'coverage') {
    selected = [...pool];
  } else if (r.kind === 'directed') {
    const k = sizeOf(pool.length);
    selected = k ? (await sample(await derive(D, 'enterprises'), pool.length, k)).map((i) => pool[i - 1]) : [];
  } else {
    const k = sizeOf(pool.length);
    const towns = [...new Set(pool.map((p) => p.town))].sort(byteCompare);
    const total = BigInt(pool.length);
    const rows = [];
    for (const [i, town] of towns.entries()) {
      const inTown = pool.filter((p) => p.town === town);
      const share = BigInt(k) * BigInt(inTown.length);
      rows.push({ i, town, inTown, drawn: Number(share / total), rem: share % total, tie: await H(`${D}|alloc|${town}`) });
    }
    let left = k - rows.reduce((n, x) => n + x.drawn, 0);
    for (const x of [...rows].sort((a, b) => (a.rem !== b.rem ? (a.rem > b.rem ? -1 : 1) : a.tie < b.tie ? -1 : a.tie > b.tie ? 1 : a.i - b.i))) {
      if (left-- <= 0) break;
      x.drawn++;
    }
    for (const x of rows) {
      allocation.push({ town: x.town, pool_size: x.inTown.length, drawn: x.drawn });
      if (x.drawn) selected.push(...(await sample(await derive(D, `town:${x.town}`), x.inTown.length, x.drawn)).map((i) => x.inTown[i - 1]));
    }
  }
  const groups = await groupsV1(D, selected, r);
  check(groups !== null, 'selections', '按第 1 版规则无法组成检查组');
  check(allocation.length === r.allocation.length, 'allocation', `应分配到 ${allocation.length} 个乡镇，记录为 ${r.allocation.length} 个`);
  for (const [i, a] of allocation.entries()) {
    const got = r.allocation[i];
    check(got.town === a.town && got.pool_size === a.pool_size && got.drawn === a.drawn, `allocation[${i}]`,
      `${a.town} 应有池中 ${a.pool_size} 家、抽取 ${a.drawn} 家`);
  }
  check(selected.length === r.selections.length, 'selections', `应抽取 ${selected.length} 家，记录为 ${r.selections.length} 家`);
  for (const [i, e] of selected.entries()) {
    const got = r.selections[i];
    check(got.uscc === e.uscc, `selections[${i}].uscc`, `第 ${i + 1} 家应为 ${e.uscc}，记录为 ${got.uscc}`);
    check(got.town === e.town, `selections[${i}].town`, `第 ${i + 1} 家的乡镇应为 ${e.town}，记录为 ${got.town}`);
    check(sameList(got.group, groups[i]), `selections[${i}].group`, `第 ${i + 1} 家的检查组应为 ${groups[i].join('、')}，记录为 ${got.group.join('、')}`);
  }
}

// groupsV1 is version 1's greedy group step: for each enterprise, the
// eligible officers of each share's department (certified, no conflict,
// not its last inspectors unless kept, under their load cap) in seed order;
// each required qualification not yet covered — scarcest first — is given
// the first holder over the shares in order; then each share is filled
// from its order, non-specialists first. null when a group cannot be made.
async function groupsV1(D, enterprises, r) {
  const spec = r.groups;
  const shares = spec.shares;
  const roster = [...r.roster].sort((a, b) => byteCompare(a.badge_no, b.badge_no));
  const certified = new Map();
  for (const o of roster) {
    if (o.active && o.certificate_expires >= spec.valid_through) {
      if (!certified.has(o.department)) certified.set(o.department, []);
      certified.get(o.department).push(o);
    }
  }
  const inShares = shares.flatMap((s) => certified.get(s.department) ?? []);
  const holders = new Map();
  for (const q of spec.required ?? []) holders.set(q, inShares.filter((o) => (o.qualifications ?? []).includes(q)).length);
  const required = [...new Set(spec.required ?? [])].sort((a, b) => holders.get(a) - holders.get(b) || byteCompare(a, b));
  const m = enterprises.length;
  const cap = new Map();
  const specialist = new Set();
  for (const s of shares) {
    const list = certified.get(s.department) ?? [];
    for (const o of list) {
      let c = Math.floor((s.members * m) / list.length) + 1;
      for (const q of required) {
        if (!(o.qualifications ?? []).includes(q)) continue;
        c = Math.max(c, Math.floor(m / holders.get(q)) + 1);
        if (holders.get(q) < inShares.length) specialist.add(o.badge_no);
      }
      cap.set(o.badge_no, c);
    }
  }
  const load = new Map();
  const groups = [];
  for (const e of enterprises) {
    const orders = [];
    for (const s of shares) {
      const eligible = (certified.get(s.department) ?? []).filter((o) => !(o.conflicts ?? []).includes(e.uscc) &&
        (spec.keep_last_inspectors || !(e.last_inspectors ?? []).includes(o.badge_no)) && (load.get(o.badge_no) ?? 0) < cap.get(o.badge_no));
      if (eligible.length < s.members) return null;
      const perm = await sample(await derive(D, `group:${e.uscc}:${s.department}`), eligible.length, eligible.length);
      orders.push(perm.map((i) => eligible[i - 1]));
    }
    const members = [];
    const count = shares.map(() => 0);
    const has = (o, q) => (o.qualifications ?? []).includes(q);
    for (const q of required) {
      if (orders.some((order) => order.some((o) => members.includes(o.badge_no) && has(o, q)))) continue;
      let done = false;
      for (const [i, order] of orders.entries()) {
        if (count[i] >= shares[i].members) continue;
        const o = order.find((x) => !members.includes(x.badge_no) && has(x, q));
        if (o) {
          members.push(o.badge_no);
          count[i]++;
          done = true;
          break;
        }
      }
      if (!done) return null;
    }
    for (const [i, order] of orders.entries()) {
      for (const specialistsToo of [false, true]) {
        for (const o of order) {
          if (count[i] >= shares[i].members) break;
          if (!members.includes(o.badge_no) && (specialistsToo || !specialist.has(o.badge_no))) {
            members.push(o.badge_no);
            count[i]++;
          }
        }
      }
    }
    for (const b of members) load.set(b, (load.get(b) ?? 0) + 1);
    groups.push(members);
  }
  return groups;
}
