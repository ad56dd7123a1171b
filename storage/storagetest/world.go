package storagetest

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"suiji/backend"
	"suiji/backend/uscc"
	"suiji/storage/mongodb"
)

// World is a small county for tests of plans and draws: a brigade and an
// office, three towns, n active enterprises (every fourth a
// hazardous-chemicals unit), eight brigade inspectors (every other one
// qualified for hazardous chemicals) and a published 2026 item list of two
// items (general, hazardous chemicals).
type World struct {
	Brigade, Office *backend.Department
	Towns           []string
	Items           []string // item ids
	Enterprises     []*backend.Enterprise
	Inspectors      []*backend.Inspector
}

// NewWorld stores a World in db.
func NewWorld(t testing.TB, db *mongodb.DB, n int) *World {
	t.Helper()
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("storagetest: building the world: %v", err)
		}
	}
	w := &World{
		Brigade: &backend.Department{Name: "综合执法大队", Kind: backend.DepartmentBrigade},
		Office:  &backend.Department{Name: "危化股", Kind: backend.DepartmentInternal},
		Towns:   []string{"巴公镇", "高都镇", "金村镇"},
	}
	must(db.Departments().CreateDepartment(ctx, w.Brigade))
	must(db.Departments().CreateDepartment(ctx, w.Office))
	for _, name := range w.Towns {
		if err := db.Towns().CreateTown(ctx, &backend.Town{Name: name}); backend.ErrorCode(err) != backend.ECONFLICT {
			must(err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		e := &backend.Enterprise{
			USCC: uscc.Generate(rng), Name: fmt.Sprintf("测试企业%03d", i), Town: w.Towns[i%len(w.Towns)],
			Industry: "制造业", Status: backend.EnterpriseActive, Version: 1,
		}
		if i%4 == 0 {
			e.Categories = []string{backend.CategoryHazardousChemicals}
		}
		must(db.Enterprises().CreateEnterprise(ctx, e))
		w.Enterprises = append(w.Enterprises, e)
	}
	for i := range 8 {
		in := &backend.Inspector{
			UserID: fmt.Sprintf("user-%d", i), Name: fmt.Sprintf("检查员%d", i), BadgeNo: fmt.Sprintf("1405250%05d", i),
			CertificateExpires: "2030-12-31", DepartmentID: w.Brigade.ID, Qualifications: []string{"general"},
			Active: true, Version: 1,
		}
		if i%2 == 0 {
			in.Qualifications = append(in.Qualifications, backend.CategoryHazardousChemicals)
		}
		must(db.Inspectors().CreateInspector(ctx, in))
		w.Inspectors = append(w.Inspectors, in)
	}
	for i, q := range []string{"general", backend.CategoryHazardousChemicals} {
		it := &backend.Item{
			Year: 2026, Code: fmt.Sprintf("T-%d", i), Name: "检查事项", DepartmentID: w.Office.ID,
			LegalBasis: backend.LegalBasis{Law: "《中华人民共和国安全生产法》", Article: "第四十一条"},
			Content:    "内容", Method: backend.MethodOnSite, Qualification: q, Version: 1,
		}
		must(db.Items().CreateItem(ctx, it))
		w.Items = append(w.Items, it.ID)
	}
	must(db.Items().CreateItemPublication(ctx, &backend.ItemPublication{Year: 2026, PublishedAt: time.Now().UTC(), PublishedBy: "storagetest", ItemCount: 2}))
	return w
}
