// Package imaging owns what the service does with image bytes before they
// are stored: recognising the format from magic bytes, reading dimensions
// without decoding (with caps on pixels and on each side against
// decompression bombs), cleaning uploads (a full decode, the EXIF
// orientation applied, re-encoded without metadata), and making JPEG
// thumbnails with bounded memory. It accepts only JPEG, PNG and WebP, and
// imports no other project package.
package imaging

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/webp"
)

// Format is an accepted image format.
type Format int

const (
	Unknown Format = iota
	JPEG
	PNG
	WebP
)

func (f Format) String() string {
	switch f {
	case JPEG:
		return "jpeg"
	case PNG:
		return "png"
	case WebP:
		return "webp"
	}
	return "unknown"
}

// Ext returns the file extension callers name keys with, dot included.
func (f Format) Ext() string {
	switch f {
	case JPEG:
		return ".jpg"
	case PNG:
		return ".png"
	case WebP:
		return ".webp"
	}
	return ""
}

// ContentType returns the MIME type.
func (f Format) ContentType() string {
	switch f {
	case JPEG:
		return "image/jpeg"
	case PNG:
		return "image/png"
	case WebP:
		return "image/webp"
	}
	return "application/octet-stream"
}

// SniffLen is how many leading bytes Sniff needs.
const SniffLen = 12

var (
	// ErrUnsupported means the bytes are not JPEG, PNG or WebP.
	ErrUnsupported = errors.New("imaging: unsupported image format")
	// ErrTooManyPixels means the header declares more pixels than allowed;
	// nothing was decoded.
	ErrTooManyPixels = errors.New("imaging: image has too many pixels")
	// ErrSideTooLong means the header declares a width or height over
	// MaxSide; nothing was decoded.
	ErrSideTooLong = errors.New("imaging: image side too long")
	// ErrDamaged means the bytes are of an accepted format but do not decode:
	// a broken header, damaged or truncated image data, a missing end.
	ErrDamaged = errors.New("imaging: image damaged or truncated")
)

// MaxSide caps the width and the height of any image, whatever its pixel
// count: a PNG 36,000,000 pixels wide and 1 high is under the pixel cap, yet
// its decoder would allocate rows of 144 MB, and no real picture is that
// shape. 16384 is WebP's own limit and far above the model's largest output.
const MaxSide = 16384

// DefaultMaxPixels admits the largest outputs of the model (4K, any aspect
// ratio) with room to spare, while keeping one decode under ~150 MB.
const DefaultMaxPixels = 36_000_000

// Sniff recognises a format by its magic bytes, as a browser would, so a
// file's name or declared type is never trusted. GIF, BMP, SVG and the rest
// are rejected.
func Sniff(head []byte) (Format, bool) {
	switch {
	case len(head) >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF:
		return JPEG, true
	case len(head) >= 8 && string(head[:8]) == "\x89PNG\r\n\x1a\n":
		return PNG, true
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WEBP":
		return WebP, true
	}
	return Unknown, false
}

// Info describes an image.
type Info struct {
	Format        Format
	Width, Height int
}

// Inspect reads only the header of r and reports its format and size. It
// fails with ErrUnsupported for other formats, ErrSideTooLong when a side
// exceeds MaxSide, ErrTooManyPixels when Width*Height exceeds maxPixels
// (<= 0 means DefaultMaxPixels), and ErrDamaged for a broken header.
func Inspect(r io.Reader, maxPixels int64) (Info, error) {
	info, _, err := inspect(r, maxPixels)
	return info, err
}

// inspect also returns a reader that replays the bytes consumed, so the
// caller can go on to decode the same stream without buffering it whole.
func inspect(r io.Reader, maxPixels int64) (Info, io.Reader, error) {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	br := bufio.NewReaderSize(r, 4096)
	head, err := br.Peek(SniffLen)
	if err != nil && len(head) == 0 {
		return Info{}, nil, fmt.Errorf("imaging: read header: %w", err)
	}
	f, ok := Sniff(head)
	if !ok {
		return Info{}, nil, ErrUnsupported
	}
	// The format-specific decoder is called rather than image.DecodeConfig,
	// so a format registered elsewhere in the process (GIF, say) cannot
	// slip past Sniff's allow-list.
	var consumed bytes.Buffer
	tee := io.TeeReader(br, &consumed)
	var cfg image.Config
	switch f {
	case JPEG:
		cfg, err = jpeg.DecodeConfig(tee)
	case PNG:
		cfg, err = png.DecodeConfig(tee)
	case WebP:
		cfg, err = webp.DecodeConfig(tee)
	}
	if err != nil {
		return Info{}, nil, fmt.Errorf("%w: %s header: %w", ErrDamaged, f, err)
	}
	info := Info{Format: f, Width: cfg.Width, Height: cfg.Height}
	if info.Width <= 0 || info.Height <= 0 {
		return info, nil, fmt.Errorf("%w: %s header declares %dx%d", ErrDamaged, f, info.Width, info.Height)
	}
	if info.Width > MaxSide || info.Height > MaxSide {
		return info, nil, fmt.Errorf("%w: %dx%d is over %d on a side", ErrSideTooLong, info.Width, info.Height, MaxSide)
	}
	if int64(info.Width)*int64(info.Height) > maxPixels {
		return info, nil, fmt.Errorf("%w: %dx%d is over %d", ErrTooManyPixels, info.Width, info.Height, maxPixels)
	}
	return info, io.MultiReader(&consumed, br), nil
}
