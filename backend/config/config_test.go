package config

import (
	"maps"
	"os"
	"strings"
	"testing"
	"time"
)

func lookupFrom(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func TestDefaultsLoadForDevelopment(t *testing.T) {
	c, err := Load(lookupFrom(nil))
	if err != nil {
		t.Fatalf("defaults rejected: %v", err)
	}
	if c.Env != EnvDevelopment || c.HTTPAddr != "127.0.0.1:8080" || c.ShutdownTimeout != 15*time.Second {
		t.Fatalf("unexpected defaults: %+v", c)
	}
	if len(c.PDFFonts) != 2 || !strings.HasSuffix(c.PDFFonts[0], "/DroidSansFallbackFull.ttf") || !strings.HasSuffix(c.PDFFonts[1], "/DejaVuSans.ttf") {
		t.Fatalf("PDFFonts = %q, want Droid Sans Fallback then DejaVu Sans", c.PDFFonts)
	}
	want := []string{"SUIJI_ADMIN_PASSWORD", "SUIJI_JWT_KEY", "SUIJI_MINIO_ACCESS_KEY", "SUIJI_MINIO_SECRET_KEY", "SUIJI_SEED_KEY"}
	if got := c.DevDefaults(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("DevDefaults = %v, want %v", got, want)
	}
}

func TestEnvironmentOverridesDefaults(t *testing.T) {
	c, err := Load(lookupFrom(map[string]string{
		"SUIJI_HTTP_ADDR":       "0.0.0.0:9999",
		"SUIJI_CORS_ORIGINS":    " https://a.example , ,https://b.example",
		"SUIJI_MINIO_SECURE":    "true",
		"SUIJI_BODY_LIMIT":      "2048",
		"SUIJI_TRUSTED_PROXIES": "10.0.0.0/8",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != "0.0.0.0:9999" || !c.MinIOSecure || c.BodyLimit != 2048 {
		t.Fatalf("overrides not applied: %+v", c)
	}
	if strings.Join(c.CORSOrigins, "|") != "https://a.example|https://b.example" {
		t.Fatalf("CORSOrigins = %q", c.CORSOrigins)
	}
	if len(c.TrustedProxies) != 1 {
		t.Fatalf("TrustedProxies = %q", c.TrustedProxies)
	}
}

func TestInvalidValuesNameTheirVariable(t *testing.T) {
	tests := map[string]string{
		"SUIJI_ENV":              "staging",
		"SUIJI_HTTP_ADDR":        "8080",
		"SUIJI_BODY_LIMIT":       "lots",
		"SUIJI_SHUTDOWN_TIMEOUT": "soon",
		"SUIJI_LOG_LEVEL":        "loud",
		"SUIJI_MONGO_URI":        "postgres://x",
		"SUIJI_REDIS_URL":        "http://x",
		"SUIJI_MINIO_ENDPOINT":   "minio",
		"SUIJI_MINIO_SECURE":     "perhaps",
		"SUIJI_JWT_KEY":          "short",
		"SUIJI_ADMIN_PASSWORD":   "short",
		"SUIJI_TRUSTED_PROXIES":  "10.0.0.1,proxy.local",
		"SUIJI_PDF_FONTS":        " , ",
	}
	for name, value := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Load(lookupFrom(map[string]string{name: value}))
			if err == nil {
				t.Fatalf("%s=%q accepted", name, value)
			}
			if !strings.Contains(err.Error(), name) {
				t.Fatalf("error %q does not name %s", err, name)
			}
		})
	}

	// All problems are reported at once.
	_, err := Load(lookupFrom(map[string]string{"SUIJI_LOG_LEVEL": "loud", "SUIJI_LOG_FORMAT": "xml"}))
	if err == nil || !strings.Contains(err.Error(), "SUIJI_LOG_LEVEL") || !strings.Contains(err.Error(), "SUIJI_LOG_FORMAT") {
		t.Fatalf("want both variables named, got %v", err)
	}
}

// productionEnv is a production configuration that starts: secrets of
// its own, and the public site's own address.
func productionEnv() map[string]string {
	return map[string]string{
		"SUIJI_ENV":              EnvProduction,
		"SUIJI_JWT_KEY":          strings.Repeat("k", 48),
		"SUIJI_SEED_KEY":         strings.Repeat("s", 48),
		"SUIJI_MINIO_ACCESS_KEY": "suiji-prod",
		"SUIJI_MINIO_SECRET_KEY": "a-long-random-secret",
		"SUIJI_ADMIN_PASSWORD":   "a-real-admin-password",
		"SUIJI_PUBLIC_URL":       "https://suiji.zezhou.gov.cn",
	}
}

func TestProductionRefusesDevelopmentDefaults(t *testing.T) {
	secure := productionEnv()
	if _, err := Load(lookupFrom(secure)); err != nil {
		t.Fatalf("production with real secrets rejected: %v", err)
	}
	// The deploy files' placeholders: the example domain, a documentation
	// range for the proxies.
	for name, value := range map[string]string{"SUIJI_PUBLIC_URL": "https://suiji.example.gov.cn", "SUIJI_TRUSTED_PROXIES": "10.2.0.0/16,192.0.2.0/24"} {
		env := maps.Clone(secure)
		env[name] = value
		if _, err := Load(lookupFrom(env)); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("production with %s=%s: %v; want it refused", name, value, err)
		}
	}
	// The documents' QR code: the default links this machine.
	for _, local := range []string{"", "http://127.0.0.1:8080", "http://localhost", "https://[::1]:8443", "http://0.0.0.0"} {
		env := maps.Clone(secure)
		if local == "" {
			delete(env, "SUIJI_PUBLIC_URL")
		} else {
			env["SUIJI_PUBLIC_URL"] = local
		}
		if _, err := Load(lookupFrom(env)); err == nil || !strings.Contains(err.Error(), "SUIJI_PUBLIC_URL names this machine") {
			t.Errorf("production with SUIJI_PUBLIC_URL %q: %v; want it refused", local, err)
		}
	}

	for _, name := range []string{"SUIJI_JWT_KEY", "SUIJI_SEED_KEY", "SUIJI_MINIO_ACCESS_KEY", "SUIJI_MINIO_SECRET_KEY", "SUIJI_ADMIN_PASSWORD"} {
		for _, bad := range []string{"default", "empty"} {
			t.Run(name+"/"+bad, func(t *testing.T) {
				env := map[string]string{}
				for k, v := range secure {
					env[k] = v
				}
				if bad == "default" {
					delete(env, name)
				} else {
					env[name] = ""
				}
				_, err := Load(lookupFrom(env))
				if err == nil {
					t.Fatalf("production accepted %s %s", bad, name)
				}
				if !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "production") {
					t.Fatalf("error %q should name %s and production", err, name)
				}
			})
		}
	}
}

