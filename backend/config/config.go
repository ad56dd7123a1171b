// Package config reads suiji's configuration from SUIJI_* environment
// variables into one Config, once, at start. Nothing else in suiji reads the
// environment: the binary calls Load with os.LookupEnv and passes the values
// it needs to each part it wires.
//
// Every variable has a development default so that `make run` works on a new
// machine. Defaults that are secrets are reported by DevDefaults, printed
// loudly at start, and refused outright when SUIJI_ENV=production.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Environments.
const (
	EnvDevelopment = "development"
	EnvTest        = "test"
	EnvProduction  = "production"
)

// Development defaults that must never reach production.
const (
	DevJWTKey         = "suiji-development-jwt-key-do-not-use-in-production"
	DevSeedKey        = "suiji-development-seed-key-do-not-use-in-production"
	DevMinIOAccessKey = "minioadmin"
	DevMinIOSecretKey = "minioadmin"
	DevAdminUsername  = "admin"
	DevAdminPassword  = "suiji-admin-dev"
)

// Config is everything suiji can be told from outside.
type Config struct {
	Env string // development, test or production

	HTTPAddr        string        // listen address of the API server
	BodyLimit       int           // largest request body in bytes; larger ones get 413
	UploadLimit     int           // largest spreadsheet upload (import routes) in bytes
	ReadTimeout     time.Duration // time to send a request's header and body
	RequestTimeout  time.Duration // deadline of a request's work
	UploadTimeout   time.Duration // read timeout and deadline of imports, deadline of exports
	MaxConnsPerIP   int           // open connections per client address
	CORSOrigins     []string      // origins allowed by CORS; empty means none
	TrustedProxies  []string      // proxies whose X-Forwarded-For is believed
	ShutdownTimeout time.Duration // how long in-flight requests may run on shutdown
	ReadyTimeout    time.Duration // per-service deadline of /readyz checks
	LogLevel        string        // debug, info, warn, error
	LogFormat       string        // auto (JSON unless a terminal), json or text

	MongoURI      string        // MongoDB (or FerretDB) connection string
	MongoDatabase string        // database name
	MongoTimeout  time.Duration // deadline of every MongoDB operation

	RedisURL    string // redis://host:port/db, redis+sentinel://…/MASTER/db or redis+cluster://…
	RedisPrefix string // prefix of every key suiji writes

	MinIOEndpoint   string // host:port of MinIO / S3
	MinIOAccessKey  string
	MinIOSecretKey  string
	MinIOSecure     bool   // use TLS to reach MinIO
	MinIORegion     string // bucket region
	EvidenceBucket  string // evidence objects; created with object lock (WORM)
	DocumentsBucket string // generated documents

	JWTKey        string // HMAC key signing access tokens
	SeedKey       string // key encrypting draws' sealed seeds at rest
	AdminUsername string // first admin, created on a server with no admin
	AdminPassword string

	FCMCredentialsFile string // service-account JSON for push; empty disables push
	FCMEndpoint        string // override of the FCM endpoint (test server or relay)

	PDFFonts     []string // TrueType fonts of generated documents, in the order a character looks for a glyph
	FCMProjectID string   // Firebase project; may be empty when the credentials name it

	SchedulerInterval time.Duration // how often the deadline scheduler runs

	MinIOPublicEndpoint    string        // where phones reach MinIO (presigned URLs); "" for MinIOEndpoint
	EvidenceRetentionYears int           // default WORM retention of evidence (COMPLIANCE), at least 5
	EvidenceMaxPhoto       int64         // largest photo, bytes
	EvidenceMaxVideo       int64         // largest video, bytes
	EvidenceMaxOther       int64         // largest audio, document, report or signature, bytes
	UploadURLTTL           time.Duration // how long presigned upload URLs stay valid
	UploadAbandonAfter     time.Duration // a multipart upload not completed this long is aborted
	CheckInRadiusM         int           // a check-in farther than this from the enterprise is flagged

	// The statutory documents' letterhead and the public result's address.
	BureauName          string // the issuing bureau
	ReconsiderationBody string // who hears an administrative reconsideration
	Court               string // which court hears an administrative suit
	PublicURL           string // the public site's base URL (QR codes on documents)
}

