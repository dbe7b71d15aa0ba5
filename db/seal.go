package db

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"strconv"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/hkdf"
)

// sealVersion1 marks values sealed with XChaCha20-Poly1305 under a key derived by
// HKDF-SHA256 from the server secret. A later scheme gets a new byte, so keys sealed
// before a rotation stay readable while new ones use the new scheme.
const sealVersion1 byte = 1

// Sealer encrypts users' Replicate keys so the plaintext never reaches the database file.
type Sealer struct{ key []byte }

// NewSealer derives the sealing key from the server secret.
func NewSealer(secret string) (*Sealer, error) {
	if len(secret) < 32 {
		return nil, errors.New("sealer: secret shorter than 32 bytes")
	}
	key := make([]byte, chacha20poly1305.KeySize)
	if _, err := io.ReadFull(hkdf.New(sha256.New, []byte(secret), nil, []byte("nanobanana/replicate-api-key/v1")), key); err != nil {
		return nil, err
	}
	return &Sealer{key: key}, nil
}

// Seal encrypts plaintext bound to the user id (associated data), so a sealed value
// copied onto another user's row does not open.
func (s *Sealer) Seal(userID int64, plaintext string) ([]byte, error) {
	aead, err := chacha20poly1305.NewX(s.key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(plaintext)+aead.Overhead())
	out[0] = sealVersion1
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, err
	}
	return aead.Seal(out, out[1:], []byte(plaintext), ad(userID)), nil
}

// Open decrypts a sealed value for the user.
func (s *Sealer) Open(userID int64, sealed []byte) (string, error) {
	aead, err := chacha20poly1305.NewX(s.key)
	if err != nil {
		return "", err
	}
	if len(sealed) < 1+aead.NonceSize()+aead.Overhead() || sealed[0] != sealVersion1 {
		return "", errors.New("sealed api key: unknown format")
	}
	nonce, ct := sealed[1:1+aead.NonceSize()], sealed[1+aead.NonceSize():]
	pt, err := aead.Open(nil, nonce, ct, ad(userID))
	if err != nil {
		return "", errors.New("sealed api key: cannot be opened with this SECRET_KEY")
	}
	return string(pt), nil
}

func ad(userID int64) []byte { return []byte("user:" + strconv.FormatInt(userID, 10)) }
