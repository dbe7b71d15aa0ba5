package db

import (
	"context"
	"math"
	"time"
)

// Limits bound what a user may spend per UTC calendar day and month, in US dollars and
// in images. A nil field is no limit. The JSON form is the settings key default_limits'
// and the limits routes'.
type Limits struct {
	DayUSD      *float64 `json:"day_usd"`
	MonthUSD    *float64 `json:"month_usd"`
	DayImages   *int     `json:"day_images"`
	MonthImages *int     `json:"month_images"`
}

// Empty reports whether no field is set.
func (l Limits) Empty() bool {
	return l.DayUSD == nil && l.MonthUSD == nil && l.DayImages == nil && l.MonthImages == nil
}

// Who pays a generation's prediction.
const (
	PaidShared = "shared" // the install's REPLICATE_API_TOKEN
	PaidOwn    = "own"    // the user's own Replicate key
)

// Micros converts US dollars to millionths of a dollar, the books' unit (integers, so
// sums are exact).
func Micros(usd float64) int64 { return int64(math.Round(usd * 1e6)) }

// USD converts millionths of a dollar back to dollars.
func USD(micros int64) float64 { return float64(micros) / 1e6 }

// Budget is what the server tells CreateGeneration (and RetryGeneration) about the
// money of a new generation: its price, who pays, and the limits that apply. A nil
// Budget books nothing (tools and tests that do not care).
type Budget struct {
	PaidBy   string  // PaidShared or PaidOwn
	PriceUSD float64 // one image's price at its resolution
	// Limits bound the user's spending through the shared token (the admin's override,
	// else the install's default_limits); ignored when PaidBy is PaidOwn.
	Limits Limits
	// Self bounds everything the user spends, whoever pays (set by the user).
	Self Limits
	// SharedMonthCapUSD bounds what the shared token spends a month for all users
	// together (nil: no cap); ignored when PaidBy is PaidOwn.
	SharedMonthCapUSD *float64
}

// SpendingLimit is the cause of a CodeSpendingLimit refusal: which limit, and when the
// period it counts ends (the next UTC midnight, or the first of the next month).
type SpendingLimit struct {
	Which  string // day_usd, month_usd, day_images, month_images or shared_month_usd
	Self   bool   // a limit the user set for themselves
	Resets time.Time
}

func (e *SpendingLimit) Error() string { return "spending limit " + e.Which + " reached" }

// Spent is what a user has reserved or booked in the current UTC day and month.
type Spent struct {
	DayMicros, MonthMicros             int64 // all payers
	DayImages, MonthImages             int
	SharedDayMicros, SharedMonthMicros int64 // through the shared token
	SharedDayImages, SharedMonthImages int
	// InstallSharedMonthMicros is what the shared token has spent this month for all
	// users together.
	InstallSharedMonthMicros int64
}

// UserLimits are a user's own limit settings: the admin's Override of the install's
// defaults (nil: the defaults apply) and the limits the user set for themselves.
type UserLimits struct {
	Override *Limits
	Self     Limits
}

// UsageRow is one user's spending on one UTC day through one payer.
type UsageRow struct {
	Day      time.Time // midnight UTC
	UserID   int64
	Username string
	PaidBy   string
	Micros   int64
	Images   int
}

// Day is the UTC calendar day of t, as the books count it (days since 1970-01-01).
func Day(t time.Time) int64 {
	return t.UTC().Truncate(24*time.Hour).Unix() / 86400
}

// MonthDays is the first and last Day of t's UTC calendar month.
func MonthDays(t time.Time) (first, last int64) {
	t = t.UTC()
	start := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	return Day(start), Day(start.AddDate(0, 1, 0)) - 1
}

// DayStart is the midnight UTC that begins day d.
func DayStart(d int64) time.Time { return time.Unix(d*86400, 0).UTC() }

// NextDay and NextMonth are when t's UTC day and month end.
func NextDay(t time.Time) time.Time { return DayStart(Day(t) + 1) }
func NextMonth(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC)
}

// Spending is the books: what users reserved and spent, and their limits.
type Spending interface {
	// SpentNow returns what the user has reserved or booked in now's UTC day and month.
	SpentNow(ctx context.Context, userID int64, now time.Time) (Spent, error)
	// UserLimits returns the user's limit settings.
	UserLimits(ctx context.Context, userID int64) (UserLimits, error)
	// SetLimitOverride sets the admin's override of the defaults for the user (nil: the
	// defaults apply again).
	SetLimitOverride(ctx context.Context, userID int64, l *Limits) error
	// SetSelfLimits sets the limits the user chose for themselves.
	SetSelfLimits(ctx context.Context, userID int64, l Limits) error
	// Usage returns the books per UTC day, user and payer, for days from..to
	// (inclusive, Day numbers), of one user or of all (userID 0), by day then user.
	Usage(ctx context.Context, from, to int64, userID int64) ([]UsageRow, error)
	// Unbook takes back the booking of the job's current prediction, which ended
	// aborted (never started: Replicate does not charge it); it is a reservation
	// again, for the job's next prediction.
	Unbook(ctx context.Context, jobID int64, owner string) error
}
