package config

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// redact shows whether a secret is set without showing any of it.
func redact(v string) string {
	if v == "" {
		return "(unset)"
	}
	return "(set, redacted)"
}

// memory prints a MEMORY_LIMIT back in the unit it was most likely given in.
func memory(n int64) string {
	switch {
	case n == 0:
		return ""
	case n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "GiB"
	case n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MiB"
	}
	return strconv.FormatInt(n, 10)
}

// Print writes the effective settings, one VARIABLE=value a line, secrets redacted.
func (c Config) Print(w io.Writer) error {
	secret := redact(c.SecretKey)
	if c.SecretKey == "" {
		secret = "(unset: generated once into DATA_DIR/secret.key at start)"
	}
	if c.SecretKeyGenerated {
		secret = "(generated, kept in DATA_DIR/secret.key, redacted)"
	}
	proxies := make([]string, len(c.TrustedProxies))
	for i, p := range c.TrustedProxies {
		proxies[i] = p.String()
	}
	rows := [][2]string{
		{"DATA_DIR", c.DataDir},
		{"DATABASE", c.Database},
		{"DATABASE_PATH", c.DatabasePath},
		{"LISTEN_ADDR", c.ListenAddr},
		{"STORAGE", c.Storage},
		{"SECRET_KEY", secret},
		{"ALGORITHM", c.Algorithm},
		{"ACCESS_TOKEN_EXPIRE_MINUTES", strconv.Itoa(int(c.AccessTokenTTL.Minutes()))},
		{"REFRESH_TOKEN_EXPIRE_DAYS", strconv.Itoa(int(c.RefreshTokenTTL.Hours() / 24))},
		{"PWD_SCHEMES", c.PwdSchemes},
		{"BCRYPT_COST", strconv.Itoa(c.BcryptCost)},
		{"REPLICATE_API_TOKEN", redact(c.ReplicateAPIToken)},
		{"REPLICATE_API_BASE", c.ReplicateAPIBase},
		{"REPLICATE_MODEL", c.ReplicateModel},
		{"MAX_WORKERS", strconv.Itoa(c.MaxWorkers)},
		{"MAX_CONCURRENT_GENERATIONS", strconv.Itoa(c.MaxPerUser)},
		{"ALLOW_REGISTRATION", strconv.FormatBool(c.AllowRegistration)},
		{"CORS_ORIGINS", strings.Join(c.CORSOrigins, ",")},
		{"TRUSTED_PROXIES", strings.Join(proxies, ",")},
		{"PUBLIC_URL", c.PublicURL},
		{"X_ACCEL_REDIRECT", c.XAccelRedirect},
		{"LOG_LEVEL", c.LogLevel},
		{"LOG_FORMAT", c.LogFormat},
		{"PRICE_1K", strconv.FormatFloat(c.Prices.P1K, 'f', -1, 64)},
		{"PRICE_2K", strconv.FormatFloat(c.Prices.P2K, 'f', -1, 64)},
		{"PRICE_4K", strconv.FormatFloat(c.Prices.P4K, 'f', -1, 64)},
		{"LIMIT_DAY_USD", optUSD(c.DefaultLimits.DayUSD)},
		{"LIMIT_MONTH_USD", optUSD(c.DefaultLimits.MonthUSD)},
		{"LIMIT_DAY_IMAGES", optCount(c.DefaultLimits.DayImages)},
		{"LIMIT_MONTH_IMAGES", optCount(c.DefaultLimits.MonthImages)},
		{"SHARED_MONTH_CAP_USD", optUSD(c.SharedMonthCapUSD)},
		{"MAX_UPLOAD_BYTES", strconv.FormatInt(c.MaxUploadBytes, 10)},
		{"UPLOAD_QUOTA_BYTES", strconv.FormatInt(c.UploadQuota, 10)},
		{"UPLOADS_PER_MINUTE", strconv.Itoa(c.UploadsPerMinute)},
		{"UPLOAD_RETENTION_HOURS", strconv.Itoa(int(c.UploadRetention / time.Hour))},
		{"MAX_OUTPUT_BYTES", strconv.FormatInt(c.MaxOutputBytes, 10)},
		{"MAX_IMAGE_PIXELS", strconv.FormatInt(c.MaxPixels, 10)},
		{"JOB_LEASE_SECONDS", strconv.Itoa(int(c.JobLease / time.Second))},
		{"MEMORY_LIMIT", memory(c.MemoryLimit)},
		{"LOG_FILE", c.LogFile},
		{"LOG_MAX_BYTES", strconv.FormatInt(c.LogMaxBytes, 10)},
		{"LOG_MAX_FILES", strconv.Itoa(c.LogMaxFiles)},
		{"PID_FILE", c.PIDFile},
		{"REQUEST_TIMEOUT_SECONDS", strconv.Itoa(int(c.RequestTimeout / time.Second))},
		{"UPLOAD_TIMEOUT_SECONDS", strconv.Itoa(int(c.UploadTimeout / time.Second))},
		{"MAX_CONNECTIONS", strconv.Itoa(c.MaxConnections)},
		{"MAX_EVENT_STREAMS", strconv.Itoa(c.MaxEventStreams)},
		{"MAX_STREAMS_PER_USER", strconv.Itoa(c.MaxStreamsPerUser)},
		{"EVENTS_WRITE_TIMEOUT_SECONDS", strconv.Itoa(int(c.StreamWriteTimeout / time.Second))},
		{"POSTGRES_HOST", c.PostgresHost},
		{"POSTGRES_PORT", strconv.Itoa(c.PostgresPort)},
		{"POSTGRES_DB", c.PostgresDB},
		{"POSTGRES_USER", c.PostgresUser},
		{"POSTGRES_PASSWORD", redact(c.PostgresPassword)},
		{"POSTGRES_SSLMODE", c.PostgresSSLMode},
		{"MINIO_ENDPOINT", c.MinIOEndpoint},
		{"MINIO_ACCESS_KEY", c.MinIOAccessKey},
		{"MINIO_SECRET_KEY", redact(c.MinIOSecretKey)},
		{"MINIO_BUCKET", c.MinIOBucket},
		{"MINIO_USE_SSL", strconv.FormatBool(c.MinIOUseSSL)},
		{"MINIO_PUBLIC_URL", c.MinIOPublicURL},
	}
	for _, r := range rows {
		if _, err := fmt.Fprintf(w, "%s=%s\n", r[0], r[1]); err != nil {
			return err
		}
	}
	return nil
}

func optUSD(v *float64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatFloat(*v, 'f', -1, 64)
}

func optCount(v *int) string {
	if v == nil {
		return ""
	}
	return strconv.Itoa(*v)
}
