//go:build linux

package main

// The commands of a host with no service manager (shared hosting: SSH and cron, no root,
// no systemd). `start` runs the server in the background unless one already runs on the
// data directory, and is meant to be run by cron every minute; `stop` and `status` find
// that server by its pid file.
//
// The pid file is also the lock that says "running". `start` takes an open file
// description lock on it and hands the locked file to the server it starts, which keeps
// it, and so the lock, until it exits, however it exits (the kernel drops the lock with
// the last descriptor, kill -9 included). Two starts that overlap cannot both start a
// server: the second finds the lock taken, even while the first is still waiting for its
// server to be ready.

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"nanobanana/config"
)

// startedEnv marks a serve started by `start`: it then finds the locked pid file on
// descriptor pidFD and a pipe to say it is ready on readyFD.
const (
	startedEnv = "NANOBANANA_STARTED_BY"
	pidFD      = 3
	readyFD    = 4
)

// startWait bounds how long start waits for its server to say it serves. It only turns a
// start that hangs into an answer: serve itself waits up to postgresWait for PostgreSQL.
var startWait = 2 * time.Minute

func cmdStart(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("start", flag.ContinueOnError)
	var f config.Flags
	commonFlags(fs, &f)
	quiet := fs.Bool("quiet", false, "print nothing when a server already runs (for cron)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: nanobanana start [flags]\n\n"+
			"Start the server in the background, logging to LOG_FILE (default DATA_DIR/nanobanana.log),\n"+
			"unless one already runs on this data directory; then exit 0 at once. Safe to run\n"+
			"from cron every minute:\n\n"+
			"  * * * * * /path/to/nanobanana start --quiet --env-file /path/to/.env\n\n")
		fs.PrintDefaults()
	}
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	cfg, err := config.Load(f)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create DATA_DIR %s: %w", cfg.DataDir, err)
	}
	pf, err := os.OpenFile(cfg.PIDFile, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("PID_FILE: %w", err)
	}
	defer pf.Close()
	if err := lockOFD(pf); err != nil {
		if !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EACCES) {
			return fmt.Errorf("lock %s: %w", cfg.PIDFile, err)
		}
		if !*quiet {
			fmt.Fprintf(stdout, "nanobanana is already running (%s)\n", describeRunning(cfg))
		}
		return nil
	}
	if cfg.Database != "postgres" {
		// A serve started by hand or by systemd holds the database, not the pid file.
		held, err := lockHeld(cfg.DatabasePath + ".lock")
		if err != nil {
			return err
		}
		if held {
			if !*quiet {
				fmt.Fprintf(stdout, "a nanobanana serve not started by `nanobanana start` already uses %s; nothing to do\n", cfg.DatabasePath)
			}
			return nil
		}
	}
	// What the file said belongs to a server that is gone.
	if err := pf.Truncate(0); err != nil {
		return fmt.Errorf("PID_FILE: %w", err)
	}

	logName := logPath(cfg)
	logf, err := os.OpenFile(logName, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("log file: %w", err)
	}
	defer logf.Close()
	logStart, err := logf.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("log file: %w", err)
	}
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	defer devNull.Close()
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer readyR.Close()
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the nanobanana binary: %w", err)
	}
	// The server reads the same settings: the same flags, environment and directory.
	serveArgs := []string{"serve"}
	if f.EnvFile != "" {
		serveArgs = append(serveArgs, "--env-file", f.EnvFile)
	}
	if f.DataDir != "" {
		serveArgs = append(serveArgs, "--data-dir", f.DataDir)
	}
	cmd := exec.Command(exe, serveArgs...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devNull, logf, logf
	cmd.ExtraFiles = []*os.File{pf, readyW} // pidFD, readyFD
	cmd.Env = append(os.Environ(), startedEnv+"=start")
	// Its own session: no terminal, and no signal sent to cron's or the shell's process
	// group reaches it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	readyW.Close()
	if err != nil {
		return fmt.Errorf("start %s: %w", exe, err)
	}

	pid := cmd.Process.Pid
	readyR.SetReadDeadline(time.Now().Add(startWait))
	line, rerr := bufio.NewReader(readyR).ReadString('\n')
	if addr, ok := strings.CutPrefix(strings.TrimSpace(line), "ready "); ok && rerr == nil {
		cmd.Process.Release()
		fmt.Fprintf(stdout, "started nanobanana (pid %d), listening on %s; log: %s\n", pid, addr, logName)
		return nil
	}
	if errors.Is(rerr, os.ErrDeadlineExceeded) {
		cmd.Process.Release()
		return fmt.Errorf("nanobanana (pid %d) has not said it serves after %v; it may still be starting: see %s", pid, startWait, logName)
	}
	werr := cmd.Wait()
	return fmt.Errorf("the server did not start (%v); %s says:\n%s", werr, logName, logSince(logName, logStart))
}

