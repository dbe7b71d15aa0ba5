package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestDefaultsMatchTheSeed(t *testing.T) {
	c, err := FromMap(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Algorithm != "HS256" || c.AccessTokenTTL != 180*time.Minute || c.RefreshTokenTTL != 7*24*time.Hour ||
		c.MaxWorkers != 3 || c.MaxPerUser != 3 || c.ListenAddr != "127.0.0.1:8000" || c.Storage != "fs" {
		t.Fatalf("defaults differ from the seed's: %+v", c)
	}
}

func TestBadValuesNameTheVariable(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		name string
	}{
		{map[string]string{"MAX_WORKERS": "abc"}, "MAX_WORKERS"},
		{map[string]string{"MAX_WORKERS": "0"}, "MAX_WORKERS"},
		{map[string]string{"ALGORITHM": "none"}, "ALGORITHM"},
		{map[string]string{"ALGORITHM": "RS256"}, "ALGORITHM"},
		{map[string]string{"PWD_SCHEMES": "md5"}, "PWD_SCHEMES"},
		{map[string]string{"ACCESS_TOKEN_EXPIRE_MINUTES": "-1"}, "ACCESS_TOKEN_EXPIRE_MINUTES"},
		{map[string]string{"MINIO_USE_SSL": "maybe"}, "MINIO_USE_SSL"},
		{map[string]string{"LOG_FORMAT": "xml"}, "LOG_FORMAT"},
		{map[string]string{"BCRYPT_COST": "4"}, "BCRYPT_COST"},
		{map[string]string{"TRUSTED_PROXIES": "not-an-ip"}, "TRUSTED_PROXIES"},
		{map[string]string{"PORT": "99999"}, "PORT"},
		{map[string]string{"SECRET_KEY": "short"}, "SECRET_KEY"},
		{map[string]string{"SECRET_KEY": SeedPlaceholderSecret}, "SECRET_KEY"},
		{map[string]string{"CORS_ORIGINS": "*"}, "CORS_ORIGINS"},
		{map[string]string{"CORS_ORIGINS": "example.com"}, "CORS_ORIGINS"},
		{map[string]string{"LISTEN_ADDR": "unix:relative.sock"}, "LISTEN_ADDR"},
		{map[string]string{"LISTEN_ADDR": "8000"}, "LISTEN_ADDR"},
		{map[string]string{"STORAGE": "minio", "MINIO_ACCESS_KEY": ""}, "STORAGE"},
		{map[string]string{"X_ACCEL_REDIRECT": "protected"}, "X_ACCEL_REDIRECT"},
		{map[string]string{"REPLICATE_MODEL": "nano-banana"}, "REPLICATE_MODEL"},
		{map[string]string{"DATABASE": "postgres"}, "POSTGRES_HOST"},
		{map[string]string{"DATABASE": "mysql"}, "DATABASE"},
		{map[string]string{"POSTGRES_SSLMODE": "on"}, "POSTGRES_SSLMODE"},
		{map[string]string{"JOB_LEASE_SECONDS": "1"}, "JOB_LEASE_SECONDS"},
		{map[string]string{"MEMORY_LIMIT": "400MB"}, "MEMORY_LIMIT"},
		{map[string]string{"MEMORY_LIMIT": "lots"}, "MEMORY_LIMIT"},
		{map[string]string{"MEMORY_LIMIT": "1MiB"}, "MEMORY_LIMIT"},
		{map[string]string{"MEMORY_LIMIT": "-5GiB"}, "MEMORY_LIMIT"},
		{map[string]string{"LOG_MAX_BYTES": "10"}, "LOG_MAX_BYTES"},
		{map[string]string{"LOG_MAX_FILES": "-1"}, "LOG_MAX_FILES"},
		{map[string]string{"REQUEST_TIMEOUT_SECONDS": "0"}, "REQUEST_TIMEOUT_SECONDS"},
		{map[string]string{"UPLOAD_TIMEOUT_SECONDS": "10", "REQUEST_TIMEOUT_SECONDS": "60"}, "UPLOAD_TIMEOUT_SECONDS"},
		{map[string]string{"MAX_CONNECTIONS": "2000"}, "MAX_CONNECTIONS"},
		{map[string]string{"MAX_EVENT_STREAMS": "0"}, "MAX_EVENT_STREAMS"},
		{map[string]string{"MAX_STREAMS_PER_USER": "none"}, "MAX_STREAMS_PER_USER"},
		{map[string]string{"EVENTS_WRITE_TIMEOUT_SECONDS": "0"}, "EVENTS_WRITE_TIMEOUT_SECONDS"},
	} {
		c, err := FromMap(tc.env)
		if err == nil {
			c.DatabasePath = "x"
			err = c.Validate()
		}
		var ce *Error
		if !errors.As(err, &ce) || ce.Var != tc.name {
			t.Errorf("%v: error %v; want one naming %s", tc.env, err, tc.name)
			continue
		}
		if tc.name == "SECRET_KEY" && strings.Contains(err.Error(), tc.env["SECRET_KEY"]) {
			t.Errorf("the error repeats the secret: %v", err)
		}
	}
}

