// Command populate fills a nanobanana SQLite database with many users' generations
// (internal/population), for load runs against a large history:
//
//	go run ./bench/populate -db /tmp/big/nanobanana.db            # 1,000,000 rows, "heavy" has 100,000
//	DATA_DIR=/tmp/big nanobanana serve                             # then sign in as heavy / population
//
// The database must be new (or hold no users). Every user's password is "population".
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"golang.org/x/crypto/bcrypt"

	"nanobanana/db"
	"nanobanana/db/sqlite"
	"nanobanana/internal/population"
)

func main() {
	path := flag.String("db", "", "the SQLite file to fill (created if missing)")
	total := flag.Int("total", 1_000_000, "generations in all")
	heavy := flag.Int("heavy", 100_000, "generations of the first user, heavy")
	users := flag.Int("users", 1000, "users in all")
	flag.Parse()
	if *path == "" {
		fmt.Fprintln(os.Stderr, "populate: -db is required")
		os.Exit(2)
	}
	ctx := context.Background()
	d, err := sqlite.Open(ctx, *path, db.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "populate:", err)
		os.Exit(1)
	}
	defer d.Close()
	hash, _ := bcrypt.GenerateFromPassword([]byte("population"), 10)
	start := time.Now()
	res, err := population.Fill(ctx, d, population.Spec{Total: *total, Heavy: *heavy, Users: *users, PasswordHash: string(hash)})
	if err != nil {
		fmt.Fprintln(os.Stderr, "populate:", err)
		os.Exit(1)
	}
	fmt.Printf("%d users, %d generations (heavy: %d) in %v\n", len(res.Users), *total, res.Rows[0], time.Since(start).Round(time.Millisecond))
}
