package db

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
