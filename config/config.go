// Package config owns every setting of the service: their defaults, how they are read
// (defaults < .env file < environment < flags), their validation, and how they are
// printed with secrets redacted. There is no global configuration: Load returns a value
// that main passes down.
package config

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/joho/godotenv"
)

// SeedPlaceholderSecret is the example SECRET_KEY of the original's README; a deployment
// that copied it verbatim has a public secret, so it is refused.
const SeedPlaceholderSecret = "your-secret-key-change-in-production-min-32-chars"

// Config is every setting. Field comments name the variable.
type Config struct {
	// Seed settings (the original's .env).
	PostgresHost     string // POSTGRES_HOST
	PostgresPort     int    // POSTGRES_PORT
	PostgresDB       string // POSTGRES_DB
	PostgresUser     string // POSTGRES_USER
	PostgresPassword string // POSTGRES_PASSWORD (secret)
	PostgresSSLMode  string // POSTGRES_SSLMODE: disable | allow | prefer | require | verify-ca | verify-full

	MinIOEndpoint  string // MINIO_ENDPOINT
	MinIOAccessKey string // MINIO_ACCESS_KEY
	MinIOSecretKey string // MINIO_SECRET_KEY (secret)
	MinIOBucket    string // MINIO_BUCKET
	MinIOUseSSL    bool   // MINIO_USE_SSL
	MinIOPublicURL string // MINIO_PUBLIC_URL

	SecretKey          string        // SECRET_KEY (secret); generated into DATA_DIR/secret.key when unset
	SecretKeyGenerated bool          // true when SecretKey came from (or was written to) secret.key
	Algorithm          string        // ALGORITHM: HS256 | HS384 | HS512
	AccessTokenTTL     time.Duration // ACCESS_TOKEN_EXPIRE_MINUTES
	RefreshTokenTTL    time.Duration // REFRESH_TOKEN_EXPIRE_DAYS
	PwdSchemes         string        // PWD_SCHEMES: bcrypt

	ReplicateAPIToken string // REPLICATE_API_TOKEN (secret): the global key
	MaxWorkers        int    // MAX_WORKERS
	MaxPerUser        int    // MAX_CONCURRENT_GENERATIONS
	MaxPendingPerUser int    // MAX_PENDING_PER_USER: generations one user may have waiting

	// Ours.
	DataDir           string         // DATA_DIR
	DatabasePath      string         // DATABASE_PATH
	Database          string         // DATABASE: sqlite | postgres
	ListenAddr        string         // LISTEN_ADDR (or PORT alone); "unix:/path" for a socket
	CORSOrigins       []string       // CORS_ORIGINS
	AllowRegistration bool           // ALLOW_REGISTRATION
	LogLevel          string         // LOG_LEVEL: debug | info | warn | error
	LogFormat         string         // LOG_FORMAT: text | json
	BcryptCost        int            // BCRYPT_COST (10..16)
	ReplicateAPIBase  string         // REPLICATE_API_BASE
	ReplicateModel    string         // REPLICATE_MODEL
	Storage           string         // STORAGE: fs | minio
	PublicURL         string         // PUBLIC_URL: where Replicate can reach us (enables webhooks)
	XAccelRedirect    string         // X_ACCEL_REDIRECT: e.g. /protected/
	TrustedProxies    []netip.Prefix // TRUSTED_PROXIES
	Prices            Prices         // PRICE_1K, PRICE_2K, PRICE_4K (USD per image)
	// Spending limits' first values (an admin may change them in the database's settings).
	DefaultLimits     Limits        // LIMIT_DAY_USD, LIMIT_MONTH_USD, LIMIT_DAY_IMAGES, LIMIT_MONTH_IMAGES
	SharedMonthCapUSD *float64      // SHARED_MONTH_CAP_USD: what the shared token may spend a month, all users together; nil: no cap
	MaxUploadBytes    int64         // MAX_UPLOAD_BYTES: per reference image
	UploadQuota       int64         // UPLOAD_QUOTA_BYTES: what one user's uploads may hold in all; 0: no quota
	UploadsPerMinute  int           // UPLOADS_PER_MINUTE: images one user may upload a minute; 0: no limit
	UploadRetention   time.Duration // UPLOAD_RETENTION_HOURS: how long an upload no generation uses is kept
	MaxOutputBytes    int64         // MAX_OUTPUT_BYTES: per generated image
	MaxPixels         int64         // MAX_IMAGE_PIXELS: decompression-bomb cap
	JobLease          time.Duration // JOB_LEASE_SECONDS: how long a worker's claim lasts unless renewed
	MemoryLimit       int64         // MEMORY_LIMIT: the Go runtime's soft memory limit in bytes; 0: unset (GOMEMLIMIT, if any, applies)
	LogFile           string        // LOG_FILE: serve logs there, rotating, instead of to standard error
	LogMaxBytes       int64         // LOG_MAX_BYTES: the log file's size before it rotates
	LogMaxFiles       int           // LOG_MAX_FILES: rotated log files kept
	PIDFile           string        // PID_FILE: where `nanobanana start` records the server it started

	// Limits that hold the process under abuse (docs/RELIABILITY.md).
	RequestTimeout     time.Duration // REQUEST_TIMEOUT_SECONDS: the longest a request's body may take to arrive
	UploadTimeout      time.Duration // UPLOAD_TIMEOUT_SECONDS: the same for uploads and multipart generates
	MaxConnections     int           // MAX_CONNECTIONS: connections open at once; more wait to be accepted
	MaxEventStreams    int           // MAX_EVENT_STREAMS: event streams open at once in this process
	MaxStreamsPerUser  int           // MAX_STREAMS_PER_USER: a user's open event streams; a new one closes the oldest
	StreamWriteTimeout time.Duration // EVENTS_WRITE_TIMEOUT_SECONDS: how long one write to an event stream may block

	// Flags only.
	Demo bool // serve --demo: an in-process fake Replicate; never set from a file
}

