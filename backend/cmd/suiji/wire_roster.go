package main

import (
	"time"

	"suiji/backend"
	"suiji/backend/itemlist"
	"suiji/backend/roster"
	mobileapi "suiji/mobile-api"
)

// wireRoster builds the roster and item-list use cases on the open stores:
// inspectors and qualifications (art. 12, 15) and the yearly item lists
// (art. 9, 10). The default qualifications are stored by the services on
// first use, so a fresh database needs no seed step.
func wireRoster(st *stores, svc *mobileapi.Services, audit backend.Auditor, now func() time.Time) {
	svc.Roster = &roster.Service{
		Inspectors:     st.mongo.Inspectors(),
		Qualifications: st.mongo.Qualifications(),
		Users:          st.mongo.Users(),
		Departments:    st.mongo.Departments(),
		Enterprises:    st.mongo.Enterprises(),
		Versions:       st.mongo.Versions(),
		Audit:          audit,
		Now:            now,
	}
	svc.Items = &itemlist.Service{
		Items:          st.mongo.Items(),
		Qualifications: st.mongo.Qualifications(),
		Departments:    st.mongo.Departments(),
		Versions:       st.mongo.Versions(),
		Audit:          audit,
		Now:            now,
	}
}

func init() { wirings = append(wirings, wireRoster) }
