package web

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"strings"
	"time"
)

// templateFiles are the portal's page templates: layout.html wraps every
// other file's "content".
//
//go:embed templates/*.html
var templateFiles embed.FS

// portalStrings is the path of the portal's zh-CN strings, shared by the
// server-rendered pages and the verifier script (which imports the same
// file), so that every portal string is in one place.
const portalStrings = "portal/zh-CN.json"

// chinaTime is the zone the portal shows times in (the bureau's).
var chinaTime = time.FixedZone("CST", 8*3600)

// Page is what every portal page gets: its title, the navigation entry to
// mark, the module scripts to load, and the page's own data.
type Page struct {
	Title   string
	Active  string // "home", "items", "results", "verify" or ""
	Scripts []string
	Data    any
}

// Portal renders the public portal's pages.
type Portal struct {
	pages   map[string]*template.Template
	strings map[string]string
}

// LoadPortal parses the templates and the strings. It fails only on a
// broken template or strings file, which tests catch.
func LoadPortal() (*Portal, error) {
	raw, err := fs.ReadFile(files, portalStrings)
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	p := &Portal{pages: map[string]*template.Template{}}
	if err := json.Unmarshal(raw, &p.strings); err != nil {
		return nil, fmt.Errorf("web: %s: %w", portalStrings, err)
	}
	funcs := template.FuncMap{
		"t":    p.T,
		"tf":   p.Tf,
		"when": when,
		// percent writes a decimal ratio ("0.075") as a percentage
		// ("7.5%"), exactly: the decimal point moves two places.
		"percent": func(ratio string) string {
			whole, frac, _ := strings.Cut(ratio, ".")
			frac += "00"
			digits := strings.TrimLeft(whole+frac[:2], "0")
			if digits == "" {
				digits = "0"
			}
			if rest := strings.TrimRight(frac[2:], "0"); rest != "" {
				digits += "." + rest
			}
			return digits + "%"
		},
		"join": strings.Join,
		"inc":  func(i int) int { return i + 1 },
	}
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("web: layout: %w", err)
	}
	names, _ := fs.Glob(templateFiles, "templates/*.html") // the pattern is valid
	for _, name := range names {
		if name == "templates/layout.html" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFiles, name)
		if err != nil {
			return nil, fmt.Errorf("web: %s: %w", name, err)
		}
		p.pages[strings.TrimSuffix(strings.TrimPrefix(name, "templates/"), ".html")] = t
	}
	return p, nil
}

// T returns the string for key; a missing key shows as itself, so a
// forgotten string is visible on the page (and in the tests) rather than
// blank.
func (p *Portal) T(key string) string {
	if s, ok := p.strings[key]; ok {
		return s
	}
	return key
}

// Tf returns the string for key with {name} placeholders filled from
// name/value pairs.
func (p *Portal) Tf(key string, pairs ...any) string {
	s := p.T(key)
	for i := 0; i+1 < len(pairs); i += 2 {
		s = strings.ReplaceAll(s, "{"+fmt.Sprint(pairs[i])+"}", fmt.Sprint(pairs[i+1]))
	}
	return s
}

// Render executes page (a template's file name without .html) with data.
func (p *Portal) Render(page string, data Page) ([]byte, error) {
	t, ok := p.pages[page]
	if !ok {
		return nil, fmt.Errorf("web: no page %q", page)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		return nil, fmt.Errorf("web: rendering %s: %w", page, err)
	}
	return buf.Bytes(), nil
}

// when formats a time (or *time.Time, nil being empty, or an RFC 3339
// string as records keep times) in the bureau's zone.
func when(v any) string {
	switch t := v.(type) {
	case string:
		if at, err := time.Parse(time.RFC3339, t); err == nil {
			return at.In(chinaTime).Format("2006-01-02 15:04:05")
		}
		return t
	case time.Time:
		return t.In(chinaTime).Format("2006-01-02 15:04")
	case *time.Time:
		if t == nil {
			return ""
		}
		return t.In(chinaTime).Format("2006-01-02 15:04")
	}
	return fmt.Sprint(v)
}
