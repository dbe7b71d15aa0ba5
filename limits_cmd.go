package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"nanobanana/db"
	"nanobanana/server"
)

// The money verbs of `nanobanana user`: a user's spending limits and usage, for a host
// with no browser (the Admin page and /api/v1/admin/limits do the same).
//
//	nanobanana user limits NAME                          show the limits and what is left
//	nanobanana user limits NAME --day-usd 2 --month-images 100   override the defaults
//	nanobanana user limits NAME --day-usd none           no such limit for this user
//	nanobanana user limits NAME --defaults               the install's defaults again
//	nanobanana user usage [--from DATE] [--to DATE] [NAME]   images and money per day
func cmdUserMoney(action string, args []string, stdout, stderr io.Writer) error {
	// The account may come first, as a word: user limits alice --day-usd 2.
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("user "+action, flag.ContinueOnError)
	fs.StringVar(&name, "username", name, "the account's username or email")
	var dayUSD, monthUSD, dayImages, monthImages, from, to string
	var defaults bool
	if action == "limits" {
		fs.StringVar(&dayUSD, "day-usd", "", `US dollars a UTC day on the shared token ("none": no limit)`)
		fs.StringVar(&monthUSD, "month-usd", "", `US dollars a UTC month ("none": no limit)`)
		fs.StringVar(&dayImages, "day-images", "", `images a UTC day ("none": no limit)`)
		fs.StringVar(&monthImages, "month-images", "", `images a UTC month ("none": no limit)`)
		fs.BoolVar(&defaults, "defaults", false, "drop this user's override: the install's default limits apply")
	} else {
		fs.StringVar(&from, "from", "", "first day, YYYY-MM-DD (default: the first of this month, UTC)")
		fs.StringVar(&to, "to", "", "last day, YYYY-MM-DD (default: today, UTC)")
	}
	cfg, d, err := loadForAdmin(fs, args, stderr)
	if err != nil {
		return err
	}
	defer d.Close()
	ctx := context.Background()
	var u *db.User
	if name != "" {
		if u, err = d.UserByLogin(ctx, name); err != nil {
			return fmt.Errorf("user %q: %w", name, err)
		}
	}
	if action == "usage" {
		return printUsage(ctx, d, u, from, to, stdout)
	}
	if u == nil {
		return usageError{"user limits: name the account: nanobanana user limits NAME [--day-usd 2 ...]"}
	}
	eff, err := server.LoadSettings(ctx, d, cfg)
	if err != nil {
		return err
	}
	ul, err := d.UserLimits(ctx, u.ID)
	if err != nil {
		return err
	}
	changed := dayUSD != "" || monthUSD != "" || dayImages != "" || monthImages != ""
	switch {
	case defaults && changed:
		return usageError{"user limits: --defaults drops the override; give no limits with it"}
	case defaults:
		if err := d.SetLimitOverride(ctx, u.ID, nil); err != nil {
			return err
		}
		ul.Override = nil
		fmt.Fprintf(stdout, "%s: the install's default limits apply\n", u.Username)
	case changed:
		l := eff.DefaultLimits
		if ul.Override != nil {
			l = *ul.Override
		}
		for _, f := range []struct {
			name, v string
			dst     **float64
		}{{"--day-usd", dayUSD, &l.DayUSD}, {"--month-usd", monthUSD, &l.MonthUSD}} {
			if err := setUSD(f.name, f.v, f.dst); err != nil {
				return err
			}
		}
		for _, f := range []struct {
			name, v string
			dst     **int
		}{{"--day-images", dayImages, &l.DayImages}, {"--month-images", monthImages, &l.MonthImages}} {
			if err := setCount(f.name, f.v, f.dst); err != nil {
				return err
			}
		}
		if err := d.SetLimitOverride(ctx, u.ID, &l); err != nil {
			return err
		}
		ul.Override = &l
		fmt.Fprintf(stdout, "%s: limits set\n", u.Username)
	}
	effective, source := eff.DefaultLimits, "the install's defaults"
	if ul.Override != nil {
		effective, source = *ul.Override, "set for this user"
	}
	spent, err := d.SpentNow(ctx, u.ID, time.Now())
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "LIMIT (%s)\tSHARED TOKEN\tSELF-SET\tSPENT ON SHARED\tSPENT IN ALL\n", source)
	fmt.Fprintf(tw, "day_usd\t%s\t%s\t%s\t%s\n", showUSD(effective.DayUSD), showUSD(ul.Self.DayUSD), money(spent.SharedDayMicros), money(spent.DayMicros))
	fmt.Fprintf(tw, "month_usd\t%s\t%s\t%s\t%s\n", showUSD(effective.MonthUSD), showUSD(ul.Self.MonthUSD), money(spent.SharedMonthMicros), money(spent.MonthMicros))
	fmt.Fprintf(tw, "day_images\t%s\t%s\t%d\t%d\n", showCount(effective.DayImages), showCount(ul.Self.DayImages), spent.SharedDayImages, spent.DayImages)
	fmt.Fprintf(tw, "month_images\t%s\t%s\t%d\t%d\n", showCount(effective.MonthImages), showCount(ul.Self.MonthImages), spent.SharedMonthImages, spent.MonthImages)
	return tw.Flush()
}

// printUsage prints the books per day and user (one user's when u is set).
func printUsage(ctx context.Context, d db.Store, u *db.User, from, to string, stdout io.Writer) error {
	now := time.Now()
	first, last := db.MonthDays(now)
	last = db.Day(now)
	for _, f := range []struct {
		v   string
		dst *int64
	}{{from, &first}, {to, &last}} {
		if f.v == "" {
			continue
		}
		t, err := time.Parse("2006-01-02", f.v)
		if err != nil {
			return usageError{fmt.Sprintf("user usage: %q is not a date such as 2026-01-31", f.v)}
		}
		*f.dst = db.Day(t)
	}
	var id int64
	if u != nil {
		id = u.ID
	}
	rows, err := d.Usage(ctx, first, last, id)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DATE\tUSER\tPAID BY\tUSD\tIMAGES")
	var micros int64
	var images int
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", r.Day.Format("2006-01-02"), r.Username, r.PaidBy, money(r.Micros), r.Images)
		micros += r.Micros
		images += r.Images
	}
	fmt.Fprintf(tw, "total\t\t\t%s\t%d\n", money(micros), images)
	return tw.Flush()
}

func setUSD(name, v string, dst **float64) error {
	switch v {
	case "":
		return nil
	case "none":
		*dst = nil
		return nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 1e9 {
		return usageError{fmt.Sprintf("user limits: %s %q: want an amount in US dollars such as 2.50, or none", name, v)}
	}
	*dst = &f
	return nil
}

func setCount(name, v string, dst **int) error {
	switch v {
	case "":
		return nil
	case "none":
		*dst = nil
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 1e9 {
		return usageError{fmt.Sprintf("user limits: %s %q: want a whole number of images, or none", name, v)}
	}
	*dst = &n
	return nil
}

func showUSD(v *float64) string {
	if v == nil {
		return "none"
	}
	return "$" + strconv.FormatFloat(*v, 'f', 2, 64)
}

func showCount(v *int) string {
	if v == nil {
		return "none"
	}
	return strconv.Itoa(*v)
}

func money(micros int64) string { return "$" + strconv.FormatFloat(db.USD(micros), 'f', 2, 64) }
