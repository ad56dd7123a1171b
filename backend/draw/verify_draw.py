#!/usr/bin/env python3
"""Standalone verifier for suiji draw records (algorithm suiji-draw/1).

A citizen need not trust suiji's own binary: this file re-computes a
published draw with nothing but Python 3's standard library.

    python3 verify_draw.py record.json
    python3 verify_draw.py https://example.gov.cn/public/v1/draws/ID

It prints "OK" and exits 0 when every part of the record checks out, or
names the first mismatch and exits 1. The procedure is documented in the Go
package suiji/backend/draw; this is a second, independent implementation.
"""
import hashlib
import json
import math
import sys
import urllib.request

ALGORITHM, VERSION = "rivest-sha256-sampler", "suiji-draw/1"


def sha_hex(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def pick(seed, i, n):
    """Rivest's sampler: 1 + SHA-256(seed + "," + i) mod n."""
    return 1 + int(sha_hex(seed + "," + str(i)), 16) % n


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
    return sha_hex(seed + "|" + label)


def combine(seed, entropy):
    return derive(seed, "entropy:" + entropy) if entropy else seed


def joined(values):
    return ";".join(sorted(values or []))


def pool_hash(pool):
    text = "".join("%s,%s,%s,%s,%s\n" % (p["uscc"], p["town"], p["industry"], joined(p["categories"]), joined(p["flags"])) for p in pool)
    return sha_hex(text)


def roster_hash(roster):
    rows = sorted(roster, key=lambda o: o["badge_no"])
    text = "".join("%s,%s,%s,%s,%s,%s\n" % (o["badge_no"], o["department"], joined(o["qualifications"]),
                                           "true" if o["active"] else "false", o["certificate_expires"], joined(o["conflicts"]))
                   for o in rows)
    return sha_hex(text)


def size_of(rec, n):
    if rec.get("ratio"):
        return int(math.ceil(rec["ratio"] * n - 1e-9))
    return rec.get("count", 0)


def allocate(seed, strata, k):
    total = sum(size for _, size in strata)
    alloc, rems = [], []
    for i, (name, size) in enumerate(strata):
        share = k * size
        alloc.append(share // total)
        rems.append((-(share % total), hashlib.sha256((seed + "|alloc|" + name).encode("utf-8")).digest(), i))
    rems.sort()
    for _, _, i in rems[: k - sum(alloc)]:
        alloc[i] += 1
    return alloc


def select(seed, rec):
    pool, kind = rec["pool"], rec["kind"]
    if kind == "coverage":
        return list(pool), []
    k = size_of(rec, len(pool))
    if kind == "directed":
        return [pool[p - 1] for p in sample(derive(seed, "enterprises"), len(pool), k)] if k else [], []
    towns = sorted({p["town"] for p in pool})
    by_town = {t: [p for p in pool if p["town"] == t] for t in towns}
    shares = allocate(seed, [(t, len(by_town[t])) for t in towns], k)
    selected, allocation = [], []
    for t, n in zip(towns, shares):
        allocation.append({"town": t, "pool_size": len(by_town[t]), "drawn": n})
        if n:
            selected += [by_town[t][p - 1] for p in sample(derive(seed, "town:" + t), len(by_town[t]), n)]
    return selected, allocation


def draw_groups(seed, enterprises, rec):
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
    required.sort(key=lambda q: holders.get(q, 0))  # stable: scarcest first, then by name
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
        for b in members:
            load[b] = load.get(b, 0) + 1
        groups.append(members)
    return groups


def verify(rec):
    if (rec["algorithm"], rec["algorithm_version"]) != (ALGORITHM, VERSION):
        return "algorithm: this verifier knows %s %s" % (ALGORITHM, VERSION)
    if sha_hex(rec["seed"]) != rec["seed_commitment"]:
        return "seed_commitment does not match SHA-256 of the seed"
    usccs = [p["uscc"] for p in rec["pool"]]
    if any(a >= b for a, b in zip(usccs, usccs[1:])):
        return "pool: not in canonical USCC order"
    if pool_hash(rec["pool"]) != rec["pool_sha256"]:
        return "pool_sha256 does not match the pool"
    if roster_hash(rec["roster"]) != rec["roster_sha256"]:
        return "roster_sha256 does not match the roster"
    seed = combine(rec["seed"], rec["public_entropy"])
    if rec.get("seq", 1) > 1:
        seed = derive(seed, "redraw:%d" % rec["seq"])
    try:
        selected, allocation = select(seed, rec)
        groups = draw_groups(seed, selected, rec)
    except ValueError as err:
        return "re-running the draw failed: %s" % err
    if allocation != rec["allocation"]:
        return "allocation differs: re-computed %s" % allocation
    mine = [{"uscc": e["uscc"], "town": e["town"], "group": g} for e, g in zip(selected, groups)]
    if len(mine) != len(rec["selections"]):
        return "selections: %d re-computed, %d in the record" % (len(mine), len(rec["selections"]))
    for i, (a, b) in enumerate(zip(mine, rec["selections"])):
        if a != b:
            return "selections[%d]: re-computed %s, the record says %s" % (i, a, b)
    return None


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: verify_draw.py RECORD.json|URL")
    src = sys.argv[1]
    if src.startswith(("http://", "https://")):
        with urllib.request.urlopen(src) as resp:
            rec = json.load(resp)
    else:
        with open(src, encoding="utf-8") as f:
            rec = json.load(f)
    problem = verify(rec)
    if problem:
        print("MISMATCH: " + problem)
        sys.exit(1)
    print("OK: %d enterprises and their groups re-computed from seed %s" % (len(rec["selections"]), rec["seed"]))


if __name__ == "__main__":
    main()
