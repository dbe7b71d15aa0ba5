package proctest

import (
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// User is an operating-system account that a test runs processes as: a shared host's
// customer, or its web server.
type User struct {
	Name     string
	UID, GID uint32
	Groups   []uint32 // supplementary groups
	Home     string   // a directory of its own (mode 0750), removed when the test ends
}

// AddUser creates a system account for the test with useradd, with a group of its own
// name, in the supplementary groups given, and with a fresh home directory under /tmp
// that only it and its group may enter; both go when the test ends. It needs root: the
// caller decides what a test without root does (CurrentUser runs everything as the one
// user there is). An account of that name left by an interrupted run is replaced.
func AddUser(t testing.TB, name string, groups ...string) *User {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("proctest.AddUser(%s) needs root", name)
	}
	if _, err := exec.LookPath("useradd"); err != nil {
		Missing(t, "useradd not found (Debian: the passwd package)")
	}
	if _, err := user.Lookup(name); err == nil {
		userdel(name)
	}
	home, err := os.MkdirTemp("/tmp", "nbhome-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--system", "--user-group", "--no-create-home", "--home-dir", home, "--shell", "/usr/sbin/nologin"}
	if len(groups) > 0 {
		args = append(args, "--groups", strings.Join(groups, ","))
	}
	if out, err := exec.Command("useradd", append(args, name)...).CombinedOutput(); err != nil {
		os.RemoveAll(home)
		t.Fatalf("useradd %s: %v\n%s", name, err, out)
	}
	t.Cleanup(func() {
		userdel(name)
		os.RemoveAll(home)
	})
	u := lookupUser(t, name)
	u.Home = home
	if err := os.Chown(home, int(u.UID), int(u.GID)); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(home, 0o750); err != nil {
		t.Fatal(err)
	}
	return u
}

// CurrentUser is the account the test runs as, with a fresh home directory for it
// (under /tmp, mode 0750, removed when the test ends).
func CurrentUser(t testing.TB) *User {
	t.Helper()
	cur, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	u := lookupUser(t, cur.Username)
	home, err := os.MkdirTemp("/tmp", "nbhome-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	if err := os.Chmod(home, 0o750); err != nil {
		t.Fatal(err)
	}
	u.Home = home
	return u
}

func userdel(name string) {
	_ = exec.Command("userdel", name).Run()
	// userdel leaves the group when another account has it as a supplementary one.
	_ = exec.Command("groupdel", name).Run()
}

func lookupUser(t testing.TB, name string) *User {
	t.Helper()
	pw, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, err1 := strconv.ParseUint(pw.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(pw.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		t.Fatalf("user %s has ids %q/%q", name, pw.Uid, pw.Gid)
	}
	u := &User{Name: name, UID: uint32(uid), GID: uint32(gid)}
	gids, err := pw.GroupIds()
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gids {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil && uint32(n) != u.GID {
			u.Groups = append(u.Groups, uint32(n))
		}
	}
	return u
}

// Command is exec.Command run as u (when the test is root; otherwise as the test's own
// user, which CurrentUser is), in u's home, with an environment of PATH, HOME and
// extra only.
func (u *User) Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = u.Home
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + u.Home, "USER=" + u.Name, "LANG=C.UTF-8"}
	if os.Geteuid() == 0 && u.UID != 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: u.Groups}}
	}
	return cmd
}

// Own gives path to u, as the account would own what it uploads (root only; a no-op for
// the test's own user).
func (u *User) Own(t testing.TB, path string) {
	t.Helper()
	if os.Geteuid() != 0 {
		return
	}
	if err := os.Chown(path, int(u.UID), int(u.GID)); err != nil {
		t.Fatal(err)
	}
}
