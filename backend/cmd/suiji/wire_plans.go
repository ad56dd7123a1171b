package main

import (
	"time"

	"suiji/backend"
	"suiji/backend/plans"
	mobileapi "suiji/mobile-api"
)

func init() {
	wirings = append(wirings, func(st *stores, svc *mobileapi.Services, audit backend.Auditor, now func() time.Time) {
		svc.Plans = &plans.Service{
			Plans: st.mongo.Plans(), Draws: st.mongo.Draws(), Enterprises: st.mongo.Enterprises(),
			Inspectors: st.mongo.Inspectors(), Items: st.mongo.Items(), Departments: st.mongo.Departments(),
			Towns: st.mongo.Towns(), Locks: st.cache.Locks(), Audit: audit, Now: now, Rand: plans.NewRandReader(),
		}
	})
}
