//go:build !linux

package main

import (
	"errors"
	"io"
	"net"
	"os"
)

// The background start of shared hosting (daemon.go) is for Linux hosts, where such
// plans run; elsewhere `serve` runs under the system's own service manager.

var errDaemonLinux = errors.New("start, stop and status run the server in the background on Linux hosts; here, run `nanobanana serve` under the system's service manager")

func cmdStart(args []string, stdout, stderr io.Writer) error  { return errDaemonLinux }
func cmdStop(args []string, stdout, stderr io.Writer) error   { return errDaemonLinux }
func cmdStatus(args []string, stdout, stderr io.Writer) error { return errDaemonLinux }

// startedServer is never handed over here: a nil one does nothing.
type startedServer struct{}

func takeStarted(string) (*startedServer, error) { return nil, nil }
func (*startedServer) redirect(*os.File) error   { return nil }
func (*startedServer) serving(net.Listener)      {}
func (*startedServer) exit()                     {}
