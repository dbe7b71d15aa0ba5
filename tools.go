//go:build tools

// Package main pins the modules the project builds on before every part uses them.
package main
import (
 _ "modernc.org/sqlite"
 _ "github.com/julienschmidt/httprouter"
 _ "github.com/golang-jwt/jwt/v5"
 _ "golang.org/x/crypto/bcrypt"
 _ "golang.org/x/crypto/chacha20poly1305"
 _ "golang.org/x/crypto/hkdf"
 _ "github.com/joho/godotenv"
 _ "github.com/kardianos/service"
 _ "github.com/minio/minio-go/v7"
 _ "golang.org/x/image/draw"
 _ "golang.org/x/image/webp"
 _ "github.com/chromedp/chromedp"
)
func main(){}
