package results

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"suiji/backend"
	"suiji/backend/media"
)

// A bundle is a task's archive exported for a court or a superior agency
// (suiji archive export): a folder that needs nothing else to be read and
// checked.
//
//	archive.json      what GET /api/v1/tasks/{id}/archive lists (without links)
//	documents/KIND.pdf  each archived document
//	evidence/ID.EXT   each verified piece of evidence
//	README.txt        what the bundle is and how to check it
//	MANIFEST.sha256   the SHA-256 of every other file, in sha256sum's format
//
// VerifyBundle (suiji archive verify --bundle DIR) re-hashes every file
// against the manifest, names files missing from it or not listed in it,
// and checks the manifest against the hashes archive.json records for the
// documents and the evidence, so a file changed together with its
// manifest line is still caught. `sha256sum -c MANIFEST.sha256` checks the
// files too, without suiji.

// Bundle file names.
const (
	BundleManifest = "MANIFEST.sha256"
	BundleJSON     = "archive.json"
	bundleReadme   = "README.txt"
)

// bundleDocument and bundleEvidence are a bundle's paths of a document and
// of a piece of evidence.
func bundleDocument(kind string) string { return "documents/" + kind + ".pdf" }

func bundleEvidence(id, contentType string) string {
	return "evidence/" + id + media.Extension(contentType)
}

const readme = `This folder is the archive of one inspection task exported by suiji
(suiji archive export). archive.json lists the task's records, its
documents and its evidence with the SHA-256 recorded when each was stored;
documents/ and evidence/ hold the files themselves.

Check it: suiji archive verify --bundle THIS-FOLDER
or, without suiji: sha256sum -c MANIFEST.sha256 (and compare the sha256
fields of archive.json with the manifest's lines).
`

// ExportBundle writes a's bundle into dir (created if missing; it must
// be empty), archiveJSON being what the archive lists of the task. Every
// document and verified piece of evidence is streamed from the store,
// checked against its record on the way — an export never carries an
// object that differs from its record (EINTERNAL naming it; run suiji
// archive verify) — and hashed into the manifest.
func (s *Service) ExportBundle(ctx context.Context, a *Archive, archiveJSON []byte, dir string) (int, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	if entries, err := os.ReadDir(dir); err != nil {
		return 0, err
	} else if len(entries) > 0 {
		return 0, backend.Errorf(backend.EINVALID, "%s is not empty; a bundle is written into an empty folder", dir)
	}
	manifest := map[string]string{}
	put := func(name string, r io.Reader) (string, int64, error) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", 0, err
		}
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return "", 0, err
		}
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(f, h), r)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		sum := hex.EncodeToString(h.Sum(nil))
		manifest[name] = sum
		return sum, n, err
	}
	stored := func(name, sum string, size int64, open func() (io.ReadCloser, int64, error)) error {
		body, _, err := open()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		defer body.Close()
		got, n, err := put(name, body)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if got != sum || n != size {
			return backend.Errorf(backend.EINTERNAL, "%s in storage (%d bytes, SHA-256 %s) differs from its record (%d bytes, %s); run suiji archive verify", name, n, got, size, sum)
		}
		return nil
	}
	for _, d := range a.Documents {
		if err := stored(bundleDocument(d.Kind), d.SHA256, d.Size, func() (io.ReadCloser, int64, error) {
			return s.Objects.OpenDocument(ctx, d.ObjectKey, d.VersionID)
		}); err != nil {
			return 0, err
		}
	}
	for _, e := range a.Evidence {
		if e.State != backend.EvidenceVerified {
			continue // listed in archive.json with its state; its bytes were never accepted
		}
		if err := stored(bundleEvidence(e.ID, e.ContentType), e.SHA256, e.Size, func() (io.ReadCloser, int64, error) {
			return s.Objects.OpenEvidenceVersion(ctx, e.ObjectKey, e.VersionID)
		}); err != nil {
			return 0, err
		}
	}
	for name, body := range map[string]string{BundleJSON: string(archiveJSON), bundleReadme: readme} {
		if _, _, err := put(name, strings.NewReader(body)); err != nil {
			return 0, err
		}
	}
	names := make([]string, 0, len(manifest))
	for name := range manifest {
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, name := range names {
		fmt.Fprintf(&b, "%s  %s\n", manifest[name], name)
	}
	return len(names), os.WriteFile(filepath.Join(dir, BundleManifest), []byte(b.String()), 0o644)
}

