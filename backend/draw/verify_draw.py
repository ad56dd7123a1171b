#!/usr/bin/env python3
"""Standalone verifier for suiji's public draw records (suiji-draw/1 and /2).

A citizen need not trust suiji's own binary: this file re-computes a
published draw, or a replacement after dispatch, with nothing but Python 3's
standard library, from the specification SPEC.md (served by every suiji at
/public/v1/draw-spec).

    python3 verify_draw.py record.json
    python3 verify_draw.py https://example.gov.cn/public/v1/draws/ID
    python3 verify_draw.py --history a.json --history b.json record.json
    python3 verify_draw.py --manifest testdata/vectors/manifest.json

It prints "OK ..." and exits 0 when every part checks out, or
"MISMATCH: <path>: <what>" naming the first field found wrong (SPEC.md §12)
and exits 1. Records are read as a stream (gzip from the server is
decompressed as it arrives): large lists are decoded entry by entry.
"""
import codecs
import gzip
import hashlib
import json
import os
import sys
import urllib.request

ALGORITHM = "rivest-sha256-sampler"
V1, V2 = "suiji-draw/1", "suiji-draw/2"


class Mismatch(Exception):
    """The first field of a record found wrong, and what was expected."""

    def __init__(self, path, message):
        super().__init__("%s: %s" % (path, message))
        self.path = path


# ---------------------------------------------------------------- reading

class Stream:
    """A JSON object read from a byte stream: small values whole, the large
    lists one entry at a time (json.JSONDecoder.raw_decode on a buffer)."""

    def __init__(self, raw):
        self.raw = raw
        self.text = codecs.getincrementaldecoder("utf-8")()
        self.buf, self.pos, self.eof = "", 0, False
        self.decoder = json.JSONDecoder()

    def fill(self):
        chunk = self.raw.read(1 << 16)
        if not chunk:
            self.eof = True
            self.buf += self.text.decode(b"", final=True)
            return
        if self.pos > 1 << 20:
            self.buf, self.pos = self.buf[self.pos:], 0
        self.buf += self.text.decode(chunk)

    def peek(self):
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in " \t\r\n":
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if self.eof:
                raise ValueError("the record ends too early")
            self.fill()

    def expect(self, ch):
        if self.peek() != ch:
            raise ValueError("expected %r at character %d" % (ch, self.pos))
        self.pos += 1

    def value(self):
        self.peek()
        while True:
            try:
                v, end = self.decoder.raw_decode(self.buf, self.pos)
                # A value ending where the buffer ends may go on (a number).
                if end < len(self.buf) or self.eof:
                    self.pos = end
                    return v
            except ValueError:
                if self.eof:
                    raise
            self.fill()

    def items(self):
        self.expect("[")
        if self.peek() == "]":
            self.pos += 1
            return
        while True:
            yield self.value()
            if self.peek() == ",":
                self.pos += 1
                continue
            self.expect("]")
            return


LISTS = {V2: ("candidates", "roster", "selections"), V1: ("pool", "roster", "selections")}


def read_record(raw):
    s = Stream(raw)
    s.expect("{")
    rec = {}
    if s.peek() == "}":
        return rec
    while True:
        key = s.value()
        s.expect(":")
        if key in LISTS.get(rec.get("algorithm_version"), ()):
            rec[key] = list(s.items())
        else:
            rec[key] = s.value()
        if s.peek() == ",":
            s.pos += 1
            continue
        s.expect("}")
        return rec


def open_record(src):
    if src.startswith(("http://", "https://")):
        req = urllib.request.Request(src, headers={"Accept": "application/json", "Accept-Encoding": "gzip"})
        resp = urllib.request.urlopen(req)
        if resp.headers.get("Content-Encoding") == "gzip":
            return gzip.GzipFile(fileobj=resp)
        return resp
    if src.endswith(".gz"):
        return gzip.open(src, "rb")
    return open(src, "rb")


def load(src):
    with open_record(src) as raw:
        return read_record(raw)


# ---------------------------------------------------------------- the sampler and seeds (§3)

