package draw

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"slices"
	"strconv"
)

// canon writes the canonical text the pool and roster hashes are taken of
// (SPEC.md §4): every string as its UTF-8 byte length, ":" and its bytes;
// every list as its length, ":" and its members so written in byte order;
// integers in decimal; booleans as true or false; fields separated by ","
// and each entry ended by "\n". Lengths make the text unambiguous whatever
// the strings contain.
type canon struct {
	h     hash.Hash
	line  bytes.Buffer
	first bool
}

func newCanon() *canon { return &canon{h: sha256.New(), first: true} }

func (c *canon) sep() {
	if !c.first {
		c.line.WriteByte(',')
	}
	c.first = false
}

func (c *canon) str(s string) *canon {
	c.sep()
	c.line.WriteString(strconv.Itoa(len(s)))
	c.line.WriteByte(':')
	c.line.WriteString(s)
	return c
}

func (c *canon) list(values []string) *canon {
	c.sep()
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	c.line.WriteString(strconv.Itoa(len(sorted)))
	c.line.WriteByte(':')
	for _, v := range sorted {
		c.line.WriteString(strconv.Itoa(len(v)))
		c.line.WriteByte(':')
		c.line.WriteString(v)
	}
	return c
}

func (c *canon) int(n int) *canon {
	c.sep()
	c.line.WriteString(strconv.Itoa(n))
	return c
}

func (c *canon) bool(b bool) *canon {
	c.sep()
	c.line.WriteString(strconv.FormatBool(b))
	return c
}

// end finishes an entry and feeds it to the hash.
func (c *canon) end() {
	c.line.WriteByte('\n')
	c.h.Write(c.line.Bytes())
	c.line.Reset()
	c.first = true
}

func (c *canon) sum() string { return hex.EncodeToString(c.h.Sum(nil)) }

// PoolHash is the SHA-256 (lowercase hex) of the candidates' canonical
// text, one entry per candidate in the given order:
//
//	uscc, town, industry, status, categories, flags, non_cooperation,
//	random_draws, draw_ids, covered_this_year, excluded
func PoolHash(candidates []Candidate) string {
	c := newCanon()
	for i := range candidates {
		e := &candidates[i]
		c.str(e.USCC).str(e.Town).str(e.Industry).str(e.Status).list(e.Categories).list(e.Flags).
			bool(e.NonCooperation).int(e.RandomDraws).list(e.DrawIDs).bool(e.CoveredThisYear).str(e.Excluded).end()
	}
	return c.sum()
}

// RosterHash is the SHA-256 (lowercase hex) of the roster's canonical text,
// one entry per officer in the given order:
//
//	badge_no, department, qualifications, active, certificate_expires,
//	conflicts, last_inspected
func RosterHash(roster []Officer) string {
	c := newCanon()
	for i := range roster {
		o := &roster[i]
		c.str(o.BadgeNo).str(o.Department).list(o.Qualifications).bool(o.Active).
			str(o.CertificateExpires).list(o.Conflicts).list(o.LastInspected).end()
	}
	return c.sum()
}