// MEMORY_LIMIT takes GOMEMLIMIT's form, and prints back in it.
func TestMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		in    string
		bytes int64
		print string
	}{
		{"", 0, ""},
		{"400MiB", 400 << 20, "400MiB"},
		{"1GiB", 1 << 30, "1GiB"},
		{"524288KiB", 512 << 20, "512MiB"},
		{"268435456", 256 << 20, "256MiB"},
		{"100000000B", 100000000, "100000000"},
	} {
		c, err := FromMap(map[string]string{"MEMORY_LIMIT": tc.in})
		if err != nil {
			t.Errorf("MEMORY_LIMIT=%s: %v", tc.in, err)
			continue
		}
		if c.MemoryLimit != tc.bytes {
			t.Errorf("MEMORY_LIMIT=%s: %d bytes, want %d", tc.in, c.MemoryLimit, tc.bytes)
		}
		var buf bytes.Buffer
		c.Print(&buf)
		if !strings.Contains(buf.String(), "\nMEMORY_LIMIT="+tc.print+"\n") {
			t.Errorf("MEMORY_LIMIT=%s prints as:\n%s", tc.in, buf.String())
		}
	}
}

// The pid file follows DATA_DIR, like the database, unless it is set itself.
func TestPIDFileFollowsDataDir(t *testing.T) {
	t.Chdir(t.TempDir())
	c, err := Load(Flags{DataDir: "/srv/nb"})
	if err != nil {
		t.Fatal(err)
	}
	if c.PIDFile != "/srv/nb/nanobanana.pid" || c.LogFile != "" || c.LogMaxBytes != 10<<20 || c.LogMaxFiles != 3 {
		t.Errorf("defaults under --data-dir: PID_FILE %q LOG_FILE %q LOG_MAX_BYTES %d LOG_MAX_FILES %d", c.PIDFile, c.LogFile, c.LogMaxBytes, c.LogMaxFiles)
	}
	t.Setenv("PID_FILE", "/run/user/1000/nb.pid")
	if c, err = Load(Flags{DataDir: "/srv/nb"}); err != nil || c.PIDFile != "/run/user/1000/nb.pid" {
		t.Errorf("PID_FILE set: %q %v", c.PIDFile, err)
	}
}

// The original's .env names its PostgreSQL server with POSTGRES_HOST and nothing else:
// carried over, it keeps meaning "the data lives there".
func TestSeedPostgresSettingsChooseThePostgresBackend(t *testing.T) {
	seed := map[string]string{"POSTGRES_HOST": "localhost", "POSTGRES_PORT": "5432",
		"POSTGRES_DB": "nano_banana", "POSTGRES_USER": "nano_banana_user", "POSTGRES_PASSWORD": "it's a \\ pass"}
	c, err := FromMap(seed)
	if err != nil {
		t.Fatal(err)
	}
	if c.Database != "postgres" {
		t.Fatalf("DATABASE = %q with the seed's POSTGRES_HOST; want postgres", c.Database)
	}
	c.DatabasePath = "x"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	want := `host='localhost' port='5432' dbname='nano_banana' user='nano_banana_user' password='it\'s a \\ pass' sslmode='prefer' application_name='nanobanana'`
	if got := c.PostgresDSN(); got != want {
		t.Errorf("PostgresDSN\n got %s\nwant %s", got, want)
	}

	seed["DATABASE"] = "sqlite"
	if c, _ := FromMap(seed); c.Database != "sqlite" {
		t.Errorf("DATABASE=sqlite with POSTGRES_HOST set gave %q; an explicit choice wins", c.Database)
	}
	if c, _ := FromMap(map[string]string{}); c.Database != "sqlite" {
		t.Errorf("default DATABASE = %q; want sqlite", c.Database)
	}
}

func TestPortAloneListensOnAllInterfaces(t *testing.T) {
	c, err := FromMap(map[string]string{"PORT": "9123"})
	if err != nil || c.ListenAddr != "0.0.0.0:9123" {
		t.Fatalf("PORT=9123 gave %q, %v", c.ListenAddr, err)
	}
	c, _ = FromMap(map[string]string{"PORT": "9123", "LISTEN_ADDR": "127.0.0.1:1"})
	if c.ListenAddr != "127.0.0.1:1" {
		t.Fatalf("LISTEN_ADDR should win over PORT, got %q", c.ListenAddr)
	}
}