// Var documents one environment variable; Vars is the table the README shows.
type Var struct {
	Name    string
	Default string
	Help    string
	Secret  bool // a development default here is refused in production
}

// Vars lists every variable Load reads, with its default.
var Vars = []Var{
	{"SUIJI_ENV", EnvDevelopment, "development, test or production; production refuses development defaults", false},
	{"SUIJI_HTTP_ADDR", "127.0.0.1:8080", "address the API listens on", false},
	{"SUIJI_BODY_LIMIT", "1048576", "largest request body in bytes on every route but spreadsheet uploads (413 above it); evidence goes straight to MinIO", false},
	{"SUIJI_UPLOAD_LIMIT", "16777216", "largest spreadsheet upload (POST …/import) in bytes, accepted only from a live session of admin, coordinator or staff", false},
	{"SUIJI_READ_TIMEOUT", "10s", "time a client gets to send a request's header and body (uploads: SUIJI_UPLOAD_TIMEOUT)", false},
	{"SUIJI_REQUEST_TIMEOUT", "30s", "deadline of a request's work (imports and exports: SUIJI_UPLOAD_TIMEOUT; the event stream: none)", false},
	{"SUIJI_UPLOAD_TIMEOUT", "3m", "time to send a spreadsheet upload, and deadline of imports and exports", false},
	{"SUIJI_MAX_CONNS_PER_IP", "64", "open connections per client address, by socket address, an IPv6 /64 as one (SUIJI_TRUSTED_PROXIES are exempt)", false},
	{"SUIJI_CORS_ORIGINS", "", "comma-separated origins allowed by CORS (empty: none)", false},
	{"SUIJI_TRUSTED_PROXIES", "", "comma-separated proxy IPs/CIDRs whose X-Forwarded-For is trusted", false},
	{"SUIJI_SHUTDOWN_TIMEOUT", "15s", "time in-flight requests get to finish on SIGTERM/SIGINT", false},
	{"SUIJI_READY_TIMEOUT", "2s", "deadline of each service check in /readyz", false},
	{"SUIJI_LOG_LEVEL", "info", "debug, info, warn or error", false},
	{"SUIJI_LOG_FORMAT", "auto", "auto (JSON unless stderr is a terminal), json or text", false},
	{"SUIJI_MONGO_URI", "mongodb://127.0.0.1:27017/", "MongoDB connection string (FerretDB locally)", false},
	{"SUIJI_MONGO_DATABASE", "suiji", "MongoDB database name", false},
	{"SUIJI_MONGO_TIMEOUT", "2m", "deadline of every MongoDB operation (client-wide), so no request waits for ever", false},
	{"SUIJI_REDIS_URL", "redis://127.0.0.1:6379/0", "Redis URL: redis://[:password@]host:port/db (rediss:// for TLS); redis+sentinel://[:password@]host:26379,…/MASTER/db[?sentinel_password=…] for a master behind Sentinel; redis+cluster://[:password@]host:port,… for Redis Cluster (rediss+… for TLS)", false},
	{"SUIJI_REDIS_PREFIX", "suiji:", "prefix of every Redis key", false},
	{"SUIJI_MINIO_ENDPOINT", "127.0.0.1:9000", "MinIO or S3 endpoint host:port", false},
	{"SUIJI_MINIO_ACCESS_KEY", DevMinIOAccessKey, "MinIO access key", true},
	{"SUIJI_MINIO_SECRET_KEY", DevMinIOSecretKey, "MinIO secret key", true},
	{"SUIJI_MINIO_SECURE", "false", "reach MinIO over TLS", false},
	{"SUIJI_MINIO_REGION", "us-east-1", "bucket region", false},
	{"SUIJI_EVIDENCE_BUCKET", "suiji-evidence", "bucket for evidence (object lock enabled)", false},
	{"SUIJI_DOCUMENTS_BUCKET", "suiji-documents", "bucket for generated documents (object lock enabled)", false},
	{"SUIJI_JWT_KEY", DevJWTKey, "HMAC key for access tokens (at least 32 bytes)", true},
	{"SUIJI_SEED_KEY", DevSeedKey, "key encrypting each draw attempt's sealed seed at rest, so a database reader cannot learn it before the draw (at least 32 bytes; changing it makes committed, undrawn seeds unreadable: commit again)", true},
	{"SUIJI_ADMIN_USERNAME", DevAdminUsername, "first admin's username, created when no admin exists", false},
	{"SUIJI_ADMIN_PASSWORD", DevAdminPassword, "first admin's password", true},
	{"SUIJI_FCM_CREDENTIALS_FILE", "", "Firebase service-account JSON; empty disables push (the inbox still works)", false},
	{"SUIJI_FCM_ENDPOINT", "", "override of the FCM endpoint (a relay or test server)", false},
	{"SUIJI_PDF_FONTS", DefaultPDFFonts, "comma-separated TrueType fonts (.ttf; OTF and TTC do not embed) for generated PDFs, each character set in the first font that has it; the defaults are Debian's fonts-droid-fallback (Chinese) and fonts-dejavu-core (Latin, digits), installed by make run and make test", false},
	{"SUIJI_FCM_PROJECT_ID", "", "Firebase project id (empty: the one named in the credentials file)", false},
	{"SUIJI_MINIO_PUBLIC_ENDPOINT", "", "where phones reach MinIO for presigned uploads and downloads: host:port or http(s)://host[:port] (empty: SUIJI_MINIO_ENDPOINT)", false},
	{"SUIJI_EVIDENCE_RETENTION_YEARS", "5", "default retention of evidence objects and generated documents, COMPLIANCE mode: nobody can delete or overwrite them for this many years (art. 22; at least 5, only ever raised)", false},
	{"SUIJI_EVIDENCE_MAX_PHOTO", "26214400", "largest photo accepted, in bytes (25 MiB)", false},
	{"SUIJI_EVIDENCE_MAX_VIDEO", "2147483648", "largest video accepted, in bytes (2 GiB)", false},
	{"SUIJI_EVIDENCE_MAX_OTHER", "104857600", "largest audio, document, external report or signature accepted, in bytes (100 MiB)", false},
	{"SUIJI_UPLOAD_URL_TTL", "6h", "validity of presigned upload URLs (a long video on one bar of signal needs hours)", false},
	{"SUIJI_UPLOAD_ABANDON_AFTER", "48h", "a multipart upload not completed this long after it began is aborted and its parts dropped", false},
	{"SUIJI_CHECKIN_RADIUS_M", "500", "a check-in farther than this many metres from the enterprise is flagged (not refused)", false},
	{"SUIJI_BUREAU_NAME", "泽州县应急管理局", "the issuing bureau the statutory documents (inspection record, rectification order) name", false},
	{"SUIJI_RECONSIDERATION_BODY", "泽州县人民政府", "where the rectification order tells the enterprise it may apply for administrative reconsideration", false},
	{"SUIJI_COURT", "泽州县人民法院", "which court the rectification order names for an administrative suit", false},
	{"SUIJI_PUBLIC_URL", "http://127.0.0.1:8080", "the public site's base URL: the documents' QR code links the portal's page BASE/results/{task id}", false},
	{"SUIJI_SCHEDULER_INTERVAL", "1m", "how often the deadline scheduler reminds and marks overdue tasks (one instance at a time)", false},
}