def h(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def pick(seed, i, n):
    """Rivest's sampler: 1 + SHA-256(seed + "," + i) mod n."""
    return 1 + int(h(seed + "," + str(i)), 16) % n


def sample(seed, n, k):
    """k distinct picks from 1..n: repeats are skipped and i goes on."""
    picks, seen, i = [], set(), 1
    while len(picks) < k:
        p = pick(seed, i, n)
        i += 1
        if p not in seen:
            seen.add(p)
            picks.append(p)
    return picks


def derive(seed, label):
    return h(seed + "|" + label)


def draw_seed(sealed, entropy):
    return h(sealed + "|entropy:" + entropy)


class Order:
    """The random order of n items, Sample(seed, n, n), made as it is read."""

    def __init__(self, seed, n):
        self.seed, self.n, self.picks, self.seen, self.i = seed, n, [], set(), 1

    def at(self, k):
        while len(self.picks) <= k:
            p = pick(self.seed, self.i, self.n) - 1
            self.i += 1
            if p not in self.seen:
                self.seen.add(p)
                self.picks.append(p)
        return self.picks[k]


# ---------------------------------------------------------------- canonical text (§4)

def enc(s):
    return "%d:%s" % (len(s.encode("utf-8")), s)


def enc_list(values):
    # Python orders str by code point, which is UTF-8 byte order.
    return "%d:%s" % (len(values), "".join(enc(v) for v in sorted(values)))


def b(flag):
    return "true" if flag else "false"


def pool_hash(candidates):
    hasher = hashlib.sha256()
    for c in candidates:
        line = ",".join([enc(c["uscc"]), enc(c["town"]), enc(c["industry"]), enc(c["status"]),
                         enc_list(c["categories"]), enc_list(c["flags"]), b(c["non_cooperation"]),
                         str(c["random_draws"]), enc_list(c["draw_ids"]), b(c["covered_this_year"]),
                         enc(c["excluded"])]) + "\n"
        hasher.update(line.encode("utf-8"))
    return hasher.hexdigest()


def roster_hash(roster):
    hasher = hashlib.sha256()
    for o in roster:
        line = ",".join([enc(o["badge_no"]), enc(o["department"]), enc_list(o["qualifications"]),
                         b(o["active"]), enc(o["certificate_expires"]), enc_list(o["conflicts"]),
                         enc_list(o["last_inspected"])]) + "\n"
        hasher.update(line.encode("utf-8"))
    return hasher.hexdigest()


# ---------------------------------------------------------------- pool rules (§6)

KEY = ("coal_mine", "non_coal_mine", "hazardous_chemicals", "metallurgy_industry_trade")
EXEMPT = ("high_credit_risk", "frequent_complaints", "abnormal_operation", "serious_violation")


def considers(flt, kind, c):
    def any_of(want, have):
        return not want or have in want

    def overlaps(want, have):
        return not want or any(x in want for x in have)

    target = "blacklist" in c["flags"] or any(x in KEY for x in c["categories"])
    return (any_of(flt.get("towns") or [], c["town"]) and any_of(flt.get("industries") or [], c["industry"])
            and overlaps(flt.get("categories") or [], c["categories"]) and overlaps(flt.get("flags") or [], c["flags"])
            and (kind != "coverage" or target))


def exclusion(kind, c):
    if c["status"] != "active":
        return "not_active"
    if kind == "coverage" and c["covered_this_year"]:
        return "already_covered"
    exempt = c["non_cooperation"] or any(f in EXEMPT for f in c["flags"])
    if kind != "coverage" and c["random_draws"] >= 2 and not exempt:
        return "drawn_twice_this_year"
    return ""


# ---------------------------------------------------------------- sample size and selection (§5, §7)

def sample_size(kind, size, n):
    ratio, count = size.get("ratio") or "", size.get("count") or 0
    if kind == "coverage":
        if ratio or count:
            raise ValueError("a coverage plan takes the whole pool")
        return n
    if kind not in ("directed", "undirected"):
        raise ValueError("unknown kind %r" % kind)
    if ratio and count:
        raise ValueError("a ratio or a count, not both")
    if ratio:
        whole, _, frac = ratio.partition(".")
        if whole not in ("0", "1") or ("." in ratio and not (1 <= len(frac) <= 6 and frac.isdigit() and frac.isascii())):
            raise ValueError("the ratio %r is not a decimal like 0.1" % ratio)
        p, scale = int(whole + frac), 10 ** len(frac)
        if p == 0 or p > scale:
            raise ValueError("the ratio %s must be above 0 and at most 1" % ratio)
        return (p * n + scale - 1) // scale
    if count < 1 or count > n:
        raise ValueError("cannot draw %d enterprises from a pool of %d" % (count, n))
    return count


def allocate(seed, strata, k):
    total = sum(size for _, size in strata)
    alloc, order = [], []
    for i, (name, size) in enumerate(strata):
        alloc.append(k * size // total)
        order.append((-(k * size % total), derive(seed, "alloc:" + name), i))
    order.sort()
    for _, _, i in order[: k - sum(alloc)]:
        alloc[i] += 1
    return alloc


def select(seed, kind, members, k):
    """Indices into members, in draw order, and the allocation."""
    if kind == "coverage":
        return list(range(len(members))), []
    if kind == "directed":
        return ([p - 1 for p in sample(derive(seed, "enterprises"), len(members), k)] if k else []), []
    by_town = {}
    for i, c in enumerate(members):
        by_town.setdefault(c["town"], []).append(i)
    towns = sorted(by_town)
    shares = allocate(seed, [(t, len(by_town[t])) for t in towns], k) if members else []
    picked, allocation = [], []
    for t, n in zip(towns, shares):
        allocation.append({"town": t, "pool_size": len(by_town[t]), "drawn": n})
        if n:
            picked += [by_town[t][p - 1] for p in sample(derive(seed, "town:" + t), len(by_town[t]), n)]
    return picked, allocation


# ---------------------------------------------------------------- the group step (§9)

class GroupFailure(Exception):
    pass


class Problem:
    """Certified officers numbered in badge order, qualifications as bit
    masks over the required ones, load caps (§9.1–9.3)."""

    def __init__(self, roster, spec, m):
        self.shares = spec["shares"]
        self.required = sorted(set(spec.get("required") or []))
        depts = [s["department"] for s in self.shares]
        total = sum(s["members"] for s in self.shares)
        if len(set(depts)) != len(depts) or any(s["members"] < 0 for s in self.shares) or not 2 <= total <= 40:
            raise ValueError("the shares must name distinct departments and give 2 to 40 members")
        self.full = (1 << len(self.required)) - 1
        self.off = sorted((o for o in roster if o["department"] in depts and o["active"]
                           and o["certificate_expires"] >= spec["valid_through"]), key=lambda o: o["badge_no"])
        self.share = [depts.index(o["department"]) for o in self.off]
        self.quals = [sum(1 << i for i, q in enumerate(self.required) if q in o["qualifications"]) for o in self.off]
        self.trivial = all(q == self.full for q in self.quals)
        self.by_share = [[x for x in range(len(self.off)) if self.share[x] == j] for j in range(len(depts))]
        self.excluded = {}
        for x, o in enumerate(self.off):
            usccs = set(o["conflicts"]) | (set() if spec.get("keep_last_inspectors") else set(o["last_inspected"]))
            for u in usccs:
                self.excluded.setdefault(u, set()).add(x)
        holders = [sum(1 for q in self.quals if q >> i & 1) for i in range(len(self.required))]
        self.caps = []
        for x in range(len(self.off)):
            j = self.share[x]
            c = self.shares[j]["members"] * m // len(self.by_share[j]) + 1
            for i in range(len(self.required)):
                if self.quals[x] >> i & 1:
                    c = max(c, m // holders[i] + 1)
            self.caps.append(c)

    def covers(self, g, out=-1, into=-1):
        q = 0
        for x in g:
            if x != out:
                q |= self.quals[x]
        if out >= 0:
            q |= self.quals[into]
        return q == self.full

    def slot(self, uscc, seed):
        ex = self.excluded.get(uscc, set())
        elig = [[x for x in lst if x not in ex] for lst in self.by_share]
        union = [0] * (len(elig) + 1)
        for j in range(len(elig) - 1, -1, -1):
            union[j] = union[j + 1]
            for x in elig[j]:
                union[j] |= self.quals[x]
        orders = None
        if seed is not None:
            orders = [Order(derive(seed, "group:%s:%s" % (uscc, s["department"])), len(elig[j]))
                      for j, s in enumerate(self.shares)]
        return {"elig": elig, "all": [x for lst in elig for x in lst], "union": union, "orders": orders}

    def candidates(self, s, ok):
        """Valid groups of slot s within ok, in rank order (§9.4)."""
        shares, g = self.shares, []

        def at(j, pos):
            return s["elig"][j][s["orders"][j].at(pos)] if s["orders"] else s["elig"][j][pos]

        def rec(j, need, start, have):
            while j < len(shares) and need == 0:
                j += 1
                if j < len(shares):
                    need, start = shares[j]["members"], 0
            if j == len(shares):
                if have == self.full:
                    yield list(g)
                return
            if have | s["union"][j] != self.full:
                return
            n = len(s["elig"][j])
            for pos in range(start, n - need + 1):
                x = at(j, pos)
                if not ok(x):
                    continue
                g.append(x)
                yield from rec(j, need - 1, pos + 1, have | self.quals[x])
                g.pop()

        if shares:
            yield from rec(0, shares[0]["members"], 0, 0)

    def first(self, s, ok):
        return next(self.candidates(s, ok), None)

    # -- feasibility: a witness repaired along alternating paths (§9.5)

    def counted(self, n, load):
        for j, sh in enumerate(self.shares):
            if sum(max(self.caps[x] - load[x], 0) for x in self.by_share[j]) < sh["members"] * n:
                return False
        for i in range(len(self.required)):
            if all(q >> i & 1 for q in self.quals):
                continue
            left = sum(min(max(self.caps[x] - load[x], 0), n) for x in range(len(self.off)) if self.quals[x] >> i & 1)
            if left < n:
                return False
        return True

    def residual(self, load):
        return [max(c - l, 0) for c, l in zip(self.caps, load)]

    def shortage(self, slots, caps):
        for j, sh in enumerate(self.shares):
            if sh["members"] and not bmatch(len(self.off), caps, [s["elig"][j] for s in slots], [sh["members"]] * len(slots)):
                return ("department_short", sh["department"])
        for i, q in enumerate(self.required):
            if all(m >> i & 1 for m in self.quals):
                continue
            opts = [[x for x in s["all"] if self.quals[x] >> i & 1] for s in slots]
            if not bmatch(len(self.off), caps, opts, [1] * len(slots)):
                return ("qualification_short", q)
        return None

    def relaxed(self, slots, load):
        res = self.residual(load)
        if any(self.first(s, lambda x: res[x] > 0) is None for s in slots):
            return False
        return self.shortage(slots, res) is None

    def repair_from(self, slots, load):
        res = self.residual(load)
        a = Assignment(len(self.off), self.share, res, [s["all"] for s in slots], self.covers)
        for k, s in enumerate(slots):
            g = self.first(s, lambda x: res[x] > 0)
            if g is None:
                return None
            a.place(k, [], g)
        return a.groups if a.repair_all() else None

    def search(self, slots, load):
        """Exact: depth-first over each slot's candidates, a repaired
        witness and the relaxations as shortcuts that never change the
        answer."""
        out = [None] * len(slots)

        def dfs(k):
            if k == len(slots):
                return True
            if not self.counted(len(slots) - k, load):
                return False
            rest = self.repair_from(slots[k:], load)
            if rest is not None:
                out[k:] = rest
                return True
            if not self.relaxed(slots[k:], load):
                return False
            for g in self.candidates(slots[k], lambda x: load[x] < self.caps[x]):
                for x in g:
                    load[x] += 1
                if dfs(k + 1):
                    out[k] = g
                    return True
                for x in g:
                    load[x] -= 1
            return False

        return out if dfs(0) else None

    def witness(self, slots):
        a = Assignment(len(self.off), self.share, self.caps, [s["all"] for s in slots],
                       None if self.trivial else self.covers)
        short = 0
        for k, s in enumerate(slots):
            g = self.first(s, lambda x: True)
            if g is None:
                short += 1
            else:
                a.place(k, [], g)
        if short:
            raise GroupFailure("eligibility")
        if a.repair_all():
            a.journal = []
            return a
        if not self.trivial:
            groups = self.search(slots, [0] * len(self.off))
            if groups is not None:
                a = Assignment(len(self.off), self.share, self.caps, [s["all"] for s in slots], self.covers)
                for k, g in enumerate(groups):
                    a.place(k, [], g)
                return a
        short = self.shortage(slots, self.caps)
        raise GroupFailure("%s:%s" % short if short else "no_assignment")

    def extend(self, w, slots, i, g, fixed):
        if w.groups[i] == g:
            return True
        load = list(fixed)
        for x in g:
            load[x] += 1
        if not self.counted(len(slots) - i - 1, load):
            return False
        start = len(w.journal)
        w.min_k = i + 1
        w.set(i, g)
        if w.repair_all():
            w.journal = []
            return True
        w.rollback(start)
        if w.valid is None:
            return False  # augmenting paths are complete without coverage
        rest = self.search(slots[i + 1:], load)
        if rest is None:
            return False
        w.set(i, g)
        for k, grp in enumerate(rest):
            w.set(i + 1 + k, grp)
        w.journal = []
        return True

    def assign(self, slots):
        """Each enterprise its best-ranked group that leaves the rest
        completable."""
        w = self.witness(slots)
        fixed = [0] * len(self.off)
        for i, s in enumerate(slots):
            for g in self.candidates(s, lambda x: fixed[x] < self.caps[x]):
                if self.extend(w, slots, i, g, fixed):
                    break
            else:
                raise AssertionError("the group step lost its completion")
            for x in g:
                fixed[x] += 1
            w.min_k = i + 1
            w.unindex(i)
        return [w.groups[i] for i in range(len(slots))]


class Assignment:
    """Demands filled by distinct officers within caps, repaired along
    alternating paths (an augmenting path of a max-flow)."""

    def __init__(self, n, cls, caps, opts, valid):
        self.opts, self.cls, self.caps, self.valid = opts, cls, caps, valid
        self.groups = [[] for _ in opts]
        self.load = [0] * n
        self.of = [[] for _ in range(n)]
        self.min_k, self.journal = 0, []

    def place(self, k, prev, g):
        for x in prev:
            self.load[x] -= 1
            if k in self.of[x]:
                self.of[x].remove(k)
        for x in g:
            self.load[x] += 1
            self.of[x].append(k)
        self.groups[k] = g

    def set(self, k, g):
        self.journal.append((k, self.groups[k]))
        self.place(k, self.groups[k], g)

    def rollback(self, to):
        while len(self.journal) > to:
            k, prev = self.journal.pop()
            self.place(k, self.groups[k], prev)

    def unindex(self, k):
        for x in self.groups[k]:
            if k in self.of[x]:
                self.of[x].remove(k)

    def repair_all(self):
        for x in range(len(self.load)):
            while self.load[x] > self.caps[x]:
                if not self.repair(x):
                    return False
        return True

    def repair(self, o):
        parent, seen, queue = {}, {o}, [o]
        for u in queue:
            for k in list(self.of[u]):
                if k < self.min_k:
                    continue
                g = self.groups[k]
                for x in self.opts[k]:
                    if x in seen or self.cls[x] != self.cls[u] or x in g:
                        continue
                    if self.valid is not None and not self.valid(g, u, x):
                        continue
                    parent[x] = (k, u)
                    if self.load[x] < self.caps[x]:
                        return self.apply(o, x, parent)
                    seen.add(x)
                    queue.append(x)
        return False

    def apply(self, o, x, parent):
        start, touched, cur = len(self.journal), [], x
        while cur != o:
            k, out = parent[cur]
            g = self.groups[k]
            if out not in g or cur in g:
                self.rollback(start)
                return False
            self.set(k, [cur if y == out else y for y in g])
            touched.append(k)
            cur = out
        if self.valid is not None and not all(self.valid(self.groups[k]) for k in touched):
            self.rollback(start)
            return False
        return True


def bmatch(n, caps, opts, count):
    a = Assignment(n, [0] * n, caps, opts, None)
    for k, o in enumerate(opts):
        if len(o) < count[k]:
            return False
        g = [x for x in o if a.load[x] < caps[x]][: count[k]]
        g += [x for x in o if x not in g][: count[k] - len(g)]
        a.place(k, [], g)
    return a.repair_all()


def draw_groups(seed, usccs, roster, spec):
    p = Problem(roster, spec, len(usccs))
    slots = [p.slot(u, seed) for u in usccs]
    return [[p.off[x]["badge_no"] for x in g] for g in p.assign(slots)]


# ---------------------------------------------------------------- verification (§12)

def fail(path, message, *args):
    raise Mismatch(path, message % args if args else message)


def verify_v2(rec):
    if (rec.get("algorithm"), rec.get("algorithm_version")) != (ALGORITHM, V2):
        fail("algorithm_version", "this verifier knows %s %s", ALGORITHM, V2)
    outcome, seed = rec["outcome"], rec["seed"]
    if outcome == "drawn":
        if len(seed) != 64 or any(c not in "0123456789abcdef" for c in seed):
            fail("seed", "a sealed seed is 64 lowercase hex digits")
        if h(seed) != rec["seed_commitment"]:
            fail("seed", "SHA-256 of the seed is %s, the commitment is %s", h(seed), rec["seed_commitment"])
        if rec["failure"]:
            fail("failure", "a drawn attempt has no failure")
    elif outcome == "failed":
        if seed:
            fail("seed", "a failed attempt does not reveal its seed")
        if not rec["failure"]:
            fail("failure", "a failed attempt states its reason")
    else:
        fail("outcome", "%r is neither drawn nor failed", outcome)
    if bool(rec["entropy_source"]) != bool(rec["public_entropy"]):
        fail("public_entropy", "public entropy is given exactly when its source was fixed at commit")
    kind, flt, spec = rec["kind"], rec["filter"], rec["groups"]
    if kind not in ("undirected", "directed", "coverage"):
        fail("kind", "%r is not a kind of draw", kind)
    if rec["sample"].get("ratio"):
        try:
            sample_size("directed", {"ratio": rec["sample"]["ratio"]}, 0)
        except ValueError as err:
            fail("sample.ratio", str(err))
    try:
        Problem([], spec, 0)
    except ValueError as err:
        fail("groups", str(err))
    cands = rec["candidates"]
    for i, c in enumerate(cands):
        at = "candidates[%d]" % i
        if i and cands[i - 1]["uscc"] >= c["uscc"]:
            fail(at + ".uscc", "not after %s in byte order", cands[i - 1]["uscc"])
        if not considers(flt, kind, c):
            fail(at, "the plan does not consider %s", c["uscc"])
        if any(a >= b for a, b in zip(c["draw_ids"], c["draw_ids"][1:])):
            fail(at + ".draw_ids", "%s is not in byte order without repeats", c["draw_ids"])
        if c["random_draws"] != len(c["draw_ids"]):
            fail(at + ".random_draws", "%d draws are listed, the count says %d", len(c["draw_ids"]), c["random_draws"])
        if c["random_draws"] > 0 and not c["covered_this_year"]:
            fail(at + ".covered_this_year", "a unit drawn this year is covered")
        if c["excluded"] != exclusion(kind, c):
            fail(at + ".excluded", "the rules give %r, the record says %r", exclusion(kind, c), c["excluded"])
    if pool_hash(cands) != rec["pool_sha256"]:
        fail("pool_sha256", "the candidates hash to %s", pool_hash(cands))
    roster = rec["roster"]
    depts = [s["department"] for s in spec["shares"]]
    for i, o in enumerate(roster):
        if i and roster[i - 1]["badge_no"] >= o["badge_no"]:
            fail("roster[%d].badge_no" % i, "not after %s in byte order", roster[i - 1]["badge_no"])
        if o["department"] not in depts:
            fail("roster[%d].department" % i, "%s has no share in the groups", o["department"])
    if roster_hash(roster) != rec["roster_sha256"]:
        fail("roster_sha256", "the roster hashes to %s", roster_hash(roster))
    members = [c for c in cands if not c["excluded"]]
    if len(members) != rec["pool_size"]:
        fail("pool_size", "%d candidates are in the pool, the record says %d", len(members), rec["pool_size"])
    try:
        k = sample_size(kind, rec["sample"], len(members))
    except ValueError as err:
        fail("sample_size", str(err))
    if k != rec["sample_size"]:
        fail("sample_size", "the sample is %d, the record says %d", k, rec["sample_size"])
    if outcome == "failed":
        if rec["selections"] or rec["allocation"]:
            fail("selections", "a failed attempt selects nothing")
        return
    d = draw_seed(seed, rec["public_entropy"])
    picked, allocation = select(d, kind, members, k)
    try:
        groups = draw_groups(d, [members[i]["uscc"] for i in picked], roster, spec)
    except GroupFailure as err:
        fail("selections", "re-running the draw failed: %s", err)
    if len(allocation) != len(rec["allocation"]):
        fail("allocation", "%d towns re-computed, %d in the record", len(allocation), len(rec["allocation"]))
    for i, a in enumerate(allocation):
        if a != rec["allocation"][i]:
            fail("allocation[%d]" % i, "re-computed %s, the record says %s", a, rec["allocation"][i])
    sels = rec["selections"]
    if len(picked) != len(sels):
        fail("selections", "%d re-computed, %d in the record", len(picked), len(sels))
    for i, (p, g) in enumerate(zip(picked, groups)):
        for field, mine in (("uscc", members[p]["uscc"]), ("town", members[p]["town"]), ("group", g)):
            if sels[i][field] != mine:
                fail("selections[%d].%s" % (i, field), "re-computed %s, the record says %s", mine, sels[i][field])


def verify_history(rec, history):
    """§6.3: each candidate's draw_ids are the other plans' draws in force
    at the commitment (latest successful attempt drawn before it) that
    selected it."""
    from datetime import datetime

    def when(s):
        return datetime.fromisoformat(s.replace("Z", "+00:00"))

    def placed(p):
        # A suiji-draw/1 record was published with its year and time beside it.
        if p.get("algorithm_version") == V1:
            if not p.get("year") or not p.get("created_at"):
                raise ValueError("history record %s has no year and time" % p.get("id"))
            return dict(p, outcome="drawn", drawn_at=p["created_at"])
        return p

    committed, in_force = when(rec["committed_at"]), {}
    for p in map(placed, history):
        if (p["year"] != rec["year"] or p["plan_id"] == rec["plan_id"] or p["outcome"] != "drawn"
                or not when(p["drawn_at"]) < committed):
            continue
        if p["plan_id"] not in in_force or p["seq"] > in_force[p["plan_id"]]["seq"]:
            in_force[p["plan_id"]] = p
    want = {}
    for p in in_force.values():
        for s in p["selections"]:
            want.setdefault(s["uscc"], []).append(p["id"])
    for i, c in enumerate(rec["candidates"]):
        if sorted(set(want.get(c["uscc"], []))) != sorted(set(c["draw_ids"])):
            fail("candidates[%d].draw_ids" % i, "the draws in force at commit that selected %s are %s",
                 c["uscc"], sorted(want.get(c["uscc"], [])))


def replacement_eligible(r):
    by_badge = {o["badge_no"]: o for o in r["roster"]}
    out, before = by_badge.get(r["out"]), r["group_before"]
    if out is None or r["out"] not in before:
        fail("out", "%s is not a member of the group in the roster", r["out"])
    others = []
    for badge in before:
        if badge != r["out"]:
            if badge not in by_badge:
                fail("out", "group member %s is not in the roster", badge)
            others.append(by_badge[badge])
    eligible = []
    for o in r["roster"]:
        if (o["department"] != out["department"] or not o["active"] or o["certificate_expires"] < r["valid_through"]
                or o["badge_no"] in before or r["uscc"] in o["conflicts"]
                or (not r["keep_last_inspectors"] and r["uscc"] in o["last_inspected"])):
            continue
        group = others + [o]
        if all(any(q in m["qualifications"] for m in group) for q in r["required"]):
            eligible.append(o["badge_no"])
    return eligible


def verify_replacement(r):
    """§11: the replacement re-computed from its own seed and roster."""
    if (r.get("algorithm"), r.get("algorithm_version"), r.get("type")) != (ALGORITHM, V2, "replacement"):
        fail("algorithm_version", "this verifier knows replacements of %s %s", ALGORITHM, V2)
    seed = r["seed"]
    if len(seed) != 64 or any(c not in "0123456789abcdef" for c in seed):
        fail("seed", "a sealed seed is 64 lowercase hex digits")
    if h(seed) != r["seed_commitment"]:
        fail("seed", "SHA-256 of the seed is %s, the commitment is %s", h(seed), r["seed_commitment"])
    if bool(r["entropy_source"]) != bool(r["public_entropy"]):
        fail("public_entropy", "public entropy is given exactly when its source was fixed at commit")
    roster = r["roster"]
    for i in range(1, len(roster)):
        if roster[i - 1]["badge_no"] >= roster[i]["badge_no"]:
            fail("roster[%d].badge_no" % i, "not after %s in byte order", roster[i - 1]["badge_no"])
    if roster_hash(roster) != r["roster_sha256"]:
        fail("roster_sha256", "the roster hashes to %s", roster_hash(roster))
    eligible = replacement_eligible(r)
    if len(eligible) != r["eligible"]:
        fail("eligible", "%d are eligible, the record says %d", len(eligible), r["eligible"])
    if not eligible:
        fail("in", "nobody is eligible")
    chosen = eligible[pick(derive(draw_seed(seed, r["public_entropy"]), "replace:%s:%s" % (r["uscc"], r["out"])), 1, len(eligible)) - 1]
    if chosen != r["in"]:
        fail("in", "re-computed %s, the record says %s", chosen, r["in"])
    after = [chosen if b == r["out"] else b for b in r["group_before"]]
    if after != r["group_after"]:
        fail("group_after", "re-computed %s, the record says %s", after, r["group_after"])


def verify_replacements(rec, reps):
    groups = {s["uscc"]: s["group"] for s in rec["selections"]}
    for i, r in enumerate(reps):
        at = "replacements[%d]" % i
        try:
            verify_replacement(r)
        except Mismatch as m:
            raise Mismatch(at + "." + m.path, str(m))
        if r["draw_id"] != rec["id"]:
            fail(at + ".draw_id", "belongs to %s, not %s", r["draw_id"], rec["id"])
        if r["seq"] != i + 1:
            fail(at + ".seq", "is %d, expected %d", r["seq"], i + 1)
        if r["uscc"] not in groups:
            fail(at + ".uscc", "%s was not drawn", r["uscc"])
        if groups[r["uscc"]] != r["group_before"]:
            fail(at + ".group_before", "the group in force is %s", groups[r["uscc"]])
        spec = rec["groups"]
        if (sorted(set(spec["required"])) != r["required"] or spec["valid_through"] != r["valid_through"]
                or spec["keep_last_inspectors"] != r["keep_last_inspectors"]):
            fail(at + ".required", "the group rules differ from the draw's")
        groups[r["uscc"]] = r["group_after"]


# ---------------------------------------------------------------- version 1 (frozen)

def verify_v1(rec):
    """suiji-draw/1, kept as it was drawn: seed mixing without a fixed
    entropy source, float ratio, last inspectors on the pool, the greedy
    group step."""
    import math

    if (rec.get("algorithm"), rec.get("algorithm_version")) != (ALGORITHM, V1):
        fail("algorithm_version", "this verifier knows %s %s", ALGORITHM, V1)
    if h(rec["seed"]) != rec["seed_commitment"]:
        fail("seed_commitment", "SHA-256 of the seed is %s", h(rec["seed"]))

    def joined(values):
        return ";".join(sorted(values or []))

    pool = rec["pool"]
    for i in range(1, len(pool)):
        if pool[i - 1]["uscc"] >= pool[i]["uscc"]:
            fail("pool[%d]" % i, "not in canonical USCC order")
    text = "".join("%s,%s,%s,%s,%s\n" % (p["uscc"], p["town"], p["industry"], joined(p["categories"]), joined(p["flags"])) for p in pool)
    if h(text) != rec["pool_sha256"]:
        fail("pool_sha256", "the pool hashes to %s", h(text))
    rows = sorted(rec["roster"], key=lambda o: o["badge_no"])
    text = "".join("%s,%s,%s,%s,%s,%s\n" % (o["badge_no"], o["department"], joined(o["qualifications"]),
                                           "true" if o["active"] else "false", o["certificate_expires"], joined(o["conflicts"]))
                   for o in rows)
    if h(text) != rec["roster_sha256"]:
        fail("roster_sha256", "the roster hashes to %s", h(text))
    seed = derive(rec["seed"], "entropy:" + rec["public_entropy"]) if rec["public_entropy"] else rec["seed"]
    if rec.get("seq", 1) > 1:
        seed = derive(seed, "redraw:%d" % rec["seq"])

    def size_of(n):
        return int(math.ceil(rec["ratio"] * n - 1e-9)) if rec.get("ratio") else rec.get("count", 0)

    def alloc_v1(strata, k):
        total = sum(s for _, s in strata)
        alloc, rems = [], []
        for i, (name, s) in enumerate(strata):
            alloc.append(k * s // total)
            rems.append((-(k * s % total), hashlib.sha256((seed + "|alloc|" + name).encode("utf-8")).digest(), i))
        rems.sort()
        for _, _, i in rems[: k - sum(alloc)]:
            alloc[i] += 1
        return alloc

    kind = rec["kind"]
    if kind == "coverage":
        selected, allocation = list(pool), []
    elif kind == "directed":
        k = size_of(len(pool))
        selected, allocation = ([pool[p - 1] for p in sample(derive(seed, "enterprises"), len(pool), k)] if k else []), []
    else:
        k = size_of(len(pool))
        towns = sorted({p["town"] for p in pool})
        by_town = {t: [p for p in pool if p["town"] == t] for t in towns}
        shares = alloc_v1([(t, len(by_town[t])) for t in towns], k)
        selected, allocation = [], []
        for t, n in zip(towns, shares):
            allocation.append({"town": t, "pool_size": len(by_town[t]), "drawn": n})
            if n:
                selected += [by_town[t][p - 1] for p in sample(derive(seed, "town:" + t), len(by_town[t]), n)]
    try:
        groups = groups_v1(seed, selected, rec)
    except ValueError as err:
        fail("selections", "re-running the draw failed: %s", err)
    if len(allocation) != len(rec["allocation"]):
        fail("allocation", "%d towns re-computed, %d in the record", len(allocation), len(rec["allocation"]))
    for i, a in enumerate(allocation):
        if a != rec["allocation"][i]:
            fail("allocation[%d]" % i, "re-computed %s, the record says %s", a, rec["allocation"][i])
    if len(selected) != len(rec["selections"]):
        fail("selections", "%d re-computed, %d in the record", len(selected), len(rec["selections"]))
    for i, (e, g) in enumerate(zip(selected, groups)):
        got = rec["selections"][i]
        for field, mine in (("uscc", e["uscc"]), ("town", e["town"]), ("group", g)):
            if got[field] != mine:
                fail("selections[%d].%s" % (i, field), "re-computed %s, the record says %s", mine, got[field])


def groups_v1(seed, enterprises, rec):
    spec = rec["groups"]
    shares = spec["shares"]
    certified = {}
    for o in sorted(rec["roster"], key=lambda o: o["badge_no"]):
        if o["active"] and o["certificate_expires"] >= spec["valid_through"]:
            certified.setdefault(o["department"], []).append(o)
    required = sorted(set(spec["required"] or []))
    dept_cap = {s["department"]: s["members"] * len(enterprises) // len(certified[s["department"]]) + 1
                for s in shares if certified.get(s["department"])}
    holders = {}
    for s in shares:
        for o in certified.get(s["department"], []):
            for q in required:
                if q in (o["qualifications"] or []):
                    holders[q] = holders.get(q, 0) + 1
    everyone = sum(len(certified.get(s["department"], [])) for s in shares)
    required.sort(key=lambda q: holders.get(q, 0))
    caps, specialist = {}, set()
    for s in shares:
        for o in certified.get(s["department"], []):
            c = dept_cap[s["department"]]
            for q in required:
                if q in (o["qualifications"] or []):
                    c = max(c, len(enterprises) // holders[q] + 1)
                    if holders[q] < everyone:
                        specialist.add(o["badge_no"])
            caps[o["badge_no"]] = c
    load, groups = {}, []
    for e in enterprises:
        orders = []
        for s in shares:
            eligible = [o for o in certified.get(s["department"], [])
                        if e["uscc"] not in (o["conflicts"] or [])
                        and (spec["keep_last_inspectors"] or o["badge_no"] not in (e["last_inspectors"] or []))
                        and load.get(o["badge_no"], 0) < caps[o["badge_no"]]]
            if len(eligible) < s["members"]:
                raise ValueError("no valid group for %s in department %s" % (e["uscc"], s["department"]))
            perm = sample(derive(seed, "group:%s:%s" % (e["uscc"], s["department"])), len(eligible), len(eligible)) if eligible else []
            orders.append([eligible[p - 1] for p in perm])
        members, count = [], [0] * len(shares)
        for q in required:
            if any(q in (o["qualifications"] or []) for order in orders for o in order if o["badge_no"] in members):
                continue
            done = False
            for i, order in enumerate(orders):
                if count[i] >= shares[i]["members"]:
                    continue
                for o in order:
                    if o["badge_no"] not in members and q in (o["qualifications"] or []):
                        members.append(o["badge_no"])
                        count[i] += 1
                        done = True
                        break
                if done:
                    break
            if not done:
                raise ValueError("no inspector with qualification %s for %s" % (q, e["uscc"]))
        for i, order in enumerate(orders):
            for specialists_too in (False, True):
                for o in order:
                    if count[i] >= shares[i]["members"]:
                        break
                    if o["badge_no"] not in members and (specialists_too or o["badge_no"] not in specialist):
                        members.append(o["badge_no"])
                        count[i] += 1
        for badge in members:
            load[badge] = load.get(badge, 0) + 1
        groups.append(members)
    return groups


# ---------------------------------------------------------------- entry points

def verify(rec):
    """Verify a record of either version, a draw or a replacement."""
    version = rec.get("algorithm_version")
    if version == V1:
        verify_v1(rec)
    elif version == V2 and rec.get("type") == "replacement":
        verify_replacement(rec)
    elif version == V2:
        verify_v2(rec)
    else:
        fail("algorithm_version", "unknown version %r", version)


def verdict(vector, base):
    """The path of the first mismatch of a manifest vector, or None."""
    path = lambda name: os.path.join(base, name)
    try:
        if vector["type"] == "replacements":
            verify_replacements(load(path(vector["draw"])), [load(path(f)) for f in vector["files"]])
            return None
        rec = load(path(vector["file"]))
        verify(rec)
        if vector.get("history"):
            verify_history(rec, [load(path(f)) for f in vector["history"]])
    except Mismatch as m:
        return m.path
    return None


def run_manifest(manifest):
    with open(manifest, encoding="utf-8") as f:
        vectors = json.load(f)["vectors"]
    base, failures = os.path.dirname(manifest), 0
    for v in vectors:
        name = v.get("file") or "+".join(v["files"])
        got = verdict(v, base)
        want = v.get("path") if v["expect"] == "mismatch" else None
        if got == want:
            print("PASS %s: %s" % (name, "ok" if got is None else "mismatch at " + got))
        else:
            failures += 1
            print("FAIL %s: expected %s, got %s" % (name, want or "ok", got or "ok"))
    print("%d of %d vectors as expected" % (len(vectors) - failures, len(vectors)))
    return 1 if failures else 0


def main(argv):
    args, history = list(argv), []
    if len(args) == 2 and args[0] == "--manifest":
        return run_manifest(args[1])
    while len(args) >= 2 and args[0] == "--history":
        history.append(args[1])
        args = args[2:]
    if len(args) != 1 or args[0].startswith("-"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    rec = load(args[0])
    try:
        verify(rec)
        if history:
            verify_history(rec, [load(src) for src in history])
    except Mismatch as m:
        print("MISMATCH: %s" % m)
        return 1
    if rec.get("type") == "replacement":
        print("OK: replacement %s (#%d) re-computed: %s in for %s" % (rec["id"], rec["seq"], rec["in"], rec["out"]))
    elif rec.get("outcome") == "failed":
        print("OK: draw %s is a failed attempt (%s): its pool and roster check out; its seed is not published"
              % (rec["id"], rec["failure"]))
    else:
        print("OK: draw %s (%s): %d enterprises and their groups re-computed from seed %s"
              % (rec["id"], rec["algorithm_version"], len(rec["selections"]), rec["seed"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