// manifestLine is one line of a manifest: 64 hex digits, two spaces, a
// relative slash path.
var manifestLine = regexp.MustCompile(`^([0-9a-f]{64})  (\S.*)$`)

// bundleIndex is what VerifyBundle reads of archive.json: the recorded
// hash of every document and piece of evidence.
type bundleIndex struct {
	Documents []struct {
		Kind   string `json:"kind"`
		SHA256 string `json:"sha256"`
	} `json:"documents"`
	Evidence []struct {
		ID          string `json:"id"`
		ContentType string `json:"content_type"`
		State       string `json:"state"`
		SHA256      string `json:"sha256"`
	} `json:"evidence"`
}

// VerifyBundle checks the bundle in dir on its own (see ExportBundle) and
// calls found for every difference: a file missing, altered, or not in
// the manifest; a manifest that disagrees with archive.json. It returns
// the number of files checked and of differences; an error when the
// bundle cannot be read at all (no manifest).
func VerifyBundle(dir string, found func(string)) (files, differences int, err error) {
	diff := func(format string, args ...any) {
		differences++
		found(fmt.Sprintf(format, args...))
	}
	f, err := os.Open(filepath.Join(dir, BundleManifest))
	if err != nil {
		return 0, 0, fmt.Errorf("reading the bundle's manifest: %w", err)
	}
	defer f.Close()
	manifest := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		m := manifestLine.FindStringSubmatch(sc.Text())
		name := ""
		if m != nil {
			name = m[2]
		}
		switch {
		case m == nil:
			diff("%s line %d is not \"SHA256  PATH\"", BundleManifest, n)
		case name != path.Clean(name) || path.IsAbs(name) || strings.HasPrefix(name, "../") || name == BundleManifest:
			diff("%s line %d names %q, which is not a file of the bundle", BundleManifest, n, name)
		default:
			manifest[name] = m[1]
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, fmt.Errorf("reading the bundle's manifest: %w", err)
	}
	names := make([]string, 0, len(manifest))
	for name := range manifest {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		files++
		got, err := hashFile(filepath.Join(dir, filepath.FromSlash(name)))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			diff("%s is missing", name)
		case err != nil:
			return files, differences, err
		case got != manifest[name]:
			diff("%s: SHA-256 %s differs from the manifest's %s", name, got, manifest[name])
		}
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if name := filepath.ToSlash(rel); err == nil && name != BundleManifest && manifest[name] == "" {
			diff("%s is not in the manifest", name)
		}
		return err
	})
	if err != nil {
		return files, differences, err
	}
	// The manifest must say what archive.json recorded.
	var idx bundleIndex
	if data, err := os.ReadFile(filepath.Join(dir, BundleJSON)); err != nil {
		diff("%s cannot be read: %v", BundleJSON, err)
	} else if err := json.Unmarshal(data, &idx); err != nil {
		diff("%s is not the archive's JSON: %v", BundleJSON, err)
	}
	want := func(name, sum string) {
		if manifest[name] != sum {
			diff("%s: the manifest says SHA-256 %q, %s recorded %s", name, manifest[name], BundleJSON, sum)
		}
	}
	for _, d := range idx.Documents {
		want(bundleDocument(d.Kind), d.SHA256)
	}
	for _, e := range idx.Evidence {
		if e.State == backend.EvidenceVerified {
			want(bundleEvidence(e.ID, e.ContentType), e.SHA256)
		}
	}
	return files, differences, nil
}

// hashFile streams a file through SHA-256.
func hashFile(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