// DefaultPDFFonts are Debian's Droid Sans Fallback (Chinese; it has no Latin
// letters or digits) followed by DejaVu Sans (Latin letters and digits).
const DefaultPDFFonts = "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf,/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

// Load reads the configuration through lookup (os.LookupEnv in the binary, a
// map in tests) and validates it. Every problem is reported, each naming its
// variable.
func Load(lookup func(string) (string, bool)) (*Config, error) {
	r := reader{lookup: lookup}
	c := &Config{
		Env:                r.str("SUIJI_ENV"),
		HTTPAddr:           r.str("SUIJI_HTTP_ADDR"),
		BodyLimit:          r.int("SUIJI_BODY_LIMIT"),
		UploadLimit:        r.int("SUIJI_UPLOAD_LIMIT"),
		ReadTimeout:        r.duration("SUIJI_READ_TIMEOUT"),
		RequestTimeout:     r.duration("SUIJI_REQUEST_TIMEOUT"),
		UploadTimeout:      r.duration("SUIJI_UPLOAD_TIMEOUT"),
		MaxConnsPerIP:      r.int("SUIJI_MAX_CONNS_PER_IP"),
		CORSOrigins:        r.list("SUIJI_CORS_ORIGINS"),
		TrustedProxies:     r.list("SUIJI_TRUSTED_PROXIES"),
		ShutdownTimeout:    r.duration("SUIJI_SHUTDOWN_TIMEOUT"),
		ReadyTimeout:       r.duration("SUIJI_READY_TIMEOUT"),
		LogLevel:           r.str("SUIJI_LOG_LEVEL"),
		LogFormat:          r.str("SUIJI_LOG_FORMAT"),
		MongoURI:           r.str("SUIJI_MONGO_URI"),
		MongoDatabase:      r.str("SUIJI_MONGO_DATABASE"),
		MongoTimeout:       r.duration("SUIJI_MONGO_TIMEOUT"),
		RedisURL:           r.str("SUIJI_REDIS_URL"),
		RedisPrefix:        r.str("SUIJI_REDIS_PREFIX"),
		MinIOEndpoint:      r.str("SUIJI_MINIO_ENDPOINT"),
		MinIOAccessKey:     r.str("SUIJI_MINIO_ACCESS_KEY"),
		MinIOSecretKey:     r.str("SUIJI_MINIO_SECRET_KEY"),
		MinIOSecure:        r.bool("SUIJI_MINIO_SECURE"),
		MinIORegion:        r.str("SUIJI_MINIO_REGION"),
		EvidenceBucket:     r.str("SUIJI_EVIDENCE_BUCKET"),
		DocumentsBucket:    r.str("SUIJI_DOCUMENTS_BUCKET"),
		JWTKey:             r.str("SUIJI_JWT_KEY"),
		SeedKey:            r.str("SUIJI_SEED_KEY"),
		AdminUsername:      r.str("SUIJI_ADMIN_USERNAME"),
		AdminPassword:      r.str("SUIJI_ADMIN_PASSWORD"),
		FCMCredentialsFile: r.str("SUIJI_FCM_CREDENTIALS_FILE"),
		FCMEndpoint:        r.str("SUIJI_FCM_ENDPOINT"),
		PDFFonts:           r.list("SUIJI_PDF_FONTS"),
		FCMProjectID:       r.str("SUIJI_FCM_PROJECT_ID"),
		SchedulerInterval:  r.duration("SUIJI_SCHEDULER_INTERVAL"),

		MinIOPublicEndpoint:    r.str("SUIJI_MINIO_PUBLIC_ENDPOINT"),
		EvidenceRetentionYears: r.int("SUIJI_EVIDENCE_RETENTION_YEARS"),
		EvidenceMaxPhoto:       int64(r.int("SUIJI_EVIDENCE_MAX_PHOTO")),
		EvidenceMaxVideo:       int64(r.int("SUIJI_EVIDENCE_MAX_VIDEO")),
		EvidenceMaxOther:       int64(r.int("SUIJI_EVIDENCE_MAX_OTHER")),
		UploadURLTTL:           r.duration("SUIJI_UPLOAD_URL_TTL"),
		UploadAbandonAfter:     r.duration("SUIJI_UPLOAD_ABANDON_AFTER"),
		CheckInRadiusM:         r.int("SUIJI_CHECKIN_RADIUS_M"),

		BureauName:          r.str("SUIJI_BUREAU_NAME"),
		ReconsiderationBody: r.str("SUIJI_RECONSIDERATION_BODY"),
		Court:               r.str("SUIJI_COURT"),
		PublicURL:           r.str("SUIJI_PUBLIC_URL"),
	}
	c.validate(&r)
	if c.Env == EnvProduction {
		for _, name := range c.DevDefaults() {
			r.fail(name, "is a development default, refused with SUIJI_ENV=production")
		}
		for _, name := range c.Placeholders() {
			r.fail(name, "holds a published placeholder (CHANGE-ME), refused with SUIJI_ENV=production; put a secret of your own there")
		}
		// The statutory documents print it as a QR code and are kept
		// unchangeable for years: a link to this machine would be useless
		// on every one of them.
		if u, err := url.Parse(c.PublicURL); err == nil && loopbackHost(u.Hostname()) {
			r.fail("SUIJI_PUBLIC_URL", "names this machine, refused with SUIJI_ENV=production: the documents' QR codes must reach the public site")
		} else if err == nil && exampleHost(u.Hostname()) {
			r.fail("SUIJI_PUBLIC_URL", "is the deploy files' example domain, refused with SUIJI_ENV=production: the documents' QR codes must reach the bureau's public site")
		}
		// The production overlay ships a documentation range in its
		// place, which matches no proxy: left as shipped, every citizen
		// would share the ingress's address and its rate limits.
		for _, p := range c.TrustedProxies {
			if documentationRange(p) {
				r.fail("SUIJI_TRUSTED_PROXIES", "holds %s, a documentation range (the deploy files' placeholder), refused with SUIJI_ENV=production: name the ingress controller's addresses", p)
			}
		}
	}
	if len(r.problems) > 0 {
		return nil, errors.New("configuration: " + strings.Join(r.problems, "; "))
	}
	return c, nil
}

