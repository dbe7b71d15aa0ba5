package server

import (
	"context"
	"encoding/csv"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/julienschmidt/httprouter"

	"nanobanana/db"
)

// Spending as users and admins see it: what is left before the next generation, the
// limits, and the books per day (the data of db/sqlstore/spending.go).

// amounts is spending or what is left of it, in US dollars and images; null is no limit
// (in left).
type amounts struct {
	DayUSD      *float64 `json:"day_usd"`
	MonthUSD    *float64 `json:"month_usd"`
	DayImages   *int     `json:"day_images"`
	MonthImages *int     `json:"month_images"`
}

// usageJSON is GET /users/usage: what the user's next generations may spend.
type usageJSON struct {
	// PaidBy is who pays the user's next generation: "own" with their own key set.
	PaidBy    string             `json:"paid_by" enum:"shared,own"`
	PricesUSD map[string]float64 `json:"prices_usd"`
	// Limits are those applying to the shared token's use (the admin's override, else
	// the install's defaults), LimitsSource which of the two.
	Limits       db.Limits `json:"limits"`
	LimitsSource string    `json:"limits_source" enum:"default,override"`
	// SelfLimits are the user's own, applying whoever pays.
	SelfLimits db.Limits `json:"self_limits"`
	// Spent is what the user reserved or booked in the current UTC day and month (all
	// payers); SpentShared the part through the shared token.
	Spent       amounts `json:"spent"`
	SpentShared amounts `json:"spent_shared"`
	// Left is what may still be spent by the next generations, the smallest of every
	// limit that applies (null: none applies).
	Left amounts `json:"left"`
	// SharedCapReached: the shared token's monthly cap for everyone is spent.
	SharedCapReached bool      `json:"shared_cap_reached"`
	DayResetsAt      time.Time `json:"day_resets_at"`
	MonthResetsAt    time.Time `json:"month_resets_at"`
}

