package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sync"

	"nanobanana/config"
	"nanobanana/db"
)

// Settings an admin may change without a restart. The environment gives each key's
// first value; a value stored in the database (db.Settings) wins over it until deleted.
// A change reaches every process at once: the store's SettingsVersion moves (on
// PostgreSQL through LISTEN/NOTIFY), and the next read here loads the values again.
const (
	SettingRegistration       = "registration"         // "open" | "invite" | "closed"
	SettingApprovalRequired   = "approval_required"    // bool
	SettingQueuePaused        = "queue_paused"         // bool: workers claim nothing
	SettingPrices             = "prices"               // {"1K":0.15,"2K":0.15,"4K":0.30}
	SettingDefaultLimits      = "default_limits"       // db.Limits
	SettingSharedMonthCapUSD  = "shared_month_cap_usd" // number or null
	SettingAuditRetentionDays = "audit_retention_days" // int
)

// Sources of a setting's value.
const (
	SourceEnvironment = "environment"
	SourceStored      = "stored"
)

// SettingValue is one setting's effective value and where it comes from.
type SettingValue struct {
	Value  json.RawMessage `json:"value"`
	Source string          `json:"source"`
}

// settingDef is what the server knows of a key: its environment value, and the check
// a value must pass to be stored (it also decodes it into an Effective).
type settingDef struct {
	env   func(c *config.Config) any
	apply func(raw json.RawMessage, e *Effective) error
}

// priceMap is the JSON form of the prices.
type priceMap struct {
	P1K *float64 `json:"1K"`
	P2K *float64 `json:"2K"`
	P4K *float64 `json:"4K"`
}

var settingDefs = map[string]settingDef{
	SettingRegistration: {
		env: func(c *config.Config) any {
			if c.AllowRegistration {
				return "open"
			}
			return "closed"
		},
		apply: func(raw json.RawMessage, e *Effective) error {
			var v string
			if err := strictJSON(raw, &v); err != nil || (v != "open" && v != "invite" && v != "closed") {
				return fmt.Errorf(`want "open", "invite" or "closed"`)
			}
			e.Registration = v
			return nil
		},
	},
	SettingApprovalRequired: {
		env:   func(*config.Config) any { return false },
		apply: func(raw json.RawMessage, e *Effective) error { return boolSetting(raw, &e.ApprovalRequired) },
	},
	SettingQueuePaused: {
		env:   func(*config.Config) any { return false },
		apply: func(raw json.RawMessage, e *Effective) error { return boolSetting(raw, &e.QueuePaused) },
	},
	SettingPrices: {
		env: func(c *config.Config) any {
			return map[string]float64{"1K": c.Prices.P1K, "2K": c.Prices.P2K, "4K": c.Prices.P4K}
		},
		apply: func(raw json.RawMessage, e *Effective) error {
			var p priceMap
			if err := strictJSON(raw, &p); err != nil || p.P1K == nil || p.P2K == nil || p.P4K == nil {
				return fmt.Errorf(`want the price of each resolution in US dollars, such as {"1K":0.15,"2K":0.15,"4K":0.30}`)
			}
			for _, v := range []float64{*p.P1K, *p.P2K, *p.P4K} {
				if !amountOK(v) || v > 100 {
					return fmt.Errorf("want prices from 0 to 100 US dollars")
				}
			}
			e.Prices = config.Prices{P1K: *p.P1K, P2K: *p.P2K, P4K: *p.P4K}
			return nil
		},
	},
	SettingDefaultLimits: {
		env: func(c *config.Config) any { return limitsFromConfig(c.DefaultLimits) },
		apply: func(raw json.RawMessage, e *Effective) error {
			l, err := parseLimits(raw)
			if err != nil {
				return err
			}
			e.DefaultLimits = l
			return nil
		},
	},
	SettingSharedMonthCapUSD: {
		env: func(c *config.Config) any { return c.SharedMonthCapUSD },
		apply: func(raw json.RawMessage, e *Effective) error {
			var v *float64
			if err := strictJSON(raw, &v); err != nil || (v != nil && !amountOK(*v)) {
				return fmt.Errorf("want an amount in US dollars, or null for no cap")
			}
			e.SharedMonthCapUSD = v
			return nil
		},
	},
	SettingAuditRetentionDays: {
		env: func(*config.Config) any { return 90 },
		apply: func(raw json.RawMessage, e *Effective) error {
			var v int
			if err := strictJSON(raw, &v); err != nil || v < 1 || v > 3650 {
				return fmt.Errorf("want a whole number of days from 1 to 3650")
			}
			e.AuditRetentionDays = v
			return nil
		},
	},
}

// Effective is the settings in force: the environment's values with the stored ones
// over them.
type Effective struct {
	Registration       string
	ApprovalRequired   bool
	QueuePaused        bool
	Prices             config.Prices
	DefaultLimits      db.Limits
	SharedMonthCapUSD  *float64
	AuditRetentionDays int
	// All is every key's value (as JSON) and its source.
	All map[string]SettingValue
}

