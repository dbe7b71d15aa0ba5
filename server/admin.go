package server

import (
	"context"
	"errors"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"nanobanana/db"
)

// CreateUser makes an account with the same rules as sign-up; the admin command uses it.
func CreateUser(ctx context.Context, d db.Store, cost int, username, email, password string, admin bool) (*db.User, error) {
	username, email = strings.TrimSpace(username), strings.TrimSpace(email)
	if err := errors.Join(validUsername(username), validEmail(email), validPassword("password", password)); err != nil {
		return nil, mergeInvalid(err)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), max(cost, 10))
	if err != nil {
		return nil, err
	}
	return d.CreateUser(ctx, username, email, string(hash), admin)
}

// SetPassword replaces a password and ends every session of the user.
func SetPassword(ctx context.Context, d db.Store, cost int, userID int64, password string) error {
	if err := validPassword("password", password); err != nil {
		return err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), max(cost, 10))
	if err != nil {
		return err
	}
	return d.SetPassword(ctx, userID, string(hash), "")
}
