package server

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
)

// The environment gives each setting's first value; a stored one wins, the source says
// which, and a change applies at the next request without a restart (here: the price in
// /meta), back to the environment's once deleted.
func TestSettingsMergeEnvironmentAndStored(t *testing.T) {
	cap := 50.0
	ts := newTestServer(t, func(o *Options) {
		o.Config.Prices.P4K = 0.5
		o.Config.SharedMonthCapUSD = &cap
	})
	ctx := context.Background()
	price4K := func() float64 {
		t.Helper()
		r := ts.do(t, call{Method: "GET", Path: "/api/v1/meta"})
		if r.Status != http.StatusOK {
			t.Fatalf("meta: %d %s", r.Status, r.Body)
		}
		return r.JSON(t)["prices_usd"].(map[string]any)["4K"].(float64)
	}
	e, err := ts.settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if e.Prices.P4K != 0.5 || e.All[SettingPrices].Source != SourceEnvironment || *e.SharedMonthCapUSD != 50 {
		t.Fatalf("environment's settings: %+v", e)
	}
	if p := price4K(); p != 0.5 {
		t.Errorf("4K price from the environment: %v", p)
	}

	if err := ts.DB.PutSetting(ctx, SettingPrices, json.RawMessage(`{"1K":0.1,"2K":0.2,"4K":0.4}`), 0); err != nil {
		t.Fatal(err)
	}
	if err := ts.DB.PutSetting(ctx, SettingSharedMonthCapUSD, json.RawMessage(`null`), 0); err != nil {
		t.Fatal(err)
	}
	if p := price4K(); p != 0.4 {
		t.Errorf("4K price after an admin stored one: %v, want 0.4", p)
	}
	e, _ = ts.settings(ctx)
	if e.All[SettingPrices].Source != SourceStored || e.SharedMonthCapUSD != nil ||
		e.All[SettingRegistration].Source != SourceEnvironment {
		t.Errorf("merged settings: %+v", e.All)
	}

	if err := ts.DB.DeleteSetting(ctx, SettingPrices); err != nil {
		t.Fatal(err)
	}
	if p := price4K(); p != 0.5 {
		t.Errorf("4K price after the stored one was deleted: %v, want the environment's 0.5", p)
	}
}

// Values are checked before they are stored; a stored value the check refuses
// (written by hand, or by another version) leaves the environment's in force.
func TestSettingsChecks(t *testing.T) {
	for _, c := range []struct {
		key, value string
		ok         bool
	}{
		{SettingRegistration, `"invite"`, true},
		{SettingRegistration, `"maybe"`, false},
		{SettingPrices, `{"1K":0.1,"2K":0.2,"4K":0.3}`, true},
		{SettingPrices, `{"1K":0.1,"2K":0.2}`, false},
		{SettingPrices, `{"1K":-1,"2K":0.2,"4K":0.3}`, false},
		{SettingDefaultLimits, `{"day_usd":2,"month_images":100}`, true},
		{SettingDefaultLimits, `{"day_usd":-2}`, false},
		{SettingDefaultLimits, `{"weekly":2}`, false},
		{SettingSharedMonthCapUSD, `null`, true},
		{SettingSharedMonthCapUSD, `"lots"`, false},
		{SettingQueuePaused, `true`, true},
		{SettingAuditRetentionDays, `0`, false},
		{"no_such_key", `1`, false},
	} {
		if err := CheckSetting(c.key, json.RawMessage(c.value)); (err == nil) != c.ok {
			t.Errorf("CheckSetting(%s, %s) = %v, want ok=%v", c.key, c.value, err, c.ok)
		}
	}
	ts := newTestServer(t)
	ctx := context.Background()
	if err := ts.DB.PutSetting(ctx, SettingPrices, json.RawMessage(`{"1K":"cheap"}`), 0); err != nil {
		t.Fatal(err)
	}
	e, err := ts.settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if e.Prices != ts.Cfg.Prices || e.All[SettingPrices].Source != SourceEnvironment {
		t.Errorf("a stored value that fails its check: %+v, source %s", e.Prices, e.All[SettingPrices].Source)
	}
}
