// Command fakereplicate runs the fake Replicate API on a loopback address
// for tests in other processes. Its first stdout line is the API base URL;
// knobs can change later through POST /_fake/config.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"nanobanana/replicate/replicatetest"
)

func main() {
	var (
		o       replicatetest.Options
		reject  string
		credit  string
		verbose bool
	)
	flag.StringVar(&o.Addr, "addr", "127.0.0.1:0", "loopback host:port to listen on")
	flag.StringVar(&o.Model, "model", replicatetest.DefaultModel, "model served (owner/name)")
	flag.StringVar(&o.WebhookSecret, "webhook-secret", "", "whsec_<base64> secret (default random)")
	flag.Uint64Var(&o.Seed, "seed", 1, "seed for random faults")
	flag.DurationVar(&o.QueueTime, "queue-time", 0, "time in starting (default 50ms; negative: none)")
	flag.DurationVar(&o.RunTime, "run-time", 0, "time in processing (default 200ms; negative: none)")
	flag.DurationVar(&o.SlowRunTime, "slow-run-time", 0, "run time of [[slow]] prompts (default 5s)")
	flag.DurationVar(&o.RetentionPeriod, "retention", 0, "output retention after completion (default 1h)")
	flag.DurationVar(&o.Latency, "latency", 0, "latency added to every API call")
	flag.IntVar(&o.PageSize, "page-size", 0, "GET /predictions page size (default 100)")
	flag.Float64Var(&o.SafetyRate, "safety-rate", 0, "fraction of predictions failing with E005")
	flag.Float64Var(&o.TransientRate, "transient-rate", 0, "fraction of predictions failing with E6716")
	flag.Float64Var(&o.FailRate, "fail-rate", 0, "fraction of predictions failing generically")
	flag.Float64Var(&o.Rate429, "rate-429", 0, "fraction of API calls answered 429")
	flag.Float64Var(&o.Rate5xx, "rate-5xx", 0, "fraction of API calls answered 5xx")
	flag.IntVar(&o.RetryAfterSeconds, "retry-after", 0, "seconds named by a 429 (default 1)")
	flag.BoolVar(&o.OutputEarly, "output-early", false, "set output half-way through processing")
	flag.StringVar(&o.JPEGExtension, "jpeg-ext", "", `extension of jpg outputs: "jpeg" (default) or "jpg"`)
	flag.StringVar(&reject, "reject-tokens", "", "comma-separated tokens answered 401")
	flag.StringVar(&credit, "no-credit-tokens", "", "comma-separated tokens answered 402 on create")
	flag.BoolVar(&verbose, "v", false, "log events to stderr")
	flag.Parse()

	o.RejectedTokens = splitList(reject)
	o.NoCreditTokens = splitList(credit)
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelInfo
	}
	o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	s, err := replicatetest.Start(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakereplicate:", err)
		os.Exit(1)
	}
	fmt.Println(s.URL())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	s.Close()
}

func splitList(s string) []string {
	var out []string
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