// loopbackHost reports whether host names the local machine.
func loopbackHost(host string) bool {
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback() || ip.IsUnspecified()
	}
	return strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost")
}

// exampleHost reports whether host is a reserved example domain (RFC
// 2606) or the deploy files' example.gov.cn.
func exampleHost(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, d := range []string{"example.gov.cn", "example.com", "example.org", "example.net", "example"} {
		if host == d || strings.HasSuffix(host, "."+d) {
			return true
		}
	}
	return false
}

// documentationRange reports whether p (an IP or CIDR) lies in one of
// the ranges reserved for documentation (RFC 5737, RFC 3849).
func documentationRange(p string) bool {
	ip := net.ParseIP(p)
	if ip == nil {
		var err error
		if ip, _, err = net.ParseCIDR(p); err != nil {
			return false
		}
	}
	for _, doc := range []string{"192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32"} {
		if _, n, _ := net.ParseCIDR(doc); n.Contains(ip) {
			return true
		}
	}
	return false
}

// DevDefaults names the secret variables still at their development value
// (or empty), which the binary prints loudly and production refuses.
func (c *Config) DevDefaults() []string {
	var names []string
	check := func(name, value, dev string) {
		if value == "" || value == dev {
			names = append(names, name)
		}
	}
	check("SUIJI_JWT_KEY", c.JWTKey, DevJWTKey)
	check("SUIJI_SEED_KEY", c.SeedKey, DevSeedKey)
	check("SUIJI_MINIO_ACCESS_KEY", c.MinIOAccessKey, DevMinIOAccessKey)
	check("SUIJI_MINIO_SECRET_KEY", c.MinIOSecretKey, DevMinIOSecretKey)
	check("SUIJI_ADMIN_PASSWORD", c.AdminPassword, DevAdminPassword)
	sort.Strings(names)
	return names
}