// Prices are the estimated cost of one image per resolution, in US dollars.
type Prices struct{ P1K, P2K, P4K float64 }

// Limits are what one user may spend through the shared token per UTC day and month, in
// US dollars and in images; nil is no limit.
type Limits struct {
	DayUSD, MonthUSD       *float64
	DayImages, MonthImages *int
}

// Defaults returns the configuration with no .env, no environment and no flags.
func Defaults() Config {
	return Config{
		PostgresHost: "", PostgresPort: 5432, PostgresDB: "nano_banana", PostgresUser: "nano_banana_user", PostgresSSLMode: "prefer",
		MinIOEndpoint: "localhost:9000", MinIOBucket: "nano-banana-images",
		Algorithm: "HS256", AccessTokenTTL: 180 * time.Minute, RefreshTokenTTL: 7 * 24 * time.Hour,
		PwdSchemes: "bcrypt", MaxWorkers: 3, MaxPerUser: 3, MaxPendingPerUser: 100,
		DataDir: "./data", Database: "sqlite", ListenAddr: "127.0.0.1:8000", AllowRegistration: true,
		LogLevel: "info", LogFormat: "text", BcryptCost: 12,
		ReplicateAPIBase: "https://api.replicate.com/v1", ReplicateModel: "google/nano-banana-pro",
		Storage: "fs", Prices: Prices{P1K: 0.15, P2K: 0.15, P4K: 0.30},
		MaxUploadBytes: 10 << 20, MaxOutputBytes: 64 << 20, MaxPixels: 50_000_000, JobLease: 60 * time.Second,
		LogMaxBytes: 10 << 20, LogMaxFiles: 3,
		UploadQuota: 200 << 20, UploadsPerMinute: 30, UploadRetention: 24 * time.Hour,
		RequestTimeout: 30 * time.Second, UploadTimeout: 5 * time.Minute, MaxConnections: 4096,
		MaxEventStreams: 2500, MaxStreamsPerUser: 10, StreamWriteTimeout: 10 * time.Second,
	}
}

// Flags are the command-line settings that override everything else. Empty means unset.
type Flags struct {
	EnvFile    string
	DataDir    string
	ListenAddr string
	Demo       bool
}

// Error is a configuration error that names the variable, the bad value and what is allowed.
type Error struct {
	Var, Value, Want string
}

func (e *Error) Error() string {
	return fmt.Sprintf("config: %s=%q is not valid: %s", e.Var, e.Value, e.Want)
}

