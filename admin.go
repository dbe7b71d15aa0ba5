package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"nanobanana/config"
	"nanobanana/db"
	"nanobanana/db/postgres"
	"nanobanana/db/sqlite"
	"nanobanana/deploy/systemd"
	"nanobanana/jobs"
	"nanobanana/replicate"
	"nanobanana/server"
)

// stdin is where commands read passwords from; tests replace it.
var stdin io.Reader = os.Stdin

// openDB opens the database the configuration names: SQLite (DATABASE_PATH) or
// PostgreSQL (POSTGRES_*).
func openDB(ctx context.Context, cfg config.Config) (db.Store, error) {
	if cfg.Database == "postgres" {
		d, err := postgres.Open(ctx, cfg.PostgresDSN(), db.Options{})
		if err != nil {
			return nil, err
		}
		return d, nil
	}
	d, err := sqlite.Open(ctx, cfg.DatabasePath, db.Options{})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// loadForAdmin parses the common flags plus extra ones and opens the database.
func loadForAdmin(fs *flag.FlagSet, args []string, stderr io.Writer) (config.Config, db.Store, error) {
	var f config.Flags
	commonFlags(fs, &f)
	if err := parse(fs, args, stderr); err != nil {
		return config.Config{}, nil, err
	}
	cfg, err := config.Load(f)
	if err != nil {
		return cfg, nil, err
	}
	d, err := openDB(context.Background(), cfg)
	return cfg, d, err
}

// readPassword reads one line from standard input, so passwords never appear in the
// process list or shell history.
func readPassword(stdout io.Writer) (string, error) {
	fmt.Fprintln(stdout, "password (read from standard input, one line):")
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", errors.New("no password on standard input: pipe it in, for example: echo 'secret-pass' | nanobanana user create ...")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func cmdUser(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"user: name an action: create, list, set-password, disable, enable, limits or usage"}
	}
	action, args := args[0], args[1:]
	if action == "limits" || action == "usage" {
		return cmdUserMoney(action, args, stdout, stderr) // limits_cmd.go
	}
	fs := flag.NewFlagSet("user "+action, flag.ContinueOnError)
	var username, email string
	var admin bool
	switch action {
	case "create":
		fs.StringVar(&username, "username", "", "the new account's username (3-32 of a-z A-Z 0-9 _ . -)")
		fs.StringVar(&email, "email", "", "the new account's email")
		fs.BoolVar(&admin, "admin", false, "make the account an administrator")
	case "set-password", "disable", "enable":
		fs.StringVar(&username, "username", "", "the account's username or email")
	case "list":
	default:
		return usageError{fmt.Sprintf("user: unknown action %q: want create, list, set-password, disable, enable, limits or usage", action)}
	}
	cfg, d, err := loadForAdmin(fs, args, stderr)
	if err != nil {
		return err
	}
	defer d.Close()
	ctx := context.Background()
	if action != "list" && username == "" {
		return usageError{"user " + action + ": --username is required"}
	}
	switch action {
	case "create":
		pw, err := readPassword(stdout)
		if err != nil {
			return err
		}
		u, err := server.CreateUser(ctx, d, cfg.BcryptCost, username, email, pw, admin)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created user %d %s (admin: %v)\n", u.ID, u.Username, u.IsAdmin)
	case "list":
		users, err := d.ListUsers(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tUSERNAME\tEMAIL\tADMIN\tDISABLED\tAPI KEY\tCREATED")
		for _, u := range users {
			key := "-"
			if u.HasAPIKey {
				key = "..." + u.APIKeyLast4
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%v\t%v\t%s\t%s\n", u.ID, u.Username, u.Email, u.IsAdmin, u.Disabled, key, u.CreatedAt.Format("2006-01-02 15:04"))
		}
		return tw.Flush()
	case "set-password":
		u, err := d.UserByLogin(ctx, username)
		if err != nil {
			return fmt.Errorf("user %q: %w", username, err)
		}
		pw, err := readPassword(stdout)
		if err != nil {
			return err
		}
		if err := server.SetPassword(ctx, d, cfg.BcryptCost, u.ID, pw); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "password of %s changed; all of its sessions were ended\n", u.Username)
	case "disable", "enable":
		u, err := d.UserByLogin(ctx, username)
		if err != nil {
			return fmt.Errorf("user %q: %w", username, err)
		}
		outs, err := d.SetDisabled(ctx, u.ID, action == "disable")
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "user %s %sd\n", u.Username, action)
		if action == "disable" {
			stopped := stopPredictions(ctx, cfg, d, u.ID, outs, stdout)
			fmt.Fprintf(stdout, "its sessions ended; %d waiting or running generations canceled, %d predictions stopped at Replicate\n", len(outs), stopped)
		}
	}
	return nil
}

