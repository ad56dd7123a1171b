package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"suiji/backend"
	"suiji/backend/accounts"
	"suiji/backend/app"
	"suiji/backend/auth"
	"suiji/backend/cmd/wire"
	"suiji/backend/config"
	"suiji/backend/demo"
	"suiji/backend/directory"
	"suiji/backend/itemlist"
	"suiji/backend/roster"
)

// runSeed loads demonstration data (backend/demo) into an empty
// installation through the same use cases the API uses, so every record is
// validated, versioned and audited like real data.
func runSeed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	demoData := fs.Bool("demo", false, "load the demo directory, roster, item list and users")
	ifEmpty := fs.Bool("if-empty", false, "do nothing (and succeed) when the directory already has enterprises")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: suiji seed --demo [--if-empty]")
		fmt.Fprintln(stderr, "Loads Zezhou demo data into an EMPTY database: departments, users, ~300 enterprises,")
		fmt.Fprintln(stderr, "32 inspectors and this year's published item list. Prints the logins.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !*demoData || fs.NArg() > 0 {
		return usageError{"seed needs --demo"}
	}
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		return err
	}
	st, err := wire.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close(newLogger(cfg, stderr))
	svc := wire.Services(st, cfg, utcNow)
	if _, err := svc.Auth.EnsureAdmin(ctx, cfg.AdminUsername, cfg.AdminPassword); errors.Is(err, auth.ErrNoAdmin) && *ifEmpty {
		// A database in use (it has no enabled admin to seed as): as serve
		// does, say it and go on — demo data goes only into an empty one.
		fmt.Fprintln(stderr, "seed:", err)
		return nil
	} else if err != nil {
		return err
	}
	return seedDemo(ctx, svc, cfg.AdminUsername, *ifEmpty, stdout)
}

// errNotEmpty is returned when the database already holds a directory.
var errNotEmpty = errors.New("the directory already has enterprises; demo data goes only into an empty database (use --if-empty to skip quietly)")

func seedDemo(ctx context.Context, svc app.Services, adminName string, ifEmpty bool, out io.Writer) error {
	if svc.Directory == nil || svc.Roster == nil || svc.Items == nil {
		return errors.New("seed: the directory, roster and item-list services are not wired")
	}
	admin, err := svc.Accounts.Users.FindUserByUsername(ctx, adminName)
	if err != nil {
		return fmt.Errorf("seed: the admin %q: %w", adminName, err)
	}
	ctx = backend.WithActor(ctx, &backend.Actor{UserID: admin.ID, Username: admin.Username, Roles: admin.Roles, ClientIP: "seed"})

	if _, total, err := svc.Directory.ListEnterprises(ctx, backend.EnterpriseFilter{Limit: 1}); err != nil {
		return err
	} else if total > 0 {
		if ifEmpty {
			fmt.Fprintf(out, "seed: the directory has %d enterprises; no demo data loaded\n", total)
			return nil
		}
		return errNotEmpty
	}

	if _, err := svc.Directory.EnsureTowns(ctx); err != nil {
		return err
	}
	if err := svc.Roster.EnsureQualifications(ctx); err != nil {
		return err
	}
	towns, err := svc.Directory.ListTowns(ctx)
	if err != nil {
		return err
	}
	var townNames []string
	for _, t := range towns {
		townNames = append(townNames, t.Name)
	}
	now := time.Now().In(backend.ChinaTime)
	data := demo.Build(uint64(now.Year()), now, townNames)

	deptIDs := map[string]string{}
	for _, d := range data.Departments {
		dep, err := svc.Directory.CreateDepartment(ctx, directory.NewDepartment{Name: d.Name, Kind: d.Kind})
		if err != nil {
			return fmt.Errorf("seed: department %s: %w", d.Name, err)
		}
		deptIDs[d.Key] = dep.ID
	}
	userIDs := map[string]string{}
	for _, u := range data.Users {
		created, err := svc.Accounts.CreateUser(ctx, accounts.NewUser{
			Username: u.Username, Password: demo.Password, DisplayName: u.DisplayName, Roles: u.Roles, DepartmentID: deptIDs[u.Department],
		})
		if err != nil {
			return fmt.Errorf("seed: user %s: %w", u.Username, err)
		}
		userIDs[u.Username] = created.ID
	}
	p := newProgress(out, len(data.Enterprises), "enterprises")
	for _, e := range data.Enterprises {
		_, err := svc.Directory.CreateEnterprise(ctx, directory.NewEnterprise{
			USCC: e.USCC, Name: e.Name, Town: e.Town, Industry: e.Industry, Address: e.Address, Location: e.Location,
			Categories: e.Categories, Flags: e.Flags, Status: e.Status,
			LegalRepresentative: e.LegalRepresentative, SafetyManager: e.SafetyManager, Phone: e.Phone,
		})
		if err != nil {
			return fmt.Errorf("seed: enterprise %s: %w", e.USCC, err)
		}
		p.Add(1)
	}
	p.Finish()
	for _, in := range data.Inspectors {
		active := in.Active
		if _, err := svc.Roster.CreateInspector(ctx, roster.NewInspector{
			UserID: userIDs[in.Username], Name: in.Name, BadgeNo: in.BadgeNo,
			CertificateExpires: in.CertificateExpires.Format("2006-01-02"), DepartmentID: deptIDs[in.Department],
			Qualifications: in.Qualifications, Active: &active,
		}); err != nil {
			return fmt.Errorf("seed: inspector %s: %w", in.BadgeNo, err)
		}
	}
	year := now.Year()
	for _, it := range data.Items {
		if _, err := svc.Items.CreateItem(ctx, itemlist.NewItem{
			Year: year, Code: it.Code, Name: it.Name, LegalBasis: backend.LegalBasis{Law: it.Law, Article: it.Article},
			DepartmentID: deptIDs[it.Department], Content: it.Content, Method: it.Method, Qualification: it.Qualification,
			Categories: it.Categories,
		}); err != nil {
			return fmt.Errorf("seed: item %s: %w", it.Code, err)
		}
	}
	if _, err := svc.Items.Publish(ctx, year); err != nil {
		return fmt.Errorf("seed: publishing the %d item list: %w", year, err)
	}

	fmt.Fprintf(out, "seed: %d departments, %d enterprises, %d inspectors, %d items (%d list published)\n",
		len(data.Departments), len(data.Enterprises), len(data.Inspectors), len(data.Items), year)
	fmt.Fprintf(out, "seed: demo logins (password %q for all):\n", demo.Password)
	for _, u := range data.Users {
		if u.Roles[0] != backend.RoleInspector || u.Username == "inspector01" {
			fmt.Fprintf(out, "  %-16s %s\n", u.Username, u.DisplayName)
		}
	}
	fmt.Fprintf(out, "  inspector01 … inspector%02d (inspectors)\n", len(data.Inspectors))
	return nil
}