// Load builds the configuration from defaults, the .env file (f.EnvFile, else ./.env when
// present), the process environment and the flags, then validates it and resolves the
// secret key (generating DATA_DIR/secret.key once when SECRET_KEY is unset).
func Load(f Flags) (Config, error) {
	env, err := readEnv(f.EnvFile)
	if err != nil {
		return Config{}, err
	}
	c, err := FromMap(env)
	if err != nil {
		return c, err
	}
	if f.DataDir != "" {
		c.DataDir = f.DataDir
		if env["DATABASE_PATH"] == "" {
			c.DatabasePath = ""
		}
		if env["PID_FILE"] == "" {
			c.PIDFile = ""
		}
	}
	if c.DatabasePath == "" {
		c.DatabasePath = filepath.Join(c.DataDir, "nanobanana.db")
	}
	if c.PIDFile == "" {
		c.PIDFile = filepath.Join(c.DataDir, "nanobanana.pid")
	}
	if f.ListenAddr != "" {
		c.ListenAddr = f.ListenAddr
	}
	c.Demo = f.Demo
	if err := c.Validate(); err != nil {
		return c, err
	}
	return c, nil
}

// readEnv merges the .env file under the process environment (the environment wins).
func readEnv(envFile string) (map[string]string, error) {
	m := map[string]string{}
	path, explicit := envFile, envFile != ""
	if !explicit {
		path = ".env"
	}
	fileVals, err := godotenv.Read(path)
	switch {
	case err == nil:
		for k, v := range fileVals {
			m[k] = v
		}
	case explicit || !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("config: read env file %s: %w", path, err)
	}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m, nil
}