// usage computes u's usageJSON at now.
func (s *Server) usage(ctx context.Context, u *db.User, now time.Time) (*usageJSON, error) {
	e, err := s.settings(ctx)
	if err != nil {
		return nil, err
	}
	ul, err := s.db.UserLimits(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	spent, err := s.db.SpentNow(ctx, u.ID, now)
	if err != nil {
		return nil, err
	}
	out := &usageJSON{PaidBy: db.PaidShared, Limits: e.DefaultLimits, LimitsSource: "default", SelfLimits: ul.Self,
		PricesUSD:   map[string]float64{"1K": e.Prices.P1K, "2K": e.Prices.P2K, "4K": e.Prices.P4K},
		DayResetsAt: db.NextDay(now), MonthResetsAt: db.NextMonth(now)}
	if ul.Override != nil {
		out.Limits, out.LimitsSource = *ul.Override, "override"
	}
	if u.HasAPIKey {
		out.PaidBy = db.PaidOwn
	}
	out.Spent = amounts{usdp(spent.DayMicros), usdp(spent.MonthMicros), &spent.DayImages, &spent.MonthImages}
	out.SpentShared = amounts{usdp(spent.SharedDayMicros), usdp(spent.SharedMonthMicros), &spent.SharedDayImages, &spent.SharedMonthImages}
	if c := e.SharedMonthCapUSD; c != nil && spent.InstallSharedMonthMicros >= db.Micros(*c) {
		out.SharedCapReached = true
	}
	left := &out.Left
	self := ul.Self
	leftUSD(&left.DayUSD, self.DayUSD, spent.DayMicros)
	leftUSD(&left.MonthUSD, self.MonthUSD, spent.MonthMicros)
	leftN(&left.DayImages, self.DayImages, spent.DayImages)
	leftN(&left.MonthImages, self.MonthImages, spent.MonthImages)
	if out.PaidBy == db.PaidShared {
		l := out.Limits
		leftUSD(&left.DayUSD, l.DayUSD, spent.SharedDayMicros)
		leftUSD(&left.MonthUSD, l.MonthUSD, spent.SharedMonthMicros)
		leftN(&left.DayImages, l.DayImages, spent.SharedDayImages)
		leftN(&left.MonthImages, l.MonthImages, spent.SharedMonthImages)
		leftUSD(&left.MonthUSD, e.SharedMonthCapUSD, spent.InstallSharedMonthMicros)
		if left.MonthUSD != nil && (left.DayUSD == nil || *left.MonthUSD < *left.DayUSD) {
			v := *left.MonthUSD
			left.DayUSD = &v // a day cannot spend more than its month has left
		}
	}
	return out, nil
}

func usdp(micros int64) *float64 {
	v := db.USD(micros)
	return &v
}

// leftUSD lowers *dst to what limit leaves after have micros (nil limit: unchanged).
func leftUSD(dst **float64, limit *float64, have int64) {
	if limit == nil {
		return
	}
	v := max(db.USD(db.Micros(*limit)-have), 0)
	v = math.Round(v*1e6) / 1e6
	if *dst == nil || v < **dst {
		*dst = &v
	}
}

func leftN(dst **int, limit *int, have int) {
	if limit == nil {
		return
	}
	v := max(*limit-have, 0)
	if *dst == nil || v < **dst {
		*dst = &v
	}
}

func (s *Server) getUsage(w http.ResponseWriter, r *http.Request, p *principal, _ httprouter.Params) error {
	out, err := s.usage(r.Context(), p.User, s.now())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// putSelfLimits sets the limits the user chose for themselves; the answer is the usage.
func (s *Server) putSelfLimits(w http.ResponseWriter, r *http.Request, p *principal, _ httprouter.Params) error {
	l, err := decodeLimits(r)
	if err != nil {
		return err
	}
	if err := s.db.SetSelfLimits(r.Context(), p.ID, l); err != nil {
		return err
	}
	return s.getUsage(w, r, p, nil)
}

// decodeLimits reads a limits body: each field a number, or null (or missing) for none.
func decodeLimits(r *http.Request) (db.Limits, error) {
	var l db.Limits
	if err := decodeJSON(r, &l); err != nil {
		return l, err
	}
	if err := checkLimits(l); err != nil {
		return l, invalid("limits", "Limits must be amounts in US dollars and whole numbers of images from 0 up, or null for no limit.")
	}
	return l, nil
}

// adminLimitsJSON is an account's limits as an admin sees them.
type adminLimitsJSON struct {
	UserID int64 `json:"user_id"`
	// Override replaces the install's defaults for this user (null: the defaults apply).
	Override  *db.Limits `json:"override"`
	Defaults  db.Limits  `json:"defaults"`
	Effective db.Limits  `json:"effective"`
	Self      db.Limits  `json:"self"`
	Usage     usageJSON  `json:"usage"`
}

func (s *Server) adminLimits(ctx context.Context, ps httprouter.Params) (*adminLimitsJSON, error) {
	u, err := s.pathUser(ctx, ps)
	if err != nil {
		return nil, err
	}
	e, err := s.settings(ctx)
	if err != nil {
		return nil, err
	}
	use, err := s.usage(ctx, u, s.now())
	if err != nil {
		return nil, err
	}
	ul, err := s.db.UserLimits(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	return &adminLimitsJSON{UserID: u.ID, Override: ul.Override, Defaults: e.DefaultLimits,
		Effective: use.Limits, Self: ul.Self, Usage: *use}, nil
}

// pathUser is the account named by the route's :id.
func (s *Server) pathUser(ctx context.Context, ps httprouter.Params) (*db.User, error) {
	id, err := strconv.ParseInt(ps.ByName("id"), 10, 64)
	if err != nil || id <= 0 {
		return nil, notFound("No such user.")
	}
	u, err := s.db.UserByID(ctx, id)
	if errors.Is(err, db.ErrNotFound) {
		return nil, notFound("No such user.")
	}
	return u, err
}

func (s *Server) getAdminLimits(w http.ResponseWriter, r *http.Request, _ *principal, ps httprouter.Params) error {
	out, err := s.adminLimits(r.Context(), ps)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// putAdminLimits sets the user's override of the install's default limits.
func (s *Server) putAdminLimits(w http.ResponseWriter, r *http.Request, p *principal, ps httprouter.Params) error {
	u, err := s.pathUser(r.Context(), ps)
	if err != nil {
		return err
	}
	l, err := decodeLimits(r)
	if err != nil {
		return err
	}
	if err := s.db.SetLimitOverride(r.Context(), u.ID, &l); err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "limits set", "admin_id", p.ID, "user_id", u.ID)
	return s.getAdminLimits(w, r, p, ps)
}

// deleteAdminLimits clears the override: the install's defaults apply again.
func (s *Server) deleteAdminLimits(w http.ResponseWriter, r *http.Request, p *principal, ps httprouter.Params) error {
	u, err := s.pathUser(r.Context(), ps)
	if err != nil {
		return err
	}
	if err := s.db.SetLimitOverride(r.Context(), u.ID, nil); err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "limits back to the defaults", "admin_id", p.ID, "user_id", u.ID)
	return s.getAdminLimits(w, r, p, ps)
}

// usageRowJSON is one user's spending on one UTC day through one payer.
type usageRowJSON struct {
	Date     string  `json:"date"`
	UserID   int64   `json:"user_id"`
	Username string  `json:"username"`
	PaidBy   string  `json:"paid_by" enum:"shared,own"`
	USD      float64 `json:"usd"`
	Images   int     `json:"images"`
}

type usageDayJSON struct {
	Date   string  `json:"date"`
	USD    float64 `json:"usd"`
	Images int     `json:"images"`
}

// adminUsageJSON is GET /admin/usage: the books per day, by user and in total. Money
// is what was reserved or booked (released reservations are not counted).
type adminUsageJSON struct {
	From  string         `json:"from"`
	To    string         `json:"to"`
	Rows  []usageRowJSON `json:"rows"`
	Days  []usageDayJSON `json:"days"` // every day of the range, in order, 0 when none
	Total usageDayJSON   `json:"total"`
}

const dateLayout = "2006-01-02"

// usageRange reads ?from, ?to (YYYY-MM-DD, UTC; default the last 30 days) and ?user_id.
func (s *Server) usageRange(r *http.Request) (from, to int64, user int64, err error) {
	q := r.URL.Query()
	to = db.Day(s.now())
	from = to - 29
	for _, f := range []struct {
		name string
		dst  *int64
	}{{"from", &from}, {"to", &to}} {
		if v := q.Get(f.name); v != "" {
			t, perr := time.Parse(dateLayout, v)
			if perr != nil {
				return 0, 0, 0, invalid(f.name, f.name+" must be a date such as 2026-01-31.")
			}
			*f.dst = db.Day(t)
		}
	}
	if from > to {
		return 0, 0, 0, invalid("from", "from must not be after to.")
	}
	if to-from > 366 {
		return 0, 0, 0, invalid("from", "At most 367 days at once.")
	}
	if v := q.Get("user_id"); v != "" {
		user, err = strconv.ParseInt(v, 10, 64)
		if err != nil || user <= 0 {
			return 0, 0, 0, invalid("user_id", "user_id must be a user's id.")
		}
	}
	return from, to, user, nil
}

func (s *Server) adminUsageData(r *http.Request) (*adminUsageJSON, error) {
	from, to, user, err := s.usageRange(r)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Usage(r.Context(), from, to, user)
	if err != nil {
		return nil, err
	}
	out := &adminUsageJSON{From: db.DayStart(from).Format(dateLayout), To: db.DayStart(to).Format(dateLayout),
		Rows: make([]usageRowJSON, 0, len(rows))}
	byDay := map[string]*usageDayJSON{}
	for d := from; d <= to; d++ {
		out.Days = append(out.Days, usageDayJSON{Date: db.DayStart(d).Format(dateLayout)})
	}
	for i := range out.Days {
		byDay[out.Days[i].Date] = &out.Days[i]
	}
	var totalMicros int64
	dayMicros := map[string]int64{}
	for _, row := range rows {
		date := row.Day.Format(dateLayout)
		out.Rows = append(out.Rows, usageRowJSON{Date: date, UserID: row.UserID, Username: row.Username,
			PaidBy: row.PaidBy, USD: db.USD(row.Micros), Images: row.Images})
		dayMicros[date] += row.Micros
		totalMicros += row.Micros
		if d := byDay[date]; d != nil {
			d.Images += row.Images
		}
		out.Total.Images += row.Images
	}
	for date, m := range dayMicros {
		if d := byDay[date]; d != nil {
			d.USD = db.USD(m)
		}
	}
	out.Total.Date = out.To
	out.Total.USD = db.USD(totalMicros)
	return out, nil
}

func (s *Server) adminUsage(w http.ResponseWriter, r *http.Request, _ *principal, _ httprouter.Params) error {
	out, err := s.adminUsageData(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// adminUsageCSV is the same rows as CSV, for a spreadsheet.
func (s *Server) adminUsageCSV(w http.ResponseWriter, r *http.Request, _ *principal, _ httprouter.Params) error {
	out, err := s.adminUsageData(r)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="usage-`+out.From+`-`+out.To+`.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"date", "user_id", "username", "paid_by", "usd", "images"})
	for _, row := range out.Rows {
		_ = cw.Write([]string{row.Date, strconv.FormatInt(row.UserID, 10), csvSafe(row.Username), row.PaidBy,
			strconv.FormatFloat(row.USD, 'f', -1, 64), strconv.Itoa(row.Images)})
	}
	cw.Flush()
	return nil
}

// csvSafe keeps a spreadsheet from reading a cell as a formula.
func csvSafe(v string) string {
	if v != "" && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@') {
		return "'" + v
	}
	return v
}
