package draw

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"suiji/backend/draw/drawv1"
)

// Verdict is what VerifyStream found in a record that checks out.
type Verdict struct {
	Version    string
	Type       string // "draw" or "replacement"
	ID         string
	PlanID     string
	Seq        int
	Outcome    string
	Selections int
	Seed       string
	// Record is the decoded version-2 draw record (nil for other kinds).
	Record *Record
	// Past is what a history check needs of the draw (nil for a
	// replacement, or a suiji-draw/1 record published without its year and
	// time).
	Past *Past
}

// VerifyStream reads one published record — a draw of either version, or
// a replacement — from r as a stream (the large lists are decoded entry by
// entry, never held as text) and verifies it under the rules of the
// version it names. A record that does not check out gives a *Mismatch.
func VerifyStream(r io.Reader) (*Verdict, error) {
	obj, err := decodeObject(r)
	if err != nil {
		return nil, err
	}
	switch {
	case obj.version == drawv1.AlgorithmVersion:
		var rec drawv1.Record
		if err := obj.into(&rec); err != nil {
			return nil, err
		}
		if err := drawv1.Verify(&rec); err != nil {
			return nil, v1Mismatch(err)
		}
		v := &Verdict{Version: obj.version, Type: "draw", ID: rec.ID, PlanID: rec.PlanID, Seq: rec.Seq,
			Outcome: OutcomeDrawn, Selections: len(rec.Selections), Seed: rec.Seed}
		var placed struct {
			Year      int       `json:"year"`
			CreatedAt time.Time `json:"created_at"`
		}
		if err := obj.into(&placed); err == nil && placed.Year != 0 && !placed.CreatedAt.IsZero() {
			p := PastOfV1(&rec, placed.Year, placed.CreatedAt)
			v.Past = &p
		}
		return v, nil
	case obj.version == AlgorithmVersion && obj.kind == RecordTypeReplacement:
		var rep Replacement
		if err := obj.into(&rep); err != nil {
			return nil, err
		}
		if err := VerifyReplacement(&rep); err != nil {
			return nil, err
		}
		return &Verdict{Version: obj.version, Type: RecordTypeReplacement, ID: rep.ID, Seq: rep.Seq,
			Outcome: OutcomeDrawn, Selections: 1, Seed: string(rep.Seed)}, nil
	case obj.version == AlgorithmVersion:
		var rec Record
		if err := obj.into(&rec); err != nil {
			return nil, err
		}
		if err := Verify(&rec); err != nil {
			return nil, err
		}
		v := &Verdict{Version: obj.version, Type: "draw", ID: rec.ID, PlanID: rec.PlanID, Seq: rec.Seq,
			Outcome: rec.Outcome, Selections: len(rec.Selections), Seed: string(rec.Seed), Record: &rec}
		if p, err := PastOf(&rec); err == nil {
			v.Past = &p
		}
		return v, nil
	}
	return nil, &Mismatch{Path: "algorithm_version", Message: fmt.Sprintf("%q: %v", obj.version, ErrUnknownVersion)}
}

// v1Mismatch gives a version-1 verifier error the path its message starts
// with, so both versions report first mismatches alike.
func v1Mismatch(err error) error {
	msg := err.Error()
	path, rest, ok := strings.Cut(msg, ": ")
	switch {
	case !ok:
		return &Mismatch{Path: "record", Message: msg}
	case path == "algorithm":
		path = "algorithm_version"
	case path == "re-running the draw failed":
		path = "selections"
	}
	return &Mismatch{Path: path, Message: rest}
}

// object is a record read as a stream: small fields kept as JSON, the
// large lists decoded entry by entry as soon as the version is known.
type object struct {
	version string
	kind    string
	fields  map[string]json.RawMessage
	lists   map[string]any
}

func decodeObject(r io.Reader) (*object, error) {
	dec := json.NewDecoder(r)
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a record: a JSON object is expected (%v)", err)
	}
	o := &object{fields: map[string]json.RawMessage{}, lists: map[string]any{}}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("not a record: %w", err)
		}
		key, _ := tok.(string)
		if list, ok := o.listFor(key); ok {
			if err := list(dec); err != nil {
				return nil, fmt.Errorf("not a record: %s: %w", key, err)
			}
			continue
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("not a record: %s: %w", key, err)
		}
		o.fields[key] = raw
		switch key {
		case "algorithm_version":
			_ = json.Unmarshal(raw, &o.version)
		case "type":
			_ = json.Unmarshal(raw, &o.kind)
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("not a record: %w", err)
	}
	return o, nil
}

// listFor returns the entry-by-entry decoder of a large list, when the
// version read so far says what its entries are.
func (o *object) listFor(key string) (func(*json.Decoder) error, bool) {
	keep := func(f func(*json.Decoder) (any, error)) func(*json.Decoder) error {
		return func(dec *json.Decoder) error {
			v, err := f(dec)
			o.lists[key] = v
			return err
		}
	}
	switch o.version + " " + key {
	case AlgorithmVersion + " candidates":
		return keep(decodeList[Candidate]), true
	case AlgorithmVersion + " roster":
		return keep(decodeList[Officer]), true
	case AlgorithmVersion + " selections":
		return keep(decodeList[Selection]), true
	case drawv1.AlgorithmVersion + " pool":
		return keep(decodeList[drawv1.PoolEntry]), true
	case drawv1.AlgorithmVersion + " roster":
		return keep(decodeList[drawv1.RosterEntry]), true
	case drawv1.AlgorithmVersion + " selections":
		return keep(decodeList[drawv1.Selection]), true
	}
	return nil, false
}

func decodeList[T any](dec *json.Decoder) (any, error) {
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return nil, errors.New("a list is expected")
	}
	out := []T{}
	for dec.More() {
		var v T
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	_, err := dec.Token()
	return out, err
}

// into fills dst (a record struct) from the small fields, then sets the
// lists decoded on the way by their JSON names.
func (o *object) into(dst any) error {
	small, err := json.Marshal(o.fields)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(small, dst); err != nil {
		return fmt.Errorf("not a record: %w", err)
	}
	switch d := dst.(type) {
	case *Record:
		setList(o, "candidates", &d.Candidates)
		setList(o, "roster", &d.Roster)
		setList(o, "selections", &d.Selections)
	case *Replacement:
		setList(o, "roster", &d.Roster)
	case *drawv1.Record:
		setList(o, "pool", &d.Pool)
		setList(o, "roster", &d.Roster)
		setList(o, "selections", &d.Selections)
	}
	return nil
}

func setList[T any](o *object, key string, dst *[]T) {
	if v, ok := o.lists[key].([]T); ok {
		*dst = v
	}
}
