package backend

import (
	"testing"
	"time"
)

func TestParseDate(t *testing.T) {
	for in, want := range map[string]Date{
		"2026-03-01":   "2026-03-01",
		" 2028-02-29 ": "2028-02-29", // leap day, surrounding space trimmed
		"1900-01-01":   "1900-01-01",
	} {
		if got, err := ParseDate(in); err != nil || got != want {
			t.Errorf("ParseDate(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "2026-02-30", "2027-02-29", "2026-13-01", "2026-1-5", "2026/01/05", "26-01-05",
		"2026-01-05T00:00:00Z", "1899-12-31", "tomorrow", "２０２６-01-05"} {
		if got, err := ParseDate(in); err == nil || ErrorCode(err) != EINVALID {
			t.Errorf("ParseDate(%q) = %q, %v; want EINVALID", in, got, err)
		}
	}
}

func TestDateOfUsesChinaCalendar(t *testing.T) {
	// 2026-06-30 16:30 UTC is already 2026-07-01 00:30 in Beijing.
	if got := DateOf(time.Date(2026, 6, 30, 16, 30, 0, 0, time.UTC)); got != "2026-07-01" {
		t.Errorf("DateOf = %s, want 2026-07-01", got)
	}
	if got := DateOf(time.Date(2026, 6, 30, 15, 59, 59, 0, time.UTC)); got != "2026-06-30" {
		t.Errorf("DateOf = %s, want 2026-06-30", got)
	}
}

func TestDateArithmetic(t *testing.T) {
	d := Date("2026-12-31")
	if got := d.AddDays(1); got != "2027-01-01" {
		t.Errorf("AddDays(1) = %s", got)
	}
	if got := Date("2028-03-01").AddDays(-1); got != "2028-02-29" {
		t.Errorf("AddDays(-1) = %s", got)
	}
	if got := Date("nope").AddDays(1); got != "" {
		t.Errorf("AddDays on an invalid date = %q", got)
	}
	if got := Date("2026-01-01").DaysUntil("2026-03-01"); got != 59 {
		t.Errorf("DaysUntil = %d, want 59", got)
	}
	if got := Date("2026-03-01").DaysUntil("2026-01-01"); got != -59 {
		t.Errorf("DaysUntil = %d, want -59", got)
	}
	if !Date("2026-01-01").Valid() || Date("2026-1-1").Valid() || Date("").Valid() {
		t.Error("Valid")
	}
}

func TestDrawable(t *testing.T) {
	today := Date("2026-05-10")
	for _, tc := range []struct {
		name    string
		in      *Inspector
		want    bool
		expired bool
	}{
		{"active, valid", &Inspector{Active: true, CertificateExpires: "2027-01-01"}, true, false},
		{"active, expires today: still valid today", &Inspector{Active: true, CertificateExpires: "2026-05-10"}, true, false},
		{"active, expired yesterday", &Inspector{Active: true, CertificateExpires: "2026-05-09"}, false, true},
		{"inactive, valid", &Inspector{Active: false, CertificateExpires: "2027-01-01"}, false, false},
		{"active, no expiry recorded", &Inspector{Active: true}, false, true},
		{"active, malformed expiry", &Inspector{Active: true, CertificateExpires: "2099-99-99"}, false, true},
		{"nil", nil, false, false},
	} {
		if got := Drawable(tc.in, today); got != tc.want {
			t.Errorf("%s: Drawable = %v, want %v", tc.name, got, tc.want)
		}
		if tc.in != nil {
			if got := CertificateExpired(tc.in.CertificateExpires, today); got != tc.expired {
				t.Errorf("%s: CertificateExpired = %v, want %v", tc.name, got, tc.expired)
			}
		}
	}
	// The next day the one expiring today is no longer drawable.
	if Drawable(&Inspector{Active: true, CertificateExpires: "2026-05-10"}, today.AddDays(1)) {
		t.Error("drawable the day after expiry")
	}
}

func TestNormalizeBadgeNo(t *testing.T) {
	for in, want := range map[string]string{
		"zz-0123":       "ZZ-0123",
		" ZZ 0123 ":     "ZZ0123",
		"ｚｚ－０１２３":       "ZZ-0123", // full width
		"14\u300005 21": "140521",  // ideographic space
		"":              "",
	} {
		if got := NormalizeBadgeNo(in); got != want {
			t.Errorf("NormalizeBadgeNo(%q) = %q, want %q", in, got, want)
		}
	}
}
