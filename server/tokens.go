package server

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	tokenIssuer   = "nanobanana"
	tokenAudience = "nanobanana-api"
	tokenUse      = "access"
)

// accessClaims are the access token's claims. Ver is the user's token version: a password
// change or "sign out everywhere" bumps the stored one, and older tokens die at once.
type accessClaims struct {
	Ver int64  `json:"ver"`
	Use string `json:"use"`
	Sid string `json:"sid"` // the refresh family (session) this token belongs to
	jwt.RegisteredClaims
}

// tokenIssuer signs and parses access tokens with the configured HMAC algorithm only.
type tokens struct {
	key    []byte
	method jwt.SigningMethod
	ttl    time.Duration
	now    func() time.Time
	parser *jwt.Parser

	// verified remembers tokens that passed every check, until they expire: a client
	// sends the same token with every request, and the JWT parse (base64, JSON into the
	// claims, HMAC) was the largest cost of a cached read. Only the exact string that
	// verified is a key, and a hit still ends at the token's own expiry, so the cache
	// accepts nothing parse would refuse. Revocation is unaffected: the caller compares
	// the token version with the user's row on every request.
	mu       sync.RWMutex
	verified map[string]verifiedToken
}

type verifiedToken struct {
	userID, version int64
	session         string
	expires         time.Time // the token's exp
	until           time.Time // expiry plus the parser's leeway
}

// maxVerified bounds the cache (about 400 bytes an entry); when full it starts over.
const maxVerified = 4096

// tokenLeeway is the clock skew the parser tolerates on exp, iat and nbf.
const tokenLeeway = 5 * time.Second

func newTokens(secret, alg string, ttl time.Duration, now func() time.Time) *tokens {
	return &tokens{
		key:    []byte(secret),
		method: jwt.GetSigningMethod(alg),
		ttl:    ttl,
		now:    now,
		// Only the configured algorithm is accepted: "none", RS256 with the secret as a
		// public key, and every other confusion fail here.
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{alg}),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithIssuer(tokenIssuer),
			jwt.WithAudience(tokenAudience),
			jwt.WithTimeFunc(now),
			jwt.WithLeeway(tokenLeeway),
		),
	}
}

// issue makes an access token for a user at a token version.
func (t *tokens) issue(userID, version int64, session string) (string, time.Time, error) {
	now := t.now()
	exp := now.Add(t.ttl)
	var jti [12]byte
	_, _ = rand.Read(jti[:])
	claims := accessClaims{
		Ver: version,
		Use: tokenUse,
		Sid: session,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    tokenIssuer,
			Subject:   strconv.FormatInt(userID, 10),
			Audience:  jwt.ClaimStrings{tokenAudience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now.Add(-5 * time.Second)),
			ExpiresAt: jwt.NewNumericDate(exp),
			ID:        base64.RawURLEncoding.EncodeToString(jti[:]),
		},
	}
	s, err := jwt.NewWithClaims(t.method, claims).SignedString(t.key)
	return s, exp, err
}

var errBadToken = errors.New("invalid token")

// parse checks signature, algorithm, expiry, issuer, audience and use, and answers the
// user id, token version, session and expiry. The caller still compares the version
// with the user's row and checks the session.
func (t *tokens) parse(raw string) (userID, version int64, session string, expires time.Time, err error) {
	if len(raw) > 4096 {
		return 0, 0, "", time.Time{}, errBadToken
	}
	now := t.now()
	t.mu.RLock()
	v, ok := t.verified[raw]
	t.mu.RUnlock()
	if ok && now.Before(v.until) {
		return v.userID, v.version, v.session, v.expires, nil
	}
	var c accessClaims
	_, err = t.parser.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return t.key, nil })
	if err != nil {
		return 0, 0, "", time.Time{}, errBadToken
	}
	if c.Use != tokenUse {
		return 0, 0, "", time.Time{}, errBadToken
	}
	userID, err = strconv.ParseInt(c.Subject, 10, 64)
	if err != nil || userID <= 0 || c.Ver <= 0 {
		return 0, 0, "", time.Time{}, errBadToken
	}
	// iat and nbf were already in the past (within leeway) and stay so; only exp ends it.
	v = verifiedToken{userID: userID, version: c.Ver, session: c.Sid, expires: c.ExpiresAt.Time,
		until: c.ExpiresAt.Add(tokenLeeway)}
	t.mu.Lock()
	if len(t.verified) >= maxVerified || t.verified == nil {
		t.verified = make(map[string]verifiedToken)
	}
	t.verified[raw] = v
	t.mu.Unlock()
	return userID, c.Ver, c.Sid, v.expires, nil
}

// newOpaqueToken is a refresh token: 256 random bits, URL-safe.
func newOpaqueToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