func TestEveryVariableIsDocumentedOnce(t *testing.T) {
	seen := map[string]bool{}
	for _, v := range Vars {
		if !strings.HasPrefix(v.Name, "SUIJI_") || v.Help == "" {
			t.Errorf("variable %+v lacks prefix or help", v)
		}
		if seen[v.Name] {
			t.Errorf("%s documented twice", v.Name)
		}
		seen[v.Name] = true
	}
}

// TestREADMEDocumentsEveryVariable keeps the README's configuration table
// true: every variable Load reads appears there with its default.
func TestREADMEDocumentsEveryVariable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range Vars {
		row := "| `" + v.Name + "` | "
		i := strings.Index(string(readme), row)
		if i < 0 {
			t.Errorf("README lacks a row for %s", v.Name)
			continue
		}
		line, _, _ := strings.Cut(string(readme[i:]), "\n")
		if v.Default != "" && !strings.Contains(line, "`"+v.Default+"`") {
			t.Errorf("README row for %s does not show its default %q: %s", v.Name, v.Default, line)
		}
	}
}

// TestProductionRefusesPublishedPlaceholders: deploy/compose/env.example
// copied as it is, with the URLs compose builds from its service passwords,
// does not start in production; every secret that still holds a CHANGE-ME
// placeholder, in any case or spelling, is named. Development takes them.
func TestProductionRefusesPublishedPlaceholders(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/compose/env.example")
	if err != nil {
		t.Fatal(err)
	}
	example := map[string]string{}
	for line := range strings.Lines(string(raw)) {
		line = strings.TrimSpace(line)
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") && v != "" {
			example[k] = v
		}
	}
	env := map[string]string{
		"SUIJI_MONGO_URI": "mongodb://suiji:" + example["MONGO_SUIJI_PASSWORD"] + "@mongo:27017/suiji?replicaSet=rs0&authSource=suiji",
		"SUIJI_REDIS_URL": "redis://:" + example["REDIS_PASSWORD"] + "@redis:6379/0",
	}
	for k, v := range example {
		if strings.HasPrefix(k, "SUIJI_") {
			env[k] = v
		}
	}
	if env["SUIJI_ENV"] != EnvProduction {
		t.Fatalf("env.example sets SUIJI_ENV=%q; the test expects production", env["SUIJI_ENV"])
	}
	_, err = Load(lookupFrom(env))
	if err == nil {
		t.Fatal("production started with env.example's placeholders")
	}
	for _, name := range []string{"SUIJI_JWT_KEY", "SUIJI_SEED_KEY", "SUIJI_MINIO_ACCESS_KEY", "SUIJI_MINIO_SECRET_KEY",
		"SUIJI_ADMIN_PASSWORD", "SUIJI_MONGO_URI", "SUIJI_REDIS_URL"} {
		if !strings.Contains(err.Error(), name+" holds a published placeholder") {
			t.Errorf("the refusal does not name %s: %v", name, err)
		}
	}
	if strings.Contains(err.Error(), "CHANGE-ME-") || strings.Contains(err.Error(), "CHANGEMEredis") {
		t.Errorf("the refusal repeats a secret's value: %v", err)
	}

	secure := productionEnv()
	for _, placeholder := range []string{"change-me-jwt-key-0123456789abcdef0123456789", "ChangeMe0123456789abcdef0123456789abcdef",
		"0123456789abcdef0123456789abcdef_CHANGE_ME"} {
		for _, name := range []string{"SUIJI_JWT_KEY", "SUIJI_ADMIN_PASSWORD", "SUIJI_MINIO_SECRET_KEY"} {
			env := maps.Clone(secure)
			env[name] = placeholder
			if _, err := Load(lookupFrom(env)); err == nil || !strings.Contains(err.Error(), name+" holds a published placeholder") {
				t.Errorf("production with %s=%q: %v, want it refused by name", name, placeholder, err)
			}
			env["SUIJI_ENV"] = EnvDevelopment
			if _, err := Load(lookupFrom(env)); err != nil {
				t.Errorf("development with %s=%q refused: %v", name, placeholder, err)
			}
		}
	}
}
