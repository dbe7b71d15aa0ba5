package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"nanobanana/db"
)

// cmdInvite is `nanobanana user invite create|list|revoke`: single-use invitation
// links, as the Admin page makes them, for a host with no browser.
func cmdInvite(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"user invite: name an action: create, list or revoke"}
	}
	action, args := args[0], args[1:]
	fs := flag.NewFlagSet("user invite "+action, flag.ContinueOnError)
	var expires time.Duration
	var note string
	var id int64
	switch action {
	case "create":
		fs.DurationVar(&expires, "expires", 72*time.Hour, "how long the link is good for, such as 72h (1h to 8760h)")
		fs.StringVar(&note, "note", "", "a note shown in the list (who it is for)")
	case "revoke":
		fs.Int64Var(&id, "id", 0, "the invitation's id (see user invite list)")
	case "list":
	default:
		return usageError{fmt.Sprintf("user invite: unknown action %q: want create, list or revoke", action)}
	}
	cfg, d, err := loadForAdmin(fs, args, stderr)
	if err != nil {
		return err
	}
	defer d.Close()
	ctx := context.Background()
	switch action {
	case "create":
		if expires < time.Hour || expires > 8760*time.Hour {
			return usageError{"user invite create: --expires must be from 1h to 8760h"}
		}
		if len(note) > 200 {
			return usageError{"user invite create: --note must be at most 200 bytes"}
		}
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			return err
		}
		token := base64.RawURLEncoding.EncodeToString(b[:])
		inv, err := d.CreateInvitation(ctx, db.Invitation{Note: note, ExpiresAt: time.Now().Add(expires)}, token)
		if err != nil {
			return err
		}
		cliAudit(ctx, d, "invitation.created", nil)
		link := "/#/invite/" + token
		if cfg.PublicURL != "" {
			link = cfg.PublicURL + link
		} else {
			link = "<this site's address>" + link + "   (set PUBLIC_URL to have the whole link printed)"
		}
		fmt.Fprintf(stdout, "invitation %d, good once until %s:\n%s\n", inv.ID, inv.ExpiresAt.Format(time.RFC3339), link)
	case "list":
		invs, err := d.Invitations(ctx, 500)
		if err != nil {
			return err
		}
		now := time.Now()
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTATE\tEXPIRES\tUSED BY\tNOTE")
		for _, i := range invs {
			used := "-"
			if i.UsedByName != "" {
				used = i.UsedByName
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", i.ID, i.State(now), i.ExpiresAt.Format("2006-01-02 15:04"), used, i.Note)
		}
		return tw.Flush()
	case "revoke":
		if id <= 0 {
			return usageError{"user invite revoke: --id is required"}
		}
		if err := d.RevokeInvitation(ctx, id); err != nil {
			return fmt.Errorf("invitation %d: %w", id, err)
		}
		cliAudit(ctx, d, "invitation.revoked", nil)
		fmt.Fprintf(stdout, "invitation %d revoked\n", id)
	}
	return nil
}

// cliAudit writes an audit entry for an action taken on the server's shell (client
// "cli", no actor); a failure is reported, not fatal: the action happened.
func cliAudit(ctx context.Context, d db.Store, action string, subject *db.User) {
	e := db.AuditEntry{Action: action, Client: "cli"}
	if subject != nil {
		e.SubjectID, e.Subject = subject.ID, subject.Username
	}
	_ = d.AddAudit(ctx, e)
}
