package config

import (
	"strconv"
	"strings"
	"time"
)

// parser reads typed values from the variable map and keeps the first error.
type parser struct {
	m   map[string]string
	err error
}

func (p *parser) fail(name, v, want string) {
	if p.err == nil {
		p.err = &Error{Var: name, Value: v, Want: want}
	}
}

func (p *parser) lookup(name string) (string, bool) {
	v, ok := p.m[name]
	if !ok {
		return "", false
	}
	v = strings.TrimSpace(v)
	return v, v != ""
}

func (p *parser) str(name string, dst *string) {
	if v, ok := p.lookup(name); ok {
		*dst = v
	}
}

func (p *parser) intRange(name string, dst *int, lo, hi int) bool {
	v, ok := p.lookup(name)
	if !ok {
		return false
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		p.fail(name, v, "want a whole number from "+strconv.Itoa(lo)+" to "+strconv.Itoa(hi))
		return false
	}
	*dst = n
	return true
}

// seconds reads a whole number of seconds from lo to hi into a duration.
func (p *parser) seconds(name string, dst *time.Duration, lo, hi int) {
	var n int
	if p.intRange(name, &n, lo, hi) {
		*dst = time.Duration(n) * time.Second
	}
}

func (p *parser) bytes(name string, dst *int64, lo, hi int64) {
	v, ok := p.lookup(name)
	if !ok {
		return
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		p.fail(name, v, "want a whole number from "+strconv.FormatInt(lo, 10)+" to "+strconv.FormatInt(hi, 10))
		return
	}
	*dst = n
}

// memory reads a size in GOMEMLIMIT's form: a whole number of bytes, or one followed by
// B, KiB, MiB, GiB or TiB (400MiB). It must be at least lo.
func (p *parser) memory(name string, dst *int64, lo int64) {
	v, ok := p.lookup(name)
	if !ok {
		return
	}
	want := "want a size such as 400MiB or 1GiB (a whole number of bytes, or one followed by B, KiB, MiB, GiB or TiB, as GOMEMLIMIT takes), at least " + strconv.FormatInt(lo>>20, 10) + "MiB"
	num, unit := v, int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"B", 1}} {
		if n, ok := strings.CutSuffix(v, u.suffix); ok {
			num, unit = n, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n < 0 || n > (1<<62)/unit || n*unit < lo {
		p.fail(name, v, want)
		return
	}
	*dst = n * unit
}

func (p *parser) boolean(name string, dst *bool) {
	v, ok := p.lookup(name)
	if !ok {
		return
	}
	switch strings.ToLower(v) {
	case "1", "true", "yes", "on":
		*dst = true
	case "0", "false", "no", "off":
		*dst = false
	default:
		p.fail(name, v, "want true or false")
	}
}

func (p *parser) oneOf(name string, dst *string, allowed ...string) {
	v, ok := p.lookup(name)
	if !ok {
		return
	}
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			*dst = a
			return
		}
	}
	p.fail(name, v, "want one of "+strings.Join(allowed, ", "))
}

func (p *parser) price(name string, dst *float64) {
	v, ok := p.lookup(name)
	if !ok {
		return
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 100 {
		p.fail(name, v, "want a price in US dollars per image, such as 0.15")
		return
	}
	*dst = f
}

// optUSD reads an optional amount of US dollars (unset or empty: nil, no limit).
func (p *parser) optUSD(name string, dst **float64) {
	v, ok := p.lookup(name)
	if !ok {
		return
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 1e9 {
		p.fail(name, v, "want an amount in US dollars, such as 5 or 2.50, or nothing for no limit")
		return
	}
	*dst = &f
}

// optCount reads an optional count of images (unset or empty: nil, no limit).
func (p *parser) optCount(name string, dst **int) {
	v, ok := p.lookup(name)
	if !ok {
		return
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 1e9 {
		p.fail(name, v, "want a whole number of images, such as 20, or nothing for no limit")
		return
	}
	*dst = &n
}
