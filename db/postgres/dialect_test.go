package postgres

import "testing"

func TestRebindFollowsSQLiteNumbering(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`a = ? AND b = ?`, `a = $1 AND b = $2`},
		{`x = ?1, y = ?1, z = ?2`, `x = $1, y = $1, z = $2`},
		// a bare ? after ?3 is ?4, as in SQLite
		{`x = ?3 AND y = ?`, `x = $3 AND y = $4`},
		{`x = ?2, y = ?, z = ?1`, `x = $2, y = $3, z = $1`},
		{`s = '?' AND t = ? -- what?` + "\n" + `AND u = ?`, `s = '?' AND t = $1 -- what?` + "\n" + `AND u = $2`},
		{`"odd?name" = ?`, `"odd?name" = $1`},
		{`s = 'it''s ?' AND t = ?`, `s = 'it''s ?' AND t = $1`},
		{`a = ? -- trailing comment ?`, `a = $1 -- trailing comment ?`},
	} {
		if got := rebind(tc.in); got != tc.want {
			t.Errorf("rebind(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
		if got := sqlFor(tc.in); got != tc.want {
			t.Errorf("sqlFor(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}