func cmdBackup(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	var to string
	fs.StringVar(&to, "to", "", "file to write the database copy to (must not exist)")
	cfg, d, err := loadForAdmin(fs, args, stderr)
	if err != nil {
		return err
	}
	defer d.Close()
	if to == "" {
		return usageError{"backup: --to FILE is required"}
	}
	lite, ok := d.(*sqlite.DB)
	if !ok {
		return errors.New("backup copies the SQLite database; with PostgreSQL use its own tools (pg_dump)")
	}
	if err := lite.Backup(context.Background(), to); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "database copied to %s\nimages are files under %s/images (STORAGE=fs): copy them too, for example with rsync -a\n", to, cfg.DataDir)
	return nil
}

func cmdService(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"service: name an action: install, uninstall, start, stop, restart or status"}
	}
	action, args := args[0], args[1:]
	fs := flag.NewFlagSet("service "+action, flag.ContinueOnError)
	var o systemd.Options
	fs.StringVar(&o.DataDir, "data-dir", "", "data directory the service uses (default "+systemd.DefaultDataDir+")")
	fs.StringVar(&o.EnvFile, "env-file", "", "env file the service reads (default "+systemd.DefaultEnvFile+")")
	fs.StringVar(&o.User, "user", "", "system user the service runs as (default "+systemd.DefaultUser+")")
	fs.BoolVar(&o.UserService, "user-service", false, "install a per-user unit instead (no root needed)")
	fs.StringVar(&o.BinaryPath, "binary", "", "path of the binary the unit runs (default: this executable)")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if o.BinaryPath == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		o.BinaryPath = exe
	}
	err := systemd.Run(context.Background(), action, o, stdout)
	switch {
	case errors.Is(err, systemd.ErrUnknownAction):
		return usageError{err.Error()}
	case errors.Is(err, systemd.ErrNoSystemd), errors.Is(err, systemd.ErrNotRoot):
		return fmt.Errorf("%w\n%s", err, cronHint(o))
	}
	return err
}

// cronHint is what a host without systemd, or without root (a shared host), does
// instead of a service: `nanobanana start` from cron, with this binary and the settings
// the service command was given.
func cronHint(o systemd.Options) string {
	flags := ""
	for _, f := range []struct{ name, value string }{{"--env-file", o.EnvFile}, {"--data-dir", o.DataDir}} {
		if f.value == "" {
			continue
		}
		if abs, err := filepath.Abs(f.value); err == nil {
			f.value = abs
		}
		flags += " " + f.name + " " + f.value
	}
	return "Without systemd or root (a shared host), keep nanobanana running with cron instead:\n" +
		"  " + o.BinaryPath + " start" + flags + "      starts it in the background (stop and status likewise)\n" +
		"  crontab -e, then add this line, which starts it again within a minute whenever it is not running:\n" +
		"  * * * * * " + o.BinaryPath + " start --quiet" + flags + "\n" +
		"See docs/DEPLOY.md, \"Shared hosting\"."
}

// stopPredictions cancels at Replicate the predictions of the generations a disable
// stopped, as the server's workers would: the server may be running (it lets go of a
// canceled job by itself) or not. It returns how many it stopped.
func stopPredictions(ctx context.Context, cfg config.Config, d db.Store, userID int64, outs []db.CancelOutcome, stdout io.Writer) int {
	var preds []string
	for _, o := range outs {
		if o.PredictionID != "" {
			preds = append(preds, o.PredictionID)
		}
	}
	if len(preds) == 0 {
		return 0
	}
	if err := cfg.ResolveSecret(); err != nil {
		fmt.Fprintf(stdout, "warning: cannot stop %d predictions at Replicate (%v); they end by themselves within the create's time limit\n", len(preds), err)
		return 0
	}
	sealer, err := db.NewSealer(cfg.SecretKey)
	if err != nil {
		fmt.Fprintf(stdout, "warning: cannot stop %d predictions at Replicate (%v)\n", len(preds), err)
		return 0
	}
	rc := replicate.New(replicate.Options{BaseURL: cfg.ReplicateAPIBase, Model: cfg.ReplicateModel, UserAgent: "nanobanana/" + version})
	token := userToken(d, sealer, cfg.ReplicateAPIToken)
	n := 0
	for _, p := range preds {
		if err := jobs.CancelPrediction(ctx, rc, token, userID, p); err != nil {
			fmt.Fprintf(stdout, "warning: prediction %s not stopped at Replicate: %v\n", p, err)
			continue
		}
		n++
	}
	return n
}
