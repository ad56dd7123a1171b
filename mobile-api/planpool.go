package mobileapi

import (
	"encoding/json"
	"strings"

	"github.com/gofiber/fiber/v2"

	"suiji/backend"
)

// handlePoolPreview is GET /api/v1/reports/pool: the size of the pool a
// plan with the given year, kind, filter and sample would draw from now
// (the console's live figure while a plan is drafted). List parameters
// (towns, industries, categories, flags) are comma-separated.
func (s *Server) handlePoolPreview(c *fiber.Ctx) error {
	year, err := s.yearParam(c)
	if err != nil {
		return err
	}
	ratio := decimalRatio(json.Number(c.Query("ratio")))
	if ratio == "0" {
		ratio = "" // no ratio: the console's count mode
	}
	count, err := queryInt(c, "count", 0, 0, 1<<30)
	if err != nil {
		return err
	}
	filter := backend.PlanFilter{
		Towns: queryList(c, "towns"), Industries: queryList(c, "industries"),
		Categories: queryList(c, "categories"), Flags: queryList(c, "flags"),
	}
	pv, err := s.svc.Plans.PreviewPool(c.UserContext(), year, strings.Clone(c.Query("kind", backend.PlanUndirected)), filter,
		backend.PlanSample{Ratio: strings.Clone(ratio), Count: count})
	if err != nil {
		return err
	}
	type town struct {
		Town     string `json:"town"`
		PoolSize int    `json:"pool_size"`
	}
	towns := make([]town, len(pv.Towns))
	for i, t := range pv.Towns {
		towns[i] = town{t.Town, t.Size}
	}
	return c.JSON(fiber.Map{"year": pv.Year, "kind": pv.Kind, "pool_size": pv.Size, "sample_size": pv.Sample,
		"towns": towns, "left_out": pv.Left})
}

// queryList reads a comma-separated (or 、-separated) list parameter,
// copied out of Fiber's request memory; empty entries are dropped.
func queryList(c *fiber.Ctx, name string) []string {
	raw := strings.ReplaceAll(c.Query(name), "、", ",")
	var out []string
	for _, v := range strings.Split(raw, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, strings.Clone(v))
		}
	}
	return out
}