// Placeholders names the secret variables whose value still holds a
// placeholder of the published examples (deploy/compose/env.example's
// CHANGE-ME-…, CHANGEME…), in any case and spelling: anyone can read
// those, so production refuses them as it does the development values.
// The connection URLs are checked too, since compose puts its services'
// example passwords into them.
func (c *Config) Placeholders() []string {
	var names []string
	for name, value := range map[string]string{
		"SUIJI_JWT_KEY":          c.JWTKey,
		"SUIJI_SEED_KEY":         c.SeedKey,
		"SUIJI_MINIO_ACCESS_KEY": c.MinIOAccessKey,
		"SUIJI_MINIO_SECRET_KEY": c.MinIOSecretKey,
		"SUIJI_ADMIN_PASSWORD":   c.AdminPassword,
		"SUIJI_MONGO_URI":        c.MongoURI,
		"SUIJI_REDIS_URL":        c.RedisURL,
	} {
		folded := strings.NewReplacer("-", "", "_", "").Replace(strings.ToUpper(value))
		if strings.Contains(folded, "CHANGEME") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

func (c *Config) validate(r *reader) {
	switch c.Env {
	case EnvDevelopment, EnvTest, EnvProduction:
	default:
		r.fail("SUIJI_ENV", "must be development, test or production, not %q", c.Env)
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		r.fail("SUIJI_HTTP_ADDR", "must be host:port: %v", err)
	}
	for _, p := range c.TrustedProxies {
		if _, _, err := net.ParseCIDR(p); err != nil && net.ParseIP(p) == nil {
			r.fail("SUIJI_TRUSTED_PROXIES", "entry %q is neither an IP address nor a CIDR", p)
		}
	}
	if c.BodyLimit < 1024 {
		r.fail("SUIJI_BODY_LIMIT", "must be at least 1024 bytes")
	}
	if c.UploadLimit < c.BodyLimit {
		r.fail("SUIJI_UPLOAD_LIMIT", "must be at least SUIJI_BODY_LIMIT (%d bytes)", c.BodyLimit)
	}
	for name, d := range map[string]time.Duration{
		"SUIJI_READ_TIMEOUT": c.ReadTimeout, "SUIJI_REQUEST_TIMEOUT": c.RequestTimeout,
		"SUIJI_UPLOAD_TIMEOUT": c.UploadTimeout, "SUIJI_MONGO_TIMEOUT": c.MongoTimeout,
	} {
		if d <= 0 {
			r.fail(name, "must be positive")
		}
	}
	if c.MaxConnsPerIP < 1 {
		r.fail("SUIJI_MAX_CONNS_PER_IP", "must be at least 1")
	}
	if c.ShutdownTimeout <= 0 {
		r.fail("SUIJI_SHUTDOWN_TIMEOUT", "must be positive")
	}
	if c.ReadyTimeout <= 0 {
		r.fail("SUIJI_READY_TIMEOUT", "must be positive")
	}
	if c.EvidenceRetentionYears < 5 {
		r.fail("SUIJI_EVIDENCE_RETENTION_YEARS", "must be at least 5 (art. 22)")
	}
	for name, v := range map[string]int64{"SUIJI_EVIDENCE_MAX_PHOTO": c.EvidenceMaxPhoto, "SUIJI_EVIDENCE_MAX_VIDEO": c.EvidenceMaxVideo, "SUIJI_EVIDENCE_MAX_OTHER": c.EvidenceMaxOther} {
		if v < 1024 {
			r.fail(name, "must be at least 1024 bytes")
		}
	}
	if c.UploadURLTTL < time.Minute || c.UploadURLTTL > 7*24*time.Hour {
		r.fail("SUIJI_UPLOAD_URL_TTL", "must be from 1m to 168h (S3 presigned URLs last at most 7 days)")
	}
	if c.UploadAbandonAfter < c.UploadURLTTL {
		r.fail("SUIJI_UPLOAD_ABANDON_AFTER", "must be at least SUIJI_UPLOAD_URL_TTL")
	}
	if c.CheckInRadiusM < 10 {
		r.fail("SUIJI_CHECKIN_RADIUS_M", "must be at least 10 metres")
	}
	if c.MinIOPublicEndpoint != "" {
		if u, err := url.Parse(c.MinIOPublicEndpoint); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
			if u.Host == "" || (u.Path != "" && u.Path != "/") {
				r.fail("SUIJI_MINIO_PUBLIC_ENDPOINT", "must be host:port or http(s)://host[:port] without a path")
			}
		} else if _, _, err := net.SplitHostPort(c.MinIOPublicEndpoint); err != nil {
			r.fail("SUIJI_MINIO_PUBLIC_ENDPOINT", "must be host:port or http(s)://host[:port]")
		}
	}
	if c.SchedulerInterval < time.Second {
		r.fail("SUIJI_SCHEDULER_INTERVAL", "must be at least 1s")
	}
	if c.FCMEndpoint != "" {
		if u, err := url.Parse(c.FCMEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			r.fail("SUIJI_FCM_ENDPOINT", "must be an http(s) URL")
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		r.fail("SUIJI_LOG_LEVEL", "must be debug, info, warn or error, not %q", c.LogLevel)
	}
	switch c.LogFormat {
	case "auto", "json", "text":
	default:
		r.fail("SUIJI_LOG_FORMAT", "must be auto, json or text, not %q", c.LogFormat)
	}
	if !strings.HasPrefix(c.MongoURI, "mongodb://") && !strings.HasPrefix(c.MongoURI, "mongodb+srv://") {
		r.fail("SUIJI_MONGO_URI", "must start with mongodb:// or mongodb+srv://")
	}
	if c.MongoDatabase == "" {
		r.fail("SUIJI_MONGO_DATABASE", "must not be empty")
	}
	switch scheme, _, _ := strings.Cut(c.RedisURL, "://"); scheme {
	case "redis", "rediss", "redis+sentinel", "rediss+sentinel", "redis+cluster", "rediss+cluster":
	default:
		r.fail("SUIJI_REDIS_URL", "must be a redis://, rediss://, redis+sentinel:// or redis+cluster:// URL")
	}
	if _, _, err := net.SplitHostPort(c.MinIOEndpoint); err != nil {
		r.fail("SUIJI_MINIO_ENDPOINT", "must be host:port: %v", err)
	}
	if c.EvidenceBucket == "" || c.DocumentsBucket == "" || c.EvidenceBucket == c.DocumentsBucket {
		r.fail("SUIJI_EVIDENCE_BUCKET", "and SUIJI_DOCUMENTS_BUCKET must be set and differ")
	}
	if c.JWTKey != "" && len(c.JWTKey) < 32 {
		r.fail("SUIJI_JWT_KEY", "must be at least 32 bytes")
	}
	if c.SeedKey != "" && len(c.SeedKey) < 32 {
		r.fail("SUIJI_SEED_KEY", "must be at least 32 bytes")
	}
	if c.AdminUsername == "" {
		r.fail("SUIJI_ADMIN_USERNAME", "must not be empty")
	}
	for name, v := range map[string]string{"SUIJI_BUREAU_NAME": c.BureauName, "SUIJI_RECONSIDERATION_BODY": c.ReconsiderationBody, "SUIJI_COURT": c.Court} {
		if strings.TrimSpace(v) == "" || len([]rune(v)) > 100 {
			r.fail(name, "must name it in 1 to 100 characters")
		}
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(c.PublicURL) > 200 {
		r.fail("SUIJI_PUBLIC_URL", "must be an absolute http(s) URL of at most 200 characters")
	}
	if len(c.PDFFonts) == 0 {
		r.fail("SUIJI_PDF_FONTS", "must name at least one TrueType font file")
	}
	if c.AdminPassword != "" && len(c.AdminPassword) < 10 {
		r.fail("SUIJI_ADMIN_PASSWORD", "must be at least 10 characters")
	}
}

// reader collects values and problems so that Load reports all of them at once.
type reader struct {
	lookup   func(string) (string, bool)
	problems []string
}

func (r *reader) fail(name, format string, args ...any) {
	r.problems = append(r.problems, name+" "+fmt.Sprintf(format, args...))
}

func (r *reader) str(name string) string {
	if v, ok := r.lookup(name); ok {
		return strings.TrimSpace(v)
	}
	for _, v := range Vars {
		if v.Name == name {
			return v.Default
		}
	}
	panic("config: undocumented variable " + name)
}

func (r *reader) int(name string) int {
	s := r.str(name)
	n, err := strconv.Atoi(s)
	if err != nil {
		r.fail(name, "must be an integer, not %q", s)
	}
	return n
}

func (r *reader) bool(name string) bool {
	s := r.str(name)
	b, err := strconv.ParseBool(s)
	if err != nil {
		r.fail(name, "must be true or false, not %q", s)
	}
	return b
}

func (r *reader) duration(name string) time.Duration {
	s := r.str(name)
	d, err := time.ParseDuration(s)
	if err != nil {
		r.fail(name, "must be a duration such as 15s, not %q", s)
	}
	return d
}

func (r *reader) list(name string) []string {
	var out []string
	for _, part := range strings.Split(r.str(name), ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
