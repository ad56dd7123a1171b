package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"suiji/backend/draw"
)

// maxRecordBytes bounds what verify-draw reads: a 100,000-enterprise pool
// is about 15 MB of JSON.
const maxRecordBytes = 256 << 20

// runVerifyDraw re-computes a published draw record from a file or a URL
// (GET /public/v1/draws/{id}) and exits non-zero naming the first mismatch.
func runVerifyDraw(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(stderr, "Usage: suiji verify-draw FILE|URL")
		fmt.Fprintln(stderr, "Re-computes a public draw record: seed against its commitment, pool and roster")
		fmt.Fprintln(stderr, "against their hashes, allocation, every selection and group.")
		if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
			return nil
		}
		return usageError{"verify-draw takes one FILE or URL"}
	}
	raw, err := readRecord(ctx, args[0])
	if err != nil {
		return err
	}
	var rec draw.Record
	if err := json.Unmarshal(raw, &rec); err != nil {
		return fmt.Errorf("%s is not a draw record: %w", args[0], err)
	}
	if err := draw.Verify(&rec); err != nil {
		fmt.Fprintln(stdout, "MISMATCH:", err)
		return fmt.Errorf("draw %s does not verify: %w", rec.ID, err)
	}
	fmt.Fprintf(stdout, "OK: draw %s (plan %s, #%d) re-computed: %d enterprises and their groups from seed %s\n",
		rec.ID, rec.PlanID, rec.Seq, len(rec.Selections), rec.Seed)
	return nil
}

func readRecord(ctx context.Context, src string) ([]byte, error) {
	if !strings.HasPrefix(src, "http://") && !strings.HasPrefix(src, "https://") {
		f, err := os.Open(src)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return io.ReadAll(io.LimitReader(f, maxRecordBytes))
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", src, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, maxRecordBytes))
}
