// Command nanobanana is a self-hosted, multi-user image generation service for Google's
// Nano Banana Pro model run through Replicate. This file only parses the command line and
// wires the parts together; every behaviour lives in the packages.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"nanobanana/config"
	"nanobanana/db"
	"nanobanana/db/postgres"
	"nanobanana/db/sqlite"
	"nanobanana/internal/logfile"
)

// Set at build time: -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = "unknown"
)

const usage = `nanobanana: a self-hosted image generation service for Nano Banana Pro (via Replicate)

Usage:
  nanobanana [serve] [flags]        run the server (the default command)
  nanobanana migrate [flags]        apply database migrations and exit
                                    (--from-sqlite FILE: copy a SQLite database into PostgreSQL)
  nanobanana config check [flags]   load, validate and print the settings (secrets redacted)
  nanobanana start [flags]          run the server in the background unless it runs already
                                    (safe from cron every minute; no root or systemd needed)
  nanobanana stop [flags]           stop the server that start started
  nanobanana status [flags]         say whether it runs (exit status 0) or not (3)
  nanobanana service ACTION [flags] install|uninstall|start|stop|restart|status the systemd service
  nanobanana user ACTION [flags]    create|list|set-password|disable|enable accounts;
                                    limits NAME [--day-usd 2 ...], usage [NAME]: spending
  nanobanana backup --to FILE       write a consistent copy of the database while it runs
  nanobanana version                print the version

Run "nanobanana COMMAND -h" for a command's flags.
`

// exitCode maps an error to the process exit status: 2 for usage mistakes.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: tests call it.
func run(args []string, stdout, stderr io.Writer) int {
	err := dispatch(args, stdout, stderr)
	var ue usageError
	var code exitStatus
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &code):
		return int(code)
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "nanobanana:", ue.msg)
		fmt.Fprint(stderr, "\n"+usage)
		return 2
	default:
		fmt.Fprintln(stderr, "nanobanana:", err)
		return 1
	}
}

func dispatch(args []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && (len(args[0]) == 0 || args[0][0] != '-') {
		cmd, args = args[0], args[1:]
	} else if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		fmt.Fprint(stdout, usage)
		return nil
	}
	switch cmd {
	case "serve":
		return cmdServe(args, stderr)
	case "migrate":
		return cmdMigrate(args, stdout, stderr)
	case "config":
		if len(args) == 0 || args[0] != "check" {
			return usageError{"config: the only subcommand is \"check\""}
		}
		return cmdConfigCheck(args[1:], stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "nanobanana %s (commit %s)\n", version, commit)
		return nil
	case "start":
		return cmdStart(args, stdout, stderr)
	case "stop":
		return cmdStop(args, stdout, stderr)
	case "status":
		return cmdStatus(args, stdout, stderr)
	case "service":
		return cmdService(args, stdout, stderr)
	case "user":
		return cmdUser(args, stdout, stderr)
	case "backup":
		return cmdBackup(args, stdout, stderr)
	case "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		return usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
}

// commonFlags are the settings flags every command that loads the config takes.
func commonFlags(fs *flag.FlagSet, f *config.Flags) {
	fs.StringVar(&f.EnvFile, "env-file", "", "read settings from this .env file (default ./.env when present)")
	fs.StringVar(&f.DataDir, "data-dir", "", "data directory (DATA_DIR; default ./data)")
}

// parse parses a command's flags; a bad flag is a usage error (exit 2).
func parse(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{fs.Name() + ": " + err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	return nil
}

func cmdServe(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var f config.Flags
	commonFlags(fs, &f)
	fs.StringVar(&f.ListenAddr, "listen", "", "address to listen on: host:port or unix:/path (LISTEN_ADDR; default 127.0.0.1:8000)")
	fs.BoolVar(&f.Demo, "demo", false, "demo mode: run against a built-in fake Replicate (no token needed, images are synthetic)")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	cfg, err := config.Load(f)
	if err != nil {
		return err
	}
	started, err := takeStarted(cfg.PIDFile)
	if err != nil {
		return err
	}
	defer started.exit()
	var logOut io.Writer = stderr
	if cfg.LogFile != "" || started != nil {
		lf, err := logfile.Open(logPath(cfg), logfile.Options{MaxBytes: cfg.LogMaxBytes, Keep: cfg.LogMaxFiles, OnOpen: started.redirect})
		if err != nil {
			return err
		}
		defer lf.Close()
		logOut = lf
	}
	log := newLogger(logOut, cfg.LogLevel, cfg.LogFormat)
	applyMemoryLimit(cfg, log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app, err := NewApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer app.Close()
	ln, err := Listen(app.Config.ListenAddr)
	if err != nil {
		return err
	}
	app.Ready = started.serving
	return app.Run(ctx, ln)
}

func cmdMigrate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	var f config.Flags
	commonFlags(fs, &f)
	var from string
	fs.StringVar(&from, "from-sqlite", "", "copy this SQLite database (stopped) into the configured, empty PostgreSQL one")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	cfg, err := config.Load(f)
	if err != nil {
		return err
	}
	if from != "" && cfg.Database != "postgres" {
		return usageError{"migrate --from-sqlite copies into PostgreSQL: set POSTGRES_HOST (and the other POSTGRES_* settings) or DATABASE=postgres"}
	}
	d, err := openDB(context.Background(), cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	fmt.Fprintf(stdout, "database %s is up to date\n", d.Describe())
	if from != "" {
		return copyFromSQLite(d.(*postgres.DB), from, stdout)
	}
	return nil
}

// copyFromSQLite moves a SQLite deployment's data into the PostgreSQL database d.
func copyFromSQLite(d *postgres.DB, path string, stdout io.Writer) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("--from-sqlite %s: %w", path, err)
	}
	// A serve still running on the file would go on changing it after the copy.
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	ctx := context.Background()
	src, err := sqlite.Open(ctx, path, db.Options{})
	if err != nil {
		return err
	}
	defer src.Close()
	counts, err := d.CopyFrom(ctx, sqliteTables{src})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "copied from %s: %d users, %d sessions, %d generations, %d uploads, %d jobs, %d events\n",
		path, counts["users"], counts["refresh_tokens"], counts["generations"], counts["uploads"], counts["jobs"], counts["events"])
	fmt.Fprintln(stdout, "images stay where they are: keep STORAGE and DATA_DIR (or the MinIO bucket) as they were; SECRET_KEY must stay the same for sealed API keys and sessions")
	return nil
}

func cmdConfigCheck(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("config check", flag.ContinueOnError)
	var f config.Flags
	commonFlags(fs, &f)
	fs.StringVar(&f.ListenAddr, "listen", "", "address to listen on")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	cfg, err := config.Load(f)
	if err != nil {
		return err
	}
	if err := cfg.Print(stdout); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "# configuration is valid")
	return nil
}

// sqliteTables is a SQLite database as the source of postgres.DB.CopyFrom.
type sqliteTables struct{ d *sqlite.DB }

func (s sqliteTables) ReadTable(ctx context.Context, table string) (postgres.TableRows, error) {
	r, err := s.d.ReadTable(ctx, table)
	if err != nil {
		return nil, err
	}
	return r, nil
}
