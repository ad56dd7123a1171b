package mobileapi

import (
	"github.com/gofiber/fiber/v2"

	"suiji/backend"
)

// Every paged listing reads the same parameters — limit, after (the next
// value of the previous page) and, for the first screens only, offset (at
// most backend.MaxOffset) — and answers with total, limit, offset and next
// (absent on the last page). See backend.Cursor.

// pageQuery is a listing's paging parameters.
type pageQuery struct {
	After  backend.Cursor
	Offset int
	Limit  int
}

// readPage reads limit (1…maxLimit, default defLimit), after and offset.
func readPage(c *fiber.Ctx, defLimit, maxLimit int) (pageQuery, error) {
	limit, err := queryInt(c, "limit", defLimit, 1, maxLimit)
	if err != nil {
		return pageQuery{}, err
	}
	offset, err := queryInt(c, "offset", 0, 0, backend.MaxOffset)
	if err != nil {
		return pageQuery{}, err
	}
	after, err := backend.DecodeCursor(c.Query("after"))
	if err != nil {
		return pageQuery{}, err
	}
	if after != nil && offset != 0 {
		return pageQuery{}, backend.InvalidFields("invalid paging", map[string]string{"offset": "give either after or offset, not both"})
	}
	return pageQuery{After: after, Offset: offset, Limit: limit}, nil
}

// nextPage is the "next" value after a page of list: the cursor of its
// last record, or "" when the page was not full (there is no next page).
func nextPage[T any](list []T, limit int, cursorOf func(T) backend.Cursor) string {
	if len(list) == 0 || len(list) < limit {
		return ""
	}
	return cursorOf(list[len(list)-1]).Encode()
}

// pageMap is the paging part of a listing's answer.
func pageMap(body fiber.Map, p pageQuery, total int, next string) fiber.Map {
	body["total"], body["offset"], body["limit"] = total, p.Offset, p.Limit
	if next != "" {
		body["next"] = next
	}
	return body
}