// FromMap reads settings from a variable map (file + environment) over the defaults.
// It checks each value's form; cross-field rules are in Validate.
func FromMap(m map[string]string) (Config, error) {
	c := Defaults()
	p := parser{m: m}
	p.str("POSTGRES_HOST", &c.PostgresHost)
	p.intRange("POSTGRES_PORT", &c.PostgresPort, 1, 65535)
	p.str("POSTGRES_DB", &c.PostgresDB)
	p.str("POSTGRES_USER", &c.PostgresUser)
	p.str("POSTGRES_PASSWORD", &c.PostgresPassword)
	p.oneOf("POSTGRES_SSLMODE", &c.PostgresSSLMode, "disable", "allow", "prefer", "require", "verify-ca", "verify-full")
	p.str("MINIO_ENDPOINT", &c.MinIOEndpoint)
	p.str("MINIO_ACCESS_KEY", &c.MinIOAccessKey)
	p.str("MINIO_SECRET_KEY", &c.MinIOSecretKey)
	p.str("MINIO_BUCKET", &c.MinIOBucket)
	p.boolean("MINIO_USE_SSL", &c.MinIOUseSSL)
	p.str("MINIO_PUBLIC_URL", &c.MinIOPublicURL)
	p.str("SECRET_KEY", &c.SecretKey)
	p.oneOf("ALGORITHM", &c.Algorithm, "HS256", "HS384", "HS512")
	var minutes, days int
	if p.intRange("ACCESS_TOKEN_EXPIRE_MINUTES", &minutes, 1, 60*24*30) {
		c.AccessTokenTTL = time.Duration(minutes) * time.Minute
	}
	if p.intRange("REFRESH_TOKEN_EXPIRE_DAYS", &days, 1, 365) {
		c.RefreshTokenTTL = time.Duration(days) * 24 * time.Hour
	}
	p.oneOf("PWD_SCHEMES", &c.PwdSchemes, "bcrypt")
	p.str("REPLICATE_API_TOKEN", &c.ReplicateAPIToken)
	p.intRange("MAX_WORKERS", &c.MaxWorkers, 1, 64)
	p.intRange("MAX_CONCURRENT_GENERATIONS", &c.MaxPerUser, 1, 64)
	p.intRange("MAX_PENDING_PER_USER", &c.MaxPendingPerUser, 1, 100000)

	p.str("DATA_DIR", &c.DataDir)
	p.str("DATABASE_PATH", &c.DatabasePath)
	p.oneOf("DATABASE", &c.Database, "sqlite", "postgres")
	if _, set := m["DATABASE"]; !set && c.PostgresHost != "" {
		// The original's .env names its PostgreSQL server this way: it meant "keep the
		// data there", and so it does here unless DATABASE says otherwise.
		c.Database = "postgres"
	}
	if v, ok := m["PORT"]; ok && v != "" {
		var port int
		if p.intRange("PORT", &port, 1, 65535) {
			// A host that hands the app a port expects it to answer on every interface.
			c.ListenAddr = net.JoinHostPort("0.0.0.0", strconv.Itoa(port))
		}
	}
	p.str("LISTEN_ADDR", &c.ListenAddr)
	if v := strings.TrimSpace(m["CORS_ORIGINS"]); v != "" {
		for _, o := range strings.Split(v, ",") {
			if o = strings.TrimSpace(o); o != "" {
				c.CORSOrigins = append(c.CORSOrigins, strings.TrimRight(o, "/"))
			}
		}
	}
	p.boolean("ALLOW_REGISTRATION", &c.AllowRegistration)
	p.oneOf("LOG_LEVEL", &c.LogLevel, "debug", "info", "warn", "error")
	p.oneOf("LOG_FORMAT", &c.LogFormat, "text", "json")
	p.intRange("BCRYPT_COST", &c.BcryptCost, 10, 16)
	p.str("REPLICATE_API_BASE", &c.ReplicateAPIBase)
	c.ReplicateAPIBase = strings.TrimRight(c.ReplicateAPIBase, "/")
	p.str("REPLICATE_MODEL", &c.ReplicateModel)
	p.oneOf("STORAGE", &c.Storage, "fs", "minio")
	p.str("PUBLIC_URL", &c.PublicURL)
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	p.str("X_ACCEL_REDIRECT", &c.XAccelRedirect)
	if v := strings.TrimSpace(m["TRUSTED_PROXIES"]); v != "" {
		for _, s := range strings.Split(v, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			pfx, err := netip.ParsePrefix(s)
			if err != nil {
				a, aerr := netip.ParseAddr(s)
				if aerr != nil {
					p.fail("TRUSTED_PROXIES", v, "want a comma list of IP addresses or CIDR prefixes, such as 127.0.0.1,10.0.0.0/8")
					break
				}
				pfx = netip.PrefixFrom(a, a.BitLen())
			}
			c.TrustedProxies = append(c.TrustedProxies, pfx)
		}
	}
	p.price("PRICE_1K", &c.Prices.P1K)
	p.price("PRICE_2K", &c.Prices.P2K)
	p.price("PRICE_4K", &c.Prices.P4K)
	p.optUSD("LIMIT_DAY_USD", &c.DefaultLimits.DayUSD)
	p.optUSD("LIMIT_MONTH_USD", &c.DefaultLimits.MonthUSD)
	p.optCount("LIMIT_DAY_IMAGES", &c.DefaultLimits.DayImages)
	p.optCount("LIMIT_MONTH_IMAGES", &c.DefaultLimits.MonthImages)
	p.optUSD("SHARED_MONTH_CAP_USD", &c.SharedMonthCapUSD)
	p.bytes("MAX_UPLOAD_BYTES", &c.MaxUploadBytes, 1<<10, 100<<20)
	p.bytes("MAX_OUTPUT_BYTES", &c.MaxOutputBytes, 1<<20, 512<<20)
	p.bytes("UPLOAD_QUOTA_BYTES", &c.UploadQuota, 0, 1<<40)
	p.intRange("UPLOADS_PER_MINUTE", &c.UploadsPerMinute, 0, 10000)
	var retention int
	if p.intRange("UPLOAD_RETENTION_HOURS", &retention, 1, 24*365) {
		c.UploadRetention = time.Duration(retention) * time.Hour
	}
	p.bytes("MAX_IMAGE_PIXELS", &c.MaxPixels, 1_000_000, 400_000_000)
	p.seconds("JOB_LEASE_SECONDS", &c.JobLease, 5, 3600)
	p.seconds("REQUEST_TIMEOUT_SECONDS", &c.RequestTimeout, 1, 3600)
	p.seconds("UPLOAD_TIMEOUT_SECONDS", &c.UploadTimeout, 1, 24*3600)
	p.intRange("MAX_CONNECTIONS", &c.MaxConnections, 16, 1_000_000)
	p.intRange("MAX_EVENT_STREAMS", &c.MaxEventStreams, 1, 1_000_000)
	p.intRange("MAX_STREAMS_PER_USER", &c.MaxStreamsPerUser, 1, 1000)
	p.seconds("EVENTS_WRITE_TIMEOUT_SECONDS", &c.StreamWriteTimeout, 1, 300)
	p.memory("MEMORY_LIMIT", &c.MemoryLimit, 16<<20)
	p.str("LOG_FILE", &c.LogFile)
	p.bytes("LOG_MAX_BYTES", &c.LogMaxBytes, 1<<10, 1<<30)
	p.intRange("LOG_MAX_FILES", &c.LogMaxFiles, 0, 100)
	p.str("PID_FILE", &c.PIDFile)
	return c, p.err
}

