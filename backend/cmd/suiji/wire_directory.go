package main

import (
	"time"

	"suiji/backend"
	"suiji/backend/directory"
	mobileapi "suiji/mobile-api"
)

// wireDirectory builds the directory use case on the open stores: towns,
// departments and enterprises (art. 6, 7, 13, 16). Zezhou's towns are
// seeded by the service the first time anything reads or checks a town, so
// a fresh database needs no seed step and several instances starting at
// once seed each town once (the unique index on the name decides).

func wireDirectory(st *stores, svc *mobileapi.Services, audit backend.Auditor, now func() time.Time) {
	svc.Directory = &directory.Service{
		Towns:       st.mongo.Towns(),
		Departments: st.mongo.Departments(),
		Enterprises: st.mongo.Enterprises(),
		Versions:    st.mongo.Versions(),
		Audit:       audit,
		Now:         now,
	}
}

func init() { wirings = append(wirings, wireDirectory) }
