package sqlstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
)

// Settings returns every stored setting, by key.
func (s *Store) Settings(ctx context.Context) (map[string]json.RawMessage, error) {
	return read(ctx, s, func(q Querier) (map[string]json.RawMessage, error) {
		rows, err := q.Query(`SELECT key, value FROM settings`)
		if err != nil {
			return nil, wrapf(err, "read settings")
		}
		defer rows.Close()
		out := map[string]json.RawMessage{}
		for rows.Next() {
			var k, v string
			if err := rows.Scan(&k, &v); err != nil {
				return nil, err
			}
			out[k] = json.RawMessage(v)
		}
		return out, rows.Err()
	})
}

// PutSetting stores value (JSON) under key; by is the admin who set it (0: none).
func (s *Store) PutSetting(ctx context.Context, key string, value json.RawMessage, by int64) error {
	// Stored compact, so a query may compare the text (the claim reads queue_paused).
	var buf bytes.Buffer
	if key == "" || json.Compact(&buf, value) != nil {
		return fmt.Errorf("setting %q: the value is not JSON", key)
	}
	value = buf.Bytes()
	var who any // NULL unless an account set it
	if by > 0 {
		who = by
	}
	now := ms(s.now())
	_, err := write(ctx, s, func(q Querier) (struct{}, error) {
		_, err := q.Exec(`INSERT INTO settings (key, value, updated_at, updated_by) VALUES (?, ?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at,
			updated_by = excluded.updated_by`, key, string(value), now, who)
		return struct{}{}, err
	})
	s.SettingsChanged()
	return wrapf(err, "store setting %q", key)
}

// DeleteSetting removes the stored value of key: the environment's applies again.
// Deleting a key that is not stored is not an error.
func (s *Store) DeleteSetting(ctx context.Context, key string) error {
	_, err := write(ctx, s, func(q Querier) (struct{}, error) {
		_, err := q.Exec(`DELETE FROM settings WHERE key = ?`, key)
		return struct{}{}, err
	})
	s.SettingsChanged()
	return wrapf(err, "delete setting %q", key)
}

// SettingsVersion changes whenever the stored settings may have changed: after a write
// of this process, and on PostgreSQL when another process announced one. A reader that
// caches settings reads the version first, then the settings, and reads them again
// once the version differs.
func (s *Store) SettingsVersion() uint64 { return s.settingsVersion.Load() }

// SettingsChanged moves SettingsVersion on (the engines call it when another process
// announced a change, or when they cannot know whether they missed one).
func (s *Store) SettingsChanged() { s.settingsVersion.Add(1) }
