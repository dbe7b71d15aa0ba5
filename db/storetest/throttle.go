package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"nanobanana/db"
)

var testPolicy = db.LoginPolicy{AccountFree: 5, AccountBase: 2 * time.Second, AccountMax: 5 * time.Minute,
	AccountMemory: time.Hour, AddrLimit: 30, AddrWindow: 15 * time.Minute}

// Attempts let loose at once never get more passwords checked than the policy allows,
// not even by one: the count and the decision are one statement.
var _ = register("ThrottleConcurrentAttemptsNeverPassTheLimit", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	const accounts, perAccount = 30, 10 // 300 attempts from one address
	var admitted [accounts]atomic.Int32
	var total atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for a := range accounts {
		for range perAccount {
			wg.Go(func() {
				<-start
				wait, err := d.LoginAttempt(ctx, fmt.Sprint("acct:user", a), "addr:192.0.2.7", testPolicy, now)
				if err != nil {
					t.Error(err)
					return
				}
				if wait == 0 {
					admitted[a].Add(1)
					total.Add(1)
				}
			})
		}
	}
	close(start)
	wg.Wait()
	for a := range accounts {
		if n := admitted[a].Load(); n > int32(testPolicy.AccountFree) {
			t.Errorf("account %d: %d passwords checked, limit %d", a, n, testPolicy.AccountFree)
		}
	}
	// Past its limit an address still gets one try per account with no failures.
	if n := total.Load(); n > int32(testPolicy.AddrLimit+accounts) || n < int32(testPolicy.AddrLimit) {
		t.Errorf("%d passwords checked from one address; want %d to %d", n, testPolicy.AddrLimit, testPolicy.AddrLimit+accounts)
	}

	// One account guessed from many addresses: the account's limit holds alone.
	var one atomic.Int32
	for i := range 100 {
		wg.Go(func() {
			wait, err := d.LoginAttempt(ctx, "acct:target", fmt.Sprint("addr:198.51.100.", i), testPolicy, now)
			if err != nil {
				t.Error(err)
			} else if wait == 0 {
				one.Add(1)
			}
		})
	}
	wg.Wait()
	if n := one.Load(); n != int32(testPolicy.AccountFree) {
		t.Errorf("one account from 100 addresses: %d passwords checked, want %d", n, testPolicy.AccountFree)
	}
})

// An account's wait grows with its failures and is told to the caller; it ends by
// itself, and a success forgets the failures.
var _ = register("ThrottleAccountWaitGrows", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	try := func() time.Duration {
		t.Helper()
		wait, err := d.LoginAttempt(ctx, "acct:alice", "", testPolicy, now)
		if err != nil {
			t.Fatal(err)
		}
		return wait
	}
	for i := range testPolicy.AccountFree {
		if w := try(); w != 0 {
			t.Fatalf("attempt %d refused (%v) within the free failures", i+1, w)
		}
	}
	var waits []time.Duration
	for range 10 {
		w := try()
		if w <= 0 {
			t.Fatalf("attempt checked during a wait (waits so far %v)", waits)
		}
		waits = append(waits, w)
		now = now.Add(w) // the caller waited as told
		if w2 := try(); w2 != 0 {
			t.Fatalf("refused again after waiting the %v it was told: %v", w, w2)
		}
	}
	for i := 1; i < len(waits); i++ {
		if waits[i] < waits[i-1] || waits[i] > testPolicy.AccountMax {
			t.Fatalf("waits do not grow up to the cap: %v", waits)
		}
	}
	if waits[0] != testPolicy.AccountBase || waits[len(waits)-1] != testPolicy.AccountMax {
		t.Fatalf("waits %v: want %v first and %v at the end", waits, testPolicy.AccountBase, testPolicy.AccountMax)
	}
	// After the wait, a success forgets everything: the next failures are free again.
	now = now.Add(testPolicy.AccountMax)
	if w := try(); w != 0 {
		t.Fatalf("refused after the wait: %v", w)
	}
	if err := d.LoginSucceeded(ctx, "acct:alice", ""); err != nil {
		t.Fatal(err)
	}
	for i := range testPolicy.AccountFree {
		if w := try(); w != 0 {
			t.Fatalf("after a success, attempt %d refused: %v", i+1, w)
		}
	}
	// Failures are forgotten AccountMemory after the last.
	now = now.Add(testPolicy.AccountMemory)
	for i := range testPolicy.AccountFree {
		if w := try(); w != 0 {
			t.Fatalf("after the memory ran out, attempt %d refused: %v", i+1, w)
		}
	}
})

// Past its limit, an address is refused for accounts with failures but not for an
// account nobody is guessing; a success takes its own count back.
var _ = register("ThrottleAddressLetsACleanAccountThrough", func(t *testing.T, open Opener) {
	d := open(t, db.Options{})
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	const addr = "addr:203.0.113.9"
	// Failures enough to reach the address's limit, none past an account's free ones;
	// the last on "typo", which has one failure.
	for i := range testPolicy.AddrLimit {
		acct := fmt.Sprint("acct:guess", i/testPolicy.AccountFree)
		if i == testPolicy.AddrLimit-1 {
			acct = "acct:typo"
		}
		if w, err := d.LoginAttempt(ctx, acct, addr, testPolicy, now); err != nil || w != 0 {
			t.Fatalf("attempt %d under the address limit: %v %v", i, w, err)
		}
	}
	w, err := d.LoginAttempt(ctx, "acct:typo", addr, testPolicy, now)
	if err != nil || w != testPolicy.AddrWindow {
		t.Fatalf("an account with a failure, from an address past its limit: wait %v (want the window's %v), %v", w, testPolicy.AddrWindow, err)
	}
	// bob has no failures: his attempt is checked, and succeeds.
	if w, err := d.LoginAttempt(ctx, "acct:bob", addr, testPolicy, now); err != nil || w != 0 {
		t.Fatalf("a clean account from a throttled address: wait %v, %v", w, err)
	}
	if err := d.LoginSucceeded(ctx, "acct:bob", addr); err != nil {
		t.Fatal(err)
	}
	// Again: still clean (his success forgot his count).
	if w, err := d.LoginAttempt(ctx, "acct:bob", addr, testPolicy, now); err != nil || w != 0 {
		t.Fatalf("bob again: wait %v, %v", w, err)
	}
	// A wrong one: bob now has a failure, so the address's limit applies to him too.
	if w, _ := d.LoginAttempt(ctx, "acct:bob", addr, testPolicy, now); w <= 0 {
		t.Fatal("bob, with a failure, was let through an address past its limit")
	}
	// The window ends: the address may try again.
	now = now.Add(testPolicy.AddrWindow)
	if w, err := d.LoginAttempt(ctx, "acct:typo", addr, testPolicy, now); err != nil || w != 0 {
		t.Fatalf("after the address's window: wait %v, %v", w, err)
	}
})