// Validate checks the rules that span fields. Errors name the variable and the fix.
func (c *Config) Validate() error {
	if c.SecretKey != "" {
		if c.SecretKey == SeedPlaceholderSecret {
			return &Error{"SECRET_KEY", "(the example value)", "it is the public example from the original README; set a random value of at least 32 bytes (openssl rand -hex 32), or unset it to have one generated"}
		}
		if len(c.SecretKey) < 32 {
			return &Error{"SECRET_KEY", "(redacted, " + strconv.Itoa(len(c.SecretKey)) + " bytes)", "want at least 32 bytes (openssl rand -hex 32), or unset it to have one generated"}
		}
	}
	if c.Database == "postgres" {
		for _, v := range []struct{ name, value string }{
			{"POSTGRES_HOST", c.PostgresHost}, {"POSTGRES_DB", c.PostgresDB}, {"POSTGRES_USER", c.PostgresUser},
		} {
			if v.value == "" {
				return &Error{v.name, "", "DATABASE=postgres needs POSTGRES_HOST, POSTGRES_DB and POSTGRES_USER (and usually POSTGRES_PASSWORD)"}
			}
		}
	}
	if c.Storage == "minio" {
		if c.MinIOEndpoint == "" || c.MinIOAccessKey == "" || c.MinIOSecretKey == "" || c.MinIOBucket == "" {
			return &Error{"STORAGE", "minio", "needs MINIO_ENDPOINT, MINIO_ACCESS_KEY, MINIO_SECRET_KEY and MINIO_BUCKET to be set"}
		}
	}
	if err := checkURL("REPLICATE_API_BASE", c.ReplicateAPIBase, true); err != nil {
		return err
	}
	if owner, name, ok := strings.Cut(c.ReplicateModel, "/"); !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return &Error{"REPLICATE_MODEL", c.ReplicateModel, "want owner/name, such as google/nano-banana-pro"}
	}
	if c.PublicURL != "" {
		if err := checkURL("PUBLIC_URL", c.PublicURL, true); err != nil {
			return err
		}
	}
	for _, o := range c.CORSOrigins {
		if o == "*" {
			return &Error{"CORS_ORIGINS", o, "\"*\" is refused because the API uses credentials; list the exact origins, such as https://app.example.com"}
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" {
			return &Error{"CORS_ORIGINS", o, "want a comma list of origins such as https://app.example.com (scheme and host, no path)"}
		}
	}
	if c.XAccelRedirect != "" && (!strings.HasPrefix(c.XAccelRedirect, "/") || !strings.HasSuffix(c.XAccelRedirect, "/")) {
		return &Error{"X_ACCEL_REDIRECT", c.XAccelRedirect, "want an nginx internal location path that starts and ends with /, such as /protected/"}
	}
	if c.XAccelRedirect != "" && c.Storage != "fs" {
		return &Error{"X_ACCEL_REDIRECT", c.XAccelRedirect, "only works with STORAGE=fs (nginx reads the files from disk); unset it"}
	}
	if path, ok := strings.CutPrefix(c.ListenAddr, "unix:"); ok {
		if !filepath.IsAbs(path) {
			return &Error{"LISTEN_ADDR", c.ListenAddr, "a unix socket needs an absolute path, such as unix:/run/nanobanana/nanobanana.sock"}
		}
	} else if _, port, err := net.SplitHostPort(c.ListenAddr); err != nil || port == "" {
		return &Error{"LISTEN_ADDR", c.ListenAddr, "want host:port (127.0.0.1:8000) or unix:/absolute/path.sock"}
	}
	if c.DataDir == "" {
		return &Error{"DATA_DIR", "", "want a directory path, such as ./data or /var/lib/nanobanana"}
	}
	if c.MaxConnections <= c.MaxEventStreams {
		return &Error{"MAX_CONNECTIONS", strconv.Itoa(c.MaxConnections), "must be above MAX_EVENT_STREAMS (" +
			strconv.Itoa(c.MaxEventStreams) + "), or open event streams could hold every connection and no request get in"}
	}
	if c.UploadTimeout < c.RequestTimeout {
		return &Error{"UPLOAD_TIMEOUT_SECONDS", strconv.Itoa(int(c.UploadTimeout / time.Second)),
			"must be at least REQUEST_TIMEOUT_SECONDS (" + strconv.Itoa(int(c.RequestTimeout/time.Second)) + "): uploads are the largest bodies"}
	}
	return nil
}