// logSince is what the log file got from offset on (the failed server's words), at most
// its last 4 KiB.
func logSince(path string, offset int64) string {
	b, err := os.ReadFile(path)
	if err != nil || int64(len(b)) < offset {
		return "(unreadable: " + fmt.Sprint(err) + ")"
	}
	b = b[offset:]
	if len(b) > 4<<10 {
		b = b[len(b)-4<<10:]
	}
	return strings.TrimRight(string(b), "\n")
}

// daemonState is what the pid file and the database lock say.
type daemonState struct {
	running bool // a server started by `start` holds the pid file
	pid     int  // its pid; 0 while it starts
	other   bool // not running, but a serve started otherwise holds the SQLite database
}

func readState(cfg config.Config) (daemonState, error) {
	var st daemonState
	held, err := lockHeld(cfg.PIDFile)
	if err != nil {
		return st, err
	}
	if held {
		st.running = true
		if b, err := os.ReadFile(cfg.PIDFile); err == nil {
			st.pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		return st, nil
	}
	if cfg.Database != "postgres" {
		st.other, err = lockHeld(cfg.DatabasePath + ".lock")
	}
	return st, err
}

// describeRunning says which server runs, for start and status.
func describeRunning(cfg config.Config) string {
	st, err := readState(cfg)
	pid := "starting"
	if err == nil && st.pid != 0 {
		pid = "pid " + strconv.Itoa(st.pid)
	}
	return pid + ", listening on " + cfg.ListenAddr + ", log " + logPath(cfg)
}

// loadState parses status's or stop's flags, loads the configuration and reads the state
// of the server on its data directory.
func loadState(fs *flag.FlagSet, f *config.Flags, args []string, stderr io.Writer) (config.Config, daemonState, error) {
	if err := parse(fs, args, stderr); err != nil {
		return config.Config{}, daemonState{}, err
	}
	cfg, err := config.Load(*f)
	if err != nil {
		return cfg, daemonState{}, err
	}
	st, err := readState(cfg)
	return cfg, st, err
}

func cmdStatus(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	var f config.Flags
	commonFlags(fs, &f)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: nanobanana status [flags]\n\n"+
			"Say whether a server started by `nanobanana start` runs on this data directory.\n"+
			"Exit status 0: running; 3: not running (as LSB init scripts answer).\n\n")
		fs.PrintDefaults()
	}
	cfg, st, err := loadState(fs, &f, args, stderr)
	switch {
	case err != nil:
		return err
	case st.running:
		fmt.Fprintf(stdout, "running (%s)\n", describeRunning(cfg))
		return nil
	case st.other:
		fmt.Fprintf(stdout, "running, not started by `nanobanana start`: a nanobanana serve holds %s.lock\n", cfg.DatabasePath)
		return nil
	}
	fmt.Fprintln(stdout, "not running")
	return exitStatus(3)
}

