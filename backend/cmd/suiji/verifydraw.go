package main

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"suiji/backend/draw"
)

// maxRecordBytes bounds what verify-draw reads (after decompression): a
// 100,000-enterprise pool is about 30 MB of JSON.
const maxRecordBytes = 512 << 20

// runVerifyDraw re-computes a published record — a draw of either
// algorithm version, or a replacement — from a file or a URL (GET
// /public/v1/draws/{id}), reading it as a stream, and exits non-zero
// naming the first mismatch. With --history (the year's other records) it
// also checks the draws each candidate's history names.
func runVerifyDraw(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var history []string
	for len(args) >= 2 && args[0] == "--history" {
		history, args = append(history, args[1]), args[2:]
	}
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(stderr, "Usage: suiji verify-draw [--history FILE|URL]... FILE|URL")
		fmt.Fprintln(stderr, "Re-computes a public draw record (suiji-draw/1 or /2) or replacement record by the")
		fmt.Fprintln(stderr, "rules of its version (the specification: GET /public/v1/draw-spec): the seed against")
		fmt.Fprintln(stderr, "its commitment, the pool rules and exclusions, the pool and roster hashes, the")
		fmt.Fprintln(stderr, "allocation, every selection and group. Prints OK, or MISMATCH with the first field found wrong.")
		fmt.Fprintln(stderr, "--history gives the year's other records: each candidate's draw_ids must be the draws")
		fmt.Fprintln(stderr, "in force at the commitment that selected it (give every record of the year).")
		if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
			return nil
		}
		return usageError{"verify-draw takes [--history FILE|URL]... and one FILE or URL"}
	}
	v, err := verifyOne(ctx, args[0])
	var m *draw.Mismatch
	if err == nil && len(history) > 0 {
		err = checkHistory(ctx, v, history)
	}
	if errors.As(err, &m) {
		fmt.Fprintln(stdout, "MISMATCH:", m)
		return fmt.Errorf("%s does not verify: %w", args[0], err)
	}
	if err != nil {
		return err
	}
	switch {
	case v.Type == draw.RecordTypeReplacement:
		fmt.Fprintf(stdout, "OK: replacement %s (#%d) re-computed from seed %s\n", v.ID, v.Seq, v.Seed)
	case v.Outcome == draw.OutcomeFailed:
		fmt.Fprintf(stdout, "OK: draw %s (plan %s, #%d) is a failed attempt: its pool and roster check out; its seed is not published, so what it drew stays unknown\n", v.ID, v.PlanID, v.Seq)
	default:
		fmt.Fprintf(stdout, "OK: draw %s (plan %s, #%d, %s) re-computed: %d enterprises and their groups from seed %s\n",
			v.ID, v.PlanID, v.Seq, v.Version, v.Selections, v.Seed)
	}
	if len(history) > 0 {
		fmt.Fprintf(stdout, "OK: every candidate's history matches the %d other records given\n", len(history))
	}
	return nil
}

// verifyOne opens and verifies one record.
func verifyOne(ctx context.Context, src string) (*draw.Verdict, error) {
	body, err := openRecord(ctx, src)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	v, err := draw.VerifyStream(io.LimitReader(body, maxRecordBytes))
	var m *draw.Mismatch
	if err != nil && !errors.As(err, &m) {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	return v, err
}

// checkHistory verifies the other records and checks the record's history
// facts against them.
func checkHistory(ctx context.Context, v *draw.Verdict, sources []string) error {
	if v.Record == nil {
		return fmt.Errorf("only a suiji-draw/2 draw record states a history to check")
	}
	var past []draw.Past
	for _, src := range sources {
		h, err := verifyOne(ctx, src)
		if err != nil {
			return fmt.Errorf("history record %s: %w", src, err)
		}
		if h.Past == nil {
			return fmt.Errorf("history record %s is no draw with its year and time", src)
		}
		past = append(past, *h.Past)
	}
	return draw.VerifyHistory(v.Record, past)
}

// openRecord opens a record file, or fetches it asking for gzip (the
// public endpoint compresses) and decompresses it as it arrives.
func openRecord(ctx context.Context, src string) (io.ReadCloser, error) {
	if !strings.HasPrefix(src, "http://") && !strings.HasPrefix(src, "https://") {
		return os.Open(src)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("GET %s: %s", src, resp.Status)
	}
	body := io.ReadCloser(resp.Body)
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			resp.Body.Close()
			cancel()
			return nil, fmt.Errorf("GET %s: %w", src, err)
		}
		body = struct {
			io.Reader
			io.Closer
		}{zr, resp.Body}
	}
	return closer{body, cancel}, nil
}

type closer struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c closer) Close() error {
	defer c.cancel()
	return c.ReadCloser.Close()
}
