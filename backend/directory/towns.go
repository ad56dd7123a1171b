package directory

import (
	"context"
	"regexp"
	"strings"
	"unicode/utf8"

	"suiji/backend"
	"suiji/backend/sheet"
)

// ZezhouTowns are the township-level divisions (乡镇) of Zezhou County that
// a new database starts with, so that enterprises can be filed and draws
// balanced across towns (art. 8) before anyone types a list. Codes are left
// empty: an admin can add a town with its code, and a wrong code would be
// worse than none. Names follow the county's current list as we know it;
// an admin adds any that is missing (nothing is ever deleted).
var ZezhouTowns = []string{
	"南村镇", "下村镇", "大东沟镇", "周村镇", "犁川镇", "晋庙铺镇", "金村镇", "高都镇", "巴公镇",
	"大阳镇", "山河镇", "柳树口镇", "北义城镇", "大箕镇", "川底镇", "南岭镇", "李寨镇",
}

// NewTown is the input of CreateTown.
type NewTown struct {
	Name string
	Code string // administrative division code, optional
}

// townCode is a township-level division code: 9 digits (county code plus
// three), or the 12-digit form statistics tables use.
var townCode = regexp.MustCompile(`^(\d{9}|\d{12})$`)

// EnsureTowns creates whichever of ZezhouTowns is missing and reports how
// many it created. It is idempotent and safe to run from several instances
// at once: the unique index on the name turns a race into ECONFLICT, which
// is ignored. Writes made here are attributed to the system (no actor).
func (s *Service) EnsureTowns(ctx context.Context) (int, error) {
	have, err := s.Towns.FindTowns(ctx)
	if err != nil {
		return 0, err
	}
	known := map[string]bool{}
	for _, t := range have {
		known[t.Name] = true
	}
	created := 0
	for _, name := range ZezhouTowns {
		if known[name] {
			continue
		}
		t := &backend.Town{ID: backend.NewID(), Name: name, CreatedAt: s.now()}
		err := s.Audit.Change(ctx, backend.AuditChange{Action: "town.seed", ObjectType: "town", ObjectID: t.ID, After: townFields(t)},
			func(ctx context.Context) error { return s.Towns.CreateTown(ctx, t) })
		switch backend.ErrorCode(err) {
		case "":
			created++
		case backend.ECONFLICT: // another instance seeded it just now
		default:
			return created, err
		}
	}
	s.townsSeeded.Store(true)
	return created, nil
}

// ensureTownsOnce seeds the towns the first time anything needs them, so
// that a server started without the wiring's seeding still has them.
func (s *Service) ensureTownsOnce(ctx context.Context) error {
	if s.townsSeeded.Load() {
		return nil
	}
	_, err := s.EnsureTowns(ctx)
	return err
}

// ListTowns lists the managed towns by name, seeding Zezhou's on first use.
func (s *Service) ListTowns(ctx context.Context) ([]*backend.Town, error) {
	if err := s.ensureTownsOnce(ctx); err != nil {
		return nil, err
	}
	return s.Towns.FindTowns(ctx)
}

// CreateTown adds a town to the managed list. EINVALID naming each bad
// field; ECONFLICT (fields.name) when the name is taken.
func (s *Service) CreateTown(ctx context.Context, in NewTown) (*backend.Town, error) {
	if err := s.ensureTownsOnce(ctx); err != nil {
		return nil, err
	}
	t := &backend.Town{ID: backend.NewID(), Name: strings.TrimSpace(in.Name), Code: strings.TrimSpace(in.Code), CreatedAt: s.now()}
	fields := map[string]string{}
	if n := utf8.RuneCountInString(t.Name); n == 0 || n > 50 {
		fields["name"] = "1–50 characters"
	}
	if t.Code != "" && !townCode.MatchString(t.Code) {
		fields["code"] = "a township division code of 9 or 12 digits"
	}
	if len(fields) > 0 {
		return nil, backend.InvalidFields("invalid town", fields)
	}
	after := townFields(t)
	err := s.Audit.Change(ctx, backend.AuditChange{Action: "town.create", ObjectType: "town", ObjectID: t.ID, After: after},
		func(ctx context.Context) error {
			if err := s.Towns.CreateTown(ctx, t); err != nil {
				return err
			}
			return s.recordVersion(ctx, "town", t.ID, 1, "create", backend.Diff(nil, after), t.CreatedAt)
		})
	if backend.ErrorCode(err) == backend.ECONFLICT {
		return nil, &backend.Error{Code: backend.ECONFLICT, Message: "town " + t.Name + " already exists",
			Fields: map[string]string{"name": "taken"}, Err: err}
	} else if err != nil {
		return nil, err
	}
	return t, nil
}

// checkTown returns the managed town's name for name, or the reason it is
// none. A name that differs from a managed one only in its 镇/乡 suffix
// matches it (see townStem), so that files written before a township became
// a town, or the other way round, still import.
func (s *Service) checkTown(ctx context.Context, name string) (string, string, error) {
	if name == "" {
		return "", "required", nil
	}
	towns, err := s.townNames(ctx)
	if err != nil {
		return "", "", err
	}
	if canonical, ok := towns[name]; ok {
		return canonical, "", nil
	}
	return "", "unknown town '" + sheet.Clip(name) + "'", nil
}

// townNames maps every managed town's name, and its stem when no other
// town shares it, to the name.
func (s *Service) townNames(ctx context.Context) (map[string]string, error) {
	list, err := s.ListTowns(ctx)
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, 2*len(list))
	stems := map[string]int{}
	for _, t := range list {
		names[t.Name] = t.Name
		stems[townStem(t.Name)]++
	}
	for _, t := range list {
		stem := townStem(t.Name)
		if stems[stem] != 1 {
			continue
		}
		for _, alias := range []string{stem, stem + "镇", stem + "乡"} {
			if _, taken := names[alias]; !taken {
				names[alias] = t.Name
			}
		}
	}
	return names, nil
}

// townStem is a town's name without its 镇 (town) or 乡 (township) suffix:
// townships are regularly upgraded to towns, and clerks' files lag behind.
func townStem(name string) string {
	for _, suffix := range []string{"镇", "乡"} {
		if stem, ok := strings.CutSuffix(name, suffix); ok && stem != "" {
			return stem
		}
	}
	return name
}

func townFields(t *backend.Town) map[string]any {
	return map[string]any{"name": t.Name, "code": t.Code}
}
