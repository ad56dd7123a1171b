package mobileapi

import (
	"bytes"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"suiji/backend"
	"suiji/backend/results"
)

// statsJSON is the bureau's compliance in figures (GET /api/v1/stats).
type statsJSON struct {
	Year              int                 `json:"year"`
	DepartmentID      string              `json:"department_id"`
	Coverage          statsCoverageJSON   `json:"coverage"`
	OverCap           statsOverCapJSON    `json:"over_cap"`
	RandomShare       statsShareJSON      `json:"random_share"`
	Feedback          timelinessJSON      `json:"feedback"`
	Publication       timelinessJSON      `json:"publication"`
	TasksPerInspector []inspectorLoadJSON `json:"tasks_per_inspector"`
	// Findings by severity and rectification closed on time come with the
	// on-site findings (issue 9); null until then.
	Findings *struct{} `json:"findings"`
}

type statsCoverageJSON struct {
	Scope          string       `json:"scope"` // always "county": key units belong to no department
	KeySupervision coverageJSON `json:"key_supervision"`
	Blacklist      coverageJSON `json:"blacklist"`
}

type coverageJSON struct {
	Total     int                  `json:"total"`
	Covered   int                  `json:"covered"`
	Share     float64              `json:"share"`
	Target    float64              `json:"target"`
	Uncovered []statsEnterpriseRef `json:"uncovered"`
}

type statsEnterpriseRef struct {
	ID    string `json:"id"`
	USCC  string `json:"uscc"`
	Name  string `json:"name"`
	Town  string `json:"town"`
	Draws int    `json:"draws,omitempty"`
}

type statsOverCapJSON struct {
	Scope       string               `json:"scope"`
	Count       int                  `json:"count"`
	Target      int                  `json:"target"`
	Enterprises []statsEnterpriseRef `json:"enterprises"`
}

type statsShareJSON struct {
	Random      int     `json:"random"`
	Targeted    int     `json:"targeted"`
	Share       float64 `json:"share"`
	Target      float64 `json:"target"`
	MeetsTarget bool    `json:"meets_target"`
}

type timelinessJSON struct {
	Due     int                  `json:"due"`
	OnTime  int                  `json:"on_time"`
	Late    int                  `json:"late"`
	Overdue int                  `json:"overdue"`
	Pending int                  `json:"pending"`
	Missed  []missedDeadlineJSON `json:"missed"`
}

type missedDeadlineJSON struct {
	TaskID     string `json:"task_id"`
	Enterprise string `json:"enterprise"`
	Due        string `json:"due"`
	Done       string `json:"done,omitempty"`
}

type inspectorLoadJSON struct {
	BadgeNo      string `json:"badge_no"`
	Name         string `json:"name"`
	DepartmentID string `json:"department_id"`
	Tasks        int    `json:"tasks"`
}

func newStatsJSON(st *results.Stats) statsJSON {
	cov := func(c results.Coverage) coverageJSON {
		out := coverageJSON{Total: c.Total, Covered: c.Covered, Share: c.Share(), Target: results.TargetCoverage, Uncovered: []statsEnterpriseRef{}}
		for _, e := range c.Uncovered {
			out.Uncovered = append(out.Uncovered, statsEnterpriseRef{ID: e.ID, USCC: e.USCC, Name: e.Name, Town: e.Town})
		}
		return out
	}
	timely := func(tl results.Timeliness) timelinessJSON {
		out := timelinessJSON{Due: tl.Due, OnTime: tl.OnTime, Late: tl.Late, Overdue: tl.Overdue, Pending: tl.Pending, Missed: []missedDeadlineJSON{}}
		for _, m := range tl.Missed {
			out.Missed = append(out.Missed, missedDeadlineJSON(m))
		}
		return out
	}
	out := statsJSON{
		Year: st.Year, DepartmentID: st.DepartmentID,
		Coverage: statsCoverageJSON{Scope: "county", KeySupervision: cov(st.KeySupervision), Blacklist: cov(st.Blacklist)},
		OverCap:  statsOverCapJSON{Scope: "county", Count: len(st.OverCap), Enterprises: []statsEnterpriseRef{}},
		RandomShare: statsShareJSON{Random: st.Random, Targeted: st.Targeted, Share: st.RandomShare(), Target: results.TargetRandomShare,
			MeetsTarget: st.RandomShare() >= results.TargetRandomShare},
		Feedback: timely(st.Feedback), Publication: timely(st.Publication), TasksPerInspector: []inspectorLoadJSON{},
	}
	for _, o := range st.OverCap {
		e := o.Enterprise
		out.OverCap.Enterprises = append(out.OverCap.Enterprises, statsEnterpriseRef{ID: e.ID, USCC: e.USCC, Name: e.Name, Town: e.Town, Draws: o.Draws})
	}
	for _, l := range st.Inspectors {
		out.TasksPerInspector = append(out.TasksPerInspector, inspectorLoadJSON(l))
	}
	return out
}

// handleStats answers GET /api/v1/stats?year=&department_id=[&format=xlsx].
func (s *Server) handleStats(c *fiber.Ctx) error {
	year, err := s.yearParam(c)
	if err != nil {
		return err
	}
	dept := c.Query("department_id")
	if dept != "" && !validID(dept) {
		return backend.InvalidFields("invalid query parameter", map[string]string{"department_id": "not an id"})
	}
	format := c.Query("format", "json")
	if format != "json" && format != "xlsx" {
		return backend.InvalidFields("invalid query parameter", map[string]string{"format": "json or xlsx"})
	}
	st, err := s.svc.Results.Statistics(c.UserContext(), year, cloneQuery(dept))
	if err != nil {
		return err
	}
	if format == "json" {
		return c.JSON(newStatsJSON(st))
	}
	var buf bytes.Buffer
	if err := results.WriteStatsXLSX(&buf, st); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, contentTypeXLSX)
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="stats-`+strconv.Itoa(year)+`.xlsx"`)
	return c.Send(buf.Bytes())
}
