package draw

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"io"
)

// Spec is SPEC.md, the specification of this version, as the server
// publishes it at SpecPath.
//
//go:embed SPEC.md
var Spec []byte

// Lists yields a large list of a record as it is stored: chunks of JSON
// array text ("[{…},{…}]"), each passed to emit in order.
type Lists func(emit func(chunk []byte) error) error

// WriteRecord writes a record to w as the server publishes it (SPEC.md §2):
// the head, then the candidates and the roster chunk by chunk as they
// come from storage — never the whole record in memory — then the
// allocation and the selections.
func WriteRecord(w io.Writer, head *RecordHead, candidates, roster Lists, alloc []Allocation, sel []Selection) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	h, err := json.Marshal(head)
	if err != nil {
		return err
	}
	bw.Write(h[:len(h)-1]) // the head's members, without its closing brace
	for _, part := range []struct {
		name  string
		lists Lists
	}{{"candidates", candidates}, {"roster", roster}} {
		bw.WriteString(`,"` + part.name + `":[`)
		first := true
		err := part.lists(func(chunk []byte) error {
			inner := bytes.TrimSpace(chunk)
			if len(inner) < 2 || inner[0] != '[' || inner[len(inner)-1] != ']' {
				return errors.New("draw: a stored chunk is not a JSON list")
			}
			inner = bytes.TrimSpace(inner[1 : len(inner)-1])
			if len(inner) == 0 {
				return nil
			}
			if !first {
				bw.WriteByte(',')
			}
			first = false
			_, err := bw.Write(inner)
			return err
		})
		if err != nil {
			return err
		}
		bw.WriteByte(']')
	}
	for _, part := range []struct {
		name string
		v    any
	}{{"allocation", nonNil(alloc)}, {"selections", nonNil(sel)}} {
		raw, err := json.Marshal(part.v)
		if err != nil {
			return err
		}
		bw.WriteString(`,"` + part.name + `":`)
		bw.Write(raw)
	}
	bw.WriteByte('}')
	return bw.Flush()
}

// ChunkList returns Lists over entries already in memory, in chunks of n.
func ChunkList[T any](entries []T, n int) Lists {
	return func(emit func([]byte) error) error {
		for start := 0; start < len(entries); start += n {
			raw, err := json.Marshal(entries[start:min(start+n, len(entries))])
			if err != nil {
				return err
			}
			if err := emit(raw); err != nil {
				return err
			}
		}
		return nil
	}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