func checkURL(name, v string, needHost bool) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || (needHost && u.Host == "") {
		return &Error{name, v, "want an http(s) URL, such as https://example.com"}
	}
	return nil
}

// ResolveSecret fills SecretKey from DATA_DIR/secret.key when SECRET_KEY is unset,
// generating that file (mode 0600) the first time, so tokens survive restarts.
func (c *Config) ResolveSecret() error {
	if c.SecretKey != "" {
		return nil
	}
	path := filepath.Join(c.DataDir, "secret.key")
	if b, err := os.ReadFile(path); err == nil {
		key := strings.TrimSpace(string(b))
		if len(key) < 32 {
			return fmt.Errorf("config: %s holds fewer than 32 bytes: delete it to have a new one generated (this signs out every user)", path)
		}
		c.SecretKey, c.SecretKeyGenerated = key, true
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("config: read %s: %w", path, err)
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("config: create DATA_DIR %s: %w", c.DataDir, err)
	}
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	key := fmt.Sprintf("%x", raw[:])
	// Written whole to a temporary file, then linked into place: link fails if the name
	// exists, so two processes starting at once (sharing DATA_DIR, with PostgreSQL) never
	// each keep a different key, and neither reads a half-written one.
	tmp, err := os.CreateTemp(c.DataDir, ".secret.key-*")
	if err != nil {
		return fmt.Errorf("config: create %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("config: create %s: %w", path, err)
	}
	if _, err := tmp.WriteString(key + "\n"); err != nil {
		tmp.Close()
		return fmt.Errorf("config: write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("config: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("config: write %s: %w", path, err)
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, os.ErrExist) {
		return c.ResolveSecret() // another process was first: use its key
	} else if err != nil {
		return fmt.Errorf("config: create %s: %w", path, err)
	}
	c.SecretKey, c.SecretKeyGenerated = key, true
	return nil
}

// Price returns the configured estimate for one image at a resolution.
func (p Prices) Price(resolution string) float64 {
	switch resolution {
	case "1K":
		return p.P1K
	case "4K":
		return p.P4K
	default:
		return p.P2K
	}
}

// PostgresDSN is the connection string for DATABASE=postgres, in the key=value form
// libpq and pgx read. POSTGRES_HOST may also be a directory holding the server's Unix
// socket (/var/run/postgresql).
func (c *Config) PostgresDSN() string {
	kv := []struct{ k, v string }{
		{"host", c.PostgresHost}, {"port", strconv.Itoa(c.PostgresPort)}, {"dbname", c.PostgresDB},
		{"user", c.PostgresUser}, {"password", c.PostgresPassword}, {"sslmode", c.PostgresSSLMode},
		{"application_name", "nanobanana"},
	}
	var b strings.Builder
	for _, p := range kv {
		if p.v == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(p.k)
		b.WriteString("='")
		b.WriteString(strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(p.v))
		b.WriteByte('\'')
	}
	return b.String()
}
