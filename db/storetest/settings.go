package storetest

import (
	"context"
	"encoding/json"
	"testing"

	"nanobanana/db"
)

// Settings are stored by key as JSON, replaced by a later put, and gone with a delete
// (the environment's value applies again); every write moves SettingsVersion on.
var _ = register("SettingsPutReplaceDelete", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	admin := addUser(t, d, "admin")
	if m, err := d.Settings(ctx); err != nil || len(m) != 0 {
		t.Fatalf("a new store's settings: %v, %v; want none", m, err)
	}
	v0 := d.SettingsVersion()
	if err := d.PutSetting(ctx, "prices", json.RawMessage(`{"1K":0.2,"2K":0.2,"4K":0.4}`), admin); err != nil {
		t.Fatal(err)
	}
	if err := d.PutSetting(ctx, "queue_paused", json.RawMessage(" true\n"), 0); err != nil {
		t.Fatal(err)
	}
	v1 := d.SettingsVersion()
	if v1 == v0 {
		t.Error("SettingsVersion did not move after a put")
	}
	m, err := d.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var prices map[string]float64
	if err := json.Unmarshal(m["prices"], &prices); err != nil || prices["4K"] != 0.4 {
		t.Errorf("prices read back: %s (%v)", m["prices"], err)
	}
	if string(m["queue_paused"]) != "true" || len(m) != 2 {
		t.Errorf("settings read back: %v", m)
	}
	if n := count(t, d, `SELECT count(*) FROM settings WHERE key = 'prices' AND updated_by = ?`, admin); n != 1 {
		t.Errorf("prices not recorded as set by the admin")
	}

	// A second put replaces the value.
	if err := d.PutSetting(ctx, "queue_paused", json.RawMessage(`false`), admin); err != nil {
		t.Fatal(err)
	}
	if m, _ := d.Settings(ctx); string(m["queue_paused"]) != "false" {
		t.Errorf("queue_paused after a second put: %s", m["queue_paused"])
	}
	// A delete forgets it; deleting again is no error.
	for range 2 {
		if err := d.DeleteSetting(ctx, "queue_paused"); err != nil {
			t.Fatal(err)
		}
	}
	if m, _ := d.Settings(ctx); len(m) != 1 || m["queue_paused"] != nil {
		t.Errorf("settings after a delete: %v", m)
	}
	if d.SettingsVersion() == v1 {
		t.Error("SettingsVersion did not move after a delete")
	}
	// What is not JSON is refused and stores nothing.
	if err := d.PutSetting(ctx, "prices", json.RawMessage(`{oops`), admin); err == nil {
		t.Error("a value that is not JSON was stored")
	}
	if m, _ := d.Settings(ctx); string(m["prices"]) != `{"1K":0.2,"2K":0.2,"4K":0.4}` {
		t.Errorf("prices after a refused put: %s", m["prices"])
	}
})
