package backend

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
)

// Listings page by keyset: a page is the first Limit records after the
// last record of the previous page, named by that record's sort key (a
// Cursor), so page 1,000 costs what page 1 costs. Offsets are kept for
// the first screens only (at most MaxOffset records skipped): skipping is
// linear in the offset.
//
// Every filter with paging has an After field and a CursorOf method giving
// the cursor of one of its records; the API hands cursors to clients as
// the opaque "next" string (Cursor.Encode) and reads them back from the
// "after" parameter (DecodeCursor).

// Cursor is a keyset position: the values of the listing's sort key for
// the last record already seen, in sort order. Only the store that defined
// the order interprets it.
type Cursor []string

// MaxOffset is the largest offset a listing accepts; later pages use a
// cursor.
const MaxOffset = 1000

// CheckOffset refuses an offset above MaxOffset: EINVALID (field
// "offset").
func CheckOffset(offset int) error {
	if offset <= MaxOffset {
		return nil
	}
	return InvalidFields("offset too large",
		map[string]string{"offset": "at most " + strconv.Itoa(MaxOffset) + "; page on with after (the next value of the previous page)"})
}

// ForeignCursor is the error for a cursor that decodes but was not made
// by the listing given it: EINVALID (field "after").
func ForeignCursor() error {
	return InvalidFields("invalid cursor", map[string]string{"after": "not a cursor of this listing"})
}

// Encode returns the cursor as an opaque, URL-safe string.
func (c Cursor) Encode() string {
	if len(c) == 0 {
		return ""
	}
	b, _ := json.Marshal([]string(c))
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor reads what Encode wrote. EINVALID (field "after") for
// anything else; "" is no cursor (the first page).
func DecodeCursor(s string) (Cursor, error) {
	if s == "" {
		return nil, nil
	}
	bad := InvalidFields("invalid cursor", map[string]string{"after": "use the next value of the previous page"})
	if len(s) > 1024 {
		return nil, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	var c []string
	if err := json.Unmarshal(b, &c); err != nil || len(c) == 0 || len(c) > 4 {
		return nil, bad
	}
	return c, nil
}