func cmdStop(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("stop", flag.ContinueOnError)
	var f config.Flags
	commonFlags(fs, &f)
	timeout := fs.Duration("timeout", time.Minute, "how long to wait for the server to finish its requests and stop")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: nanobanana stop [flags]\n\n"+
			"Stop the server `nanobanana start` started on this data directory (SIGTERM: it\n"+
			"finishes its requests; running jobs resume at the next start), and wait for it.\n\n")
		fs.PrintDefaults()
	}
	cfg, st, err := loadState(fs, &f, args, stderr)
	switch {
	case err != nil:
		return err
	case st.other:
		return fmt.Errorf("a nanobanana serve not started by `nanobanana start` uses %s: stop it where it was started (its terminal, or `nanobanana service stop`)", cfg.DatabasePath)
	case !st.running:
		fmt.Fprintln(stdout, "nanobanana is not running")
		return nil
	case st.pid == 0:
		return errors.New("nanobanana is starting and has not written its pid yet; try again in a moment")
	}
	if err := syscall.Kill(st.pid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("stop nanobanana (pid %d): %w", st.pid, err)
	}
	deadline := time.Now().Add(*timeout)
	for {
		held, err := lockHeld(cfg.PIDFile)
		if err != nil {
			return err
		}
		if !held {
			fmt.Fprintf(stdout, "stopped nanobanana (pid %d)\n", st.pid)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nanobanana (pid %d) is still stopping after %v; `kill -9 %d` is safe: queued and running jobs resume at the next start", st.pid, *timeout, st.pid)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startedServer is what a serve started by `start` was handed: the locked pid file and
// the pipe to say it is ready on. Its methods do nothing on nil, a serve started any
// other way.
type startedServer struct {
	pidFile *os.File
	ready   *os.File
}

// takeStarted picks up what `start` handed this process, if it did: it writes the pid
// into the pid file it now holds locked and stops HUP from ending it.
func takeStarted(pidPath string) (*startedServer, error) {
	if os.Getenv(startedEnv) != "start" {
		return nil, nil
	}
	// Nothing this process starts is a server started by `start`.
	os.Unsetenv(startedEnv)
	s := &startedServer{pidFile: os.NewFile(pidFD, "pid file"), ready: os.NewFile(readyFD, "ready pipe")}
	// Descriptor 3 must be the pid file: the variable set by hand must not make serve
	// truncate whatever else it inherited.
	inherited, err1 := s.pidFile.Stat()
	named, err2 := os.Stat(pidPath)
	if err1 != nil || err2 != nil || !os.SameFile(inherited, named) {
		return nil, fmt.Errorf("%s is for `nanobanana start` only: descriptor %d is not PID_FILE %s", startedEnv, pidFD, pidPath)
	}
	syscall.CloseOnExec(pidFD)
	syscall.CloseOnExec(readyFD)
	if err := s.pidFile.Truncate(0); err != nil {
		return nil, fmt.Errorf("PID_FILE: %w", err)
	}
	if _, err := s.pidFile.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		return nil, fmt.Errorf("PID_FILE: %w", err)
	}
	signal.Ignore(syscall.SIGHUP)
	return s, nil
}

// redirect points standard output and error at the current log file, so that what the
// Go runtime itself prints (a panic's stack) lands there too, and follows the rotations.
func (s *startedServer) redirect(f *os.File) error {
	if s == nil {
		return nil
	}
	for _, fd := range []int{1, 2} {
		if err := syscall.Dup3(int(f.Fd()), fd, 0); err != nil {
			return err
		}
	}
	return nil
}

// serving tells `start` the server serves on ln.
func (s *startedServer) serving(ln net.Listener) {
	if s == nil {
		return
	}
	addr := ln.Addr().String()
	if ln.Addr().Network() == "unix" {
		addr = "unix:" + addr
	}
	fmt.Fprintf(s.ready, "ready %s\n", addr)
	s.ready.Close()
}

// exit empties the pid file: a clean stop leaves no stale pid behind. (The file stays:
// removing it could let a start lock a file no other start would look at.)
func (s *startedServer) exit() {
	if s == nil {
		return
	}
	s.pidFile.Truncate(0)
	s.pidFile.Close()
}