func TestOrderDefaultsFileEnvironmentFlags(t *testing.T) {
	dir := t.TempDir()
	envFile := filepath.Join(dir, "test.env")
	os.WriteFile(envFile, []byte("MAX_WORKERS=5\nMAX_CONCURRENT_GENERATIONS=2\nLISTEN_ADDR=127.0.0.1:7000\nDATA_DIR="+dir+"/fromfile\n"), 0o600)
	t.Setenv("MAX_CONCURRENT_GENERATIONS", "4")
	c, err := Load(Flags{EnvFile: envFile, ListenAddr: "127.0.0.1:7001"})
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxWorkers != 5 {
		t.Errorf("file value lost: MAX_WORKERS=%d", c.MaxWorkers)
	}
	if c.MaxPerUser != 4 {
		t.Errorf("environment should beat the file: MAX_CONCURRENT_GENERATIONS=%d", c.MaxPerUser)
	}
	if c.ListenAddr != "127.0.0.1:7001" {
		t.Errorf("flag should beat the file: LISTEN_ADDR=%s", c.ListenAddr)
	}
	if c.DatabasePath != filepath.Join(dir, "fromfile", "nanobanana.db") {
		t.Errorf("DATABASE_PATH should follow DATA_DIR, got %s", c.DatabasePath)
	}
	if _, err := Load(Flags{EnvFile: filepath.Join(dir, "missing.env")}); err == nil {
		t.Error("a named env file that does not exist must be an error")
	}
}

func TestGeneratedSecretIsKeptAndPrivate(t *testing.T) {
	dir := t.TempDir()
	c := Defaults()
	c.DataDir = filepath.Join(dir, "data")
	if err := c.ResolveSecret(); err != nil {
		t.Fatal(err)
	}
	if len(c.SecretKey) < 32 {
		t.Fatalf("generated secret too short: %d", len(c.SecretKey))
	}
	st, err := os.Stat(filepath.Join(c.DataDir, "secret.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("secret.key: %v mode %v; want 0600", err, st.Mode().Perm())
	}
	again := Defaults()
	again.DataDir = c.DataDir
	if err := again.ResolveSecret(); err != nil || again.SecretKey != c.SecretKey {
		t.Fatal("a restart must reuse the kept secret so tokens survive")
	}
}

func TestPrintRedactsSecrets(t *testing.T) {
	c, _ := FromMap(map[string]string{
		"SECRET_KEY": "0123456789abcdef0123456789abcdef-very-secret", "REPLICATE_API_TOKEN": "r8_supersecrettoken",
		"POSTGRES_PASSWORD": "pgpass-secret", "MINIO_SECRET_KEY": "minio-secret-123",
	})
	var buf bytes.Buffer
	c.Print(&buf)
	out := buf.String()
	for _, s := range []string{"very-secret", "r8_supersecrettoken", "pgpass-secret", "minio-secret-123"} {
		if strings.Contains(out, s) {
			t.Errorf("printed config contains the secret %q", s)
		}
	}
	if !strings.Contains(out, "REPLICATE_API_TOKEN=(set, redacted)") || !strings.Contains(out, "MAX_WORKERS=3") {
		t.Errorf("printed config lacks expected lines:\n%s", out)
	}
}

// .env.example documents every variable the config reads, and loads as it is.
func TestEnvExampleDocumentsEveryVariable(t *testing.T) {
	raw, err := os.ReadFile("../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	c := Defaults()
	c.Print(&buf)
	for _, line := range strings.Split(buf.String(), "\n") {
		name, _, ok := strings.Cut(line, "=")
		if ok && !strings.Contains(string(raw), name+"=") {
			t.Errorf(".env.example does not document %s", name)
		}
	}
	for _, name := range []string{"PORT", "DATA_DIR", "DATABASE_PATH"} {
		if !strings.Contains(string(raw), name+"=") {
			t.Errorf(".env.example does not document %s", name)
		}
	}
	dir := t.TempDir()
	if _, err := Load(Flags{EnvFile: "../.env.example", DataDir: dir}); err != nil {
		t.Fatalf(".env.example does not load: %v", err)
	}
}

// Processes sharing DATA_DIR (several serves on one PostgreSQL database) and starting at
// once end up with one key between them.
func TestGeneratedSecretIsOneAcrossConcurrentStarts(t *testing.T) {
	dir := t.TempDir()
	keys := make([]string, 16)
	errs := make([]error, len(keys))
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() {
			c := Defaults()
			c.DataDir = dir
			errs[i] = c.ResolveSecret()
			keys[i] = c.SecretKey
		})
	}
	wg.Wait()
	for i := range keys {
		if errs[i] != nil || keys[i] != keys[0] || len(keys[i]) < 32 {
			t.Fatalf("start %d: key %q, %v; want the same key as start 0 (%q)", i, keys[i], errs[i], keys[0])
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("DATA_DIR holds %d files; want only secret.key (no temporary files left)", len(entries))
	}
}