// settingsCache holds the merged settings of one SettingsVersion.
type settingsCache struct {
	mu      sync.Mutex
	version uint64
	value   *Effective
}

// settings returns the settings in force. They are read again from the database
// whenever its SettingsVersion moved (a write here, or another process's on
// PostgreSQL), so a change applies at the next request.
func (s *Server) settings(ctx context.Context) (*Effective, error) {
	c := &s.settingsCache
	v := s.db.SettingsVersion() // before the read: a change after it moves it again
	c.mu.Lock()
	if c.value != nil && c.version == v {
		e := c.value
		c.mu.Unlock()
		return e, nil
	}
	c.mu.Unlock()
	stored, err := s.db.Settings(ctx)
	if err != nil {
		return nil, err
	}
	e := mergeSettings(&s.cfg, stored, func(key string, err error) {
		s.log.Warn("a stored setting is not valid: the environment's value applies", "key", key, "err", err)
	})
	c.mu.Lock()
	c.value, c.version = e, v
	c.mu.Unlock()
	return e, nil
}

// mergeSettings puts the stored values over the environment's. A stored value that no
// longer passes its check (written by another version) is ignored and reported.
func mergeSettings(cfg *config.Config, stored map[string]json.RawMessage, bad func(string, error)) *Effective {
	e := &Effective{All: make(map[string]SettingValue, len(settingDefs))}
	for key, def := range settingDefs {
		raw, _ := json.Marshal(def.env(cfg))
		if err := def.apply(raw, e); err != nil {
			panic(fmt.Sprintf("settings: the environment's value of %s does not pass its own check: %v", key, err))
		}
		e.All[key] = SettingValue{Value: raw, Source: SourceEnvironment}
	}
	for key, raw := range stored {
		def, ok := settingDefs[key]
		if !ok {
			// A key this version does not know (another helper's, or a newer version's)
			// is shown as stored, with no effect here.
			e.All[key] = SettingValue{Value: raw, Source: SourceStored}
			continue
		}
		if err := def.apply(raw, e); err != nil {
			bad(key, err)
			continue
		}
		e.All[key] = SettingValue{Value: raw, Source: SourceStored}
	}
	return e
}

// LoadSettings is the settings in force for a process that has no Server (the admin
// commands): cfg's values with the stored ones over them.
func LoadSettings(ctx context.Context, d db.Store, cfg config.Config) (*Effective, error) {
	stored, err := d.Settings(ctx)
	if err != nil {
		return nil, err
	}
	// A stored value that fails its check leaves the environment's in force, as in the
	// server (which logs it).
	return mergeSettings(&cfg, stored, func(string, error) {}), nil
}

// CheckSetting says whether value may be stored under key: nil, or a sentence of what
// the key wants. The admin settings routes call it before PutSetting.
func CheckSetting(key string, value json.RawMessage) error {
	def, ok := settingDefs[key]
	if !ok {
		return fmt.Errorf("there is no setting %q", key)
	}
	return def.apply(value, &Effective{})
}

// prices is the price table in force; when the settings cannot be read, the
// environment's.
func (s *Server) prices(ctx context.Context) config.Prices {
	e, err := s.settings(ctx)
	if err != nil {
		return s.cfg.Prices
	}
	return e.Prices
}

// Price is what one image of the resolution costs under these settings.
func (e *Effective) Price(resolution string) float64 { return e.Prices.Price(resolution) }

func boolSetting(raw json.RawMessage, dst *bool) error {
	if err := strictJSON(raw, dst); err != nil {
		return fmt.Errorf("want true or false")
	}
	return nil
}

// parseLimits reads limits in their JSON form; a missing or null field is no limit.
func parseLimits(raw json.RawMessage) (db.Limits, error) {
	var l db.Limits
	if err := strictJSON(raw, &l); err != nil {
		return l, fmt.Errorf(`want {"day_usd":..,"month_usd":..,"day_images":..,"month_images":..}, each a number or null`)
	}
	return l, checkLimits(l)
}

func checkLimits(l db.Limits) error {
	for _, v := range []*float64{l.DayUSD, l.MonthUSD} {
		if v != nil && !amountOK(*v) {
			return fmt.Errorf("want amounts from 0 to 1000000000 US dollars")
		}
	}
	for _, v := range []*int{l.DayImages, l.MonthImages} {
		if v != nil && (*v < 0 || *v > 1e9) {
			return fmt.Errorf("want image counts from 0 to 1000000000")
		}
	}
	return nil
}

func amountOK(v float64) bool { return !math.IsNaN(v) && v >= 0 && v <= 1e9 }

func limitsFromConfig(c config.Limits) db.Limits {
	return db.Limits{DayUSD: c.DayUSD, MonthUSD: c.MonthUSD, DayImages: c.DayImages, MonthImages: c.MonthImages}
}

// strictJSON decodes raw into dst, refusing unknown fields and trailing data.
func strictJSON(raw json.RawMessage, dst any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(dst); err != nil {
		return err
	}
	if d.More() {
		return fmt.Errorf("trailing data")
	}
	return nil
}
