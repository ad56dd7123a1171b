package directory_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"suiji/backend"
	"suiji/backend/directory"
	"suiji/backend/sheet"
	"suiji/backend/uscc"
	"suiji/storage/storagetest"
)

// guardCodes returns n valid USCCs of a seed of the test's own.
func guardCodes(seed uint64, n int) []string {
	rng := rand.New(rand.NewPCG(seed, seed))
	out := make([]string, n)
	for i := range out {
		out[i] = uscc.Generate(rng)
	}
	return out
}

// directorySnapshot is every stored enterprise as JSON, to compare before
// and after a refusal; it also shows that a listing encodes.
func directorySnapshot(t *testing.T, svc *directory.Service) string {
	t.Helper()
	list, _, err := svc.ListEnterprises(asClerk(t.Context()), backend.EnterpriseFilter{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(list)
	if err != nil {
		t.Fatalf("the directory listing does not encode: %v", err)
	}
	return string(b)
}

// TestEnterpriseNaNLocationIsRefusedEverywhere: "NaN" and "Inf" in a file,
// and NaN or an infinity given to the service by the API, are refused
// naming the coordinate, and nothing is stored.
func TestEnterpriseNaNLocationIsRefusedEverywhere(t *testing.T) {
	svc, _ := newService(t)
	ctx := asClerk(t.Context())
	codes := guardCodes(41, 3)
	a, err := svc.CreateEnterprise(ctx, directory.NewEnterprise{USCC: codes[0], Name: "甲", Town: "巴公镇", Location: &backend.GeoPoint{Lat: 35.5, Lng: 112.8}})
	if err != nil {
		t.Fatal(err)
	}
	before := directorySnapshot(t, svc)

	file := "统一社会信用代码,企业名称,所属乡镇,纬度,经度\n" +
		codes[1] + ",乙,巴公镇,NaN,112.8\n" +
		codes[0] + ",甲,巴公镇,35.5,Inf\n" +
		codes[2] + ",丙,巴公镇,35.6,112.9\n"
	for _, partial := range []bool{false, true} {
		r, err := svc.ImportEnterprises(ctx, strings.NewReader(file), sheet.ImportOptions{Filename: "名录.csv", Partial: partial})
		if !partial && backend.ErrorCode(err) != backend.EINVALID || partial && err != nil {
			t.Fatalf("partial %v: %v", partial, err)
		}
		got := map[string]string{}
		for _, e := range r.Errors {
			got[e.Header] += e.Message
		}
		if r.Rejected != 2 || !strings.Contains(got["纬度"], "latitude") || !strings.Contains(got["经度"], "longitude") {
			t.Fatalf("partial %v: report %+v", partial, r)
		}
		if !partial {
			if after := directorySnapshot(t, svc); after != before {
				t.Fatalf("a refused import changed the directory:\n%s\n%s", before, after)
			}
		}
	}
	// The partial import stored the good row only: A is unchanged, and the
	// listing (and so the phones' sync) still encodes.
	got, err := svc.GetEnterprise(ctx, a.ID)
	if err != nil || got.Version != 1 || got.Location.Lng != 112.8 {
		t.Fatalf("A after the imports: %+v, %v", got, err)
	}
	if _, n, _ := svc.ListEnterprises(ctx, backend.EnterpriseFilter{}); n != 2 {
		t.Fatalf("%d enterprises, want A and the good new row", n)
	}
	before = directorySnapshot(t, svc)

	for _, loc := range []backend.GeoPoint{{Lat: math.NaN(), Lng: 112}, {Lat: 35, Lng: math.Inf(1)}} {
		_, err := svc.CreateEnterprise(ctx, directory.NewEnterprise{USCC: codes[1], Name: "乙", Town: "巴公镇", Location: &loc})
		if f := backend.ErrorFields(err); backend.ErrorCode(err) != backend.EINVALID || f["location.lat"] == "" && f["location.lng"] == "" {
			t.Errorf("create at %v: %v", loc, err)
		}
		_, err = svc.UpdateEnterprise(ctx, a.ID, directory.EnterprisePatch{Location: &loc})
		if f := backend.ErrorFields(err); backend.ErrorCode(err) != backend.EINVALID || f["location.lat"] == "" && f["location.lng"] == "" {
			t.Errorf("update to %v: %v", loc, err)
		}
	}
	if after := directorySnapshot(t, svc); after != before {
		t.Fatalf("refused API changes changed the directory:\n%s\n%s", before, after)
	}
}

// TestEnterpriseImportSaysWhatARaceLeftStored: without partial, a row that
// loses its compare-and-set to another writer while the file is stored is
// rejected, the others stand, and the summary says they were stored, not
// "nothing was stored".
func TestEnterpriseImportSaysWhatARaceLeftStored(t *testing.T) {
	svc, _ := newService(t)
	ctx := asClerk(t.Context())
	codes := guardCodes(42, 3)
	a, err := svc.CreateEnterprise(ctx, directory.NewEnterprise{USCC: codes[0], Name: "甲", Town: "巴公镇"})
	if err != nil {
		t.Fatal(err)
	}
	file := "统一社会信用代码,企业名称,所属乡镇\n" + codes[1] + ",乙,巴公镇\n" + codes[0] + ",甲（改）,巴公镇\n" + codes[2] + ",丙,巴公镇\n"
	opts := sheet.ImportOptions{Filename: "名录.csv", BatchSize: 1, Progress: func(done, _ int) {
		if done == 1 { // between the first batch and A's: another clerk edits A
			name := "甲（他人改）"
			if _, err := svc.UpdateEnterprise(ctx, a.ID, directory.EnterprisePatch{Name: &name}); err != nil {
				t.Error(err)
			}
		}
	}}
	r, err := svc.ImportEnterprises(ctx, strings.NewReader(file), opts)
	if err != nil {
		t.Fatal(err)
	}
	if r.Stored != 2 || r.Rejected != 1 || len(r.Errors) != 1 || r.Errors[0].Line != 3 {
		t.Fatalf("report %+v", r)
	}
	if s := r.Summary(false); strings.Contains(s, "nothing was stored") || !strings.Contains(s, "the other 2 were stored (2 created") {
		t.Errorf("summary %q", s)
	}
	got, _ := svc.GetEnterprise(ctx, a.ID)
	if got.Name != "甲（他人改）" {
		t.Errorf("A is %q: the race's winner must stand", got.Name)
	}
	if _, n, _ := svc.ListEnterprises(ctx, backend.EnterpriseFilter{}); n != 3 {
		t.Errorf("%d enterprises stored, want A and the two created", n)
	}
}

// TestEnterpriseImportStoppedSaysWhatWasStored: a batch failing after
// earlier ones were written stops the import with the error, and the
// report counts the earlier batches as stored.
func TestEnterpriseImportStoppedSaysWhatWasStored(t *testing.T) {
	svc, db := newService(t)
	svc.Enterprises = &storagetest.FailingCreates{EnterpriseStore: db.Enterprises(), N: 2}
	ctx := asClerk(t.Context())
	codes := guardCodes(43, 3)
	file := "统一社会信用代码,企业名称,所属乡镇\n" + codes[0] + ",甲,巴公镇\n" + codes[1] + ",乙,巴公镇\n" + codes[2] + ",丙,巴公镇\n"
	r, err := svc.ImportEnterprises(ctx, strings.NewReader(file), sheet.ImportOptions{Filename: "名录.csv", BatchSize: 1})
	if backend.ErrorCode(err) != backend.EUNAVAILABLE || r == nil {
		t.Fatalf("error %v, report %v", err, r)
	}
	if r.Stored != 1 {
		t.Errorf("stored %d, want the first batch", r.Stored)
	}
	if s := r.Summary(false); !strings.Contains(s, "1 row stored, 2 more not stored or not all") {
		t.Errorf("summary %q", s)
	}
	if list, n, _ := db.Enterprises().FindEnterprises(ctx, backend.EnterpriseFilter{}); n != 1 || list[0].USCC != codes[0] {
		t.Errorf("%d enterprises stored, want the first", n)
	}
}
