package imaging

import (
	"bufio"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
)

// CleanOptions configures Clean. Zero fields take the defaults.
type CleanOptions struct {
	MaxPixels   int64 // pixel cap on the source (default DefaultMaxPixels)
	JPEGQuality int   // quality of JPEG output 1-100 (default DefaultCleanQuality)
}

// DefaultCleanQuality re-encodes JPEG uploads with no loss a person could see in a
// reference picture, at about the size a phone writes.
const DefaultCleanQuality = 92

// metaPrefix is how much of the file is kept to find the orientation in: JPEG's EXIF
// segment is at most 64 KB and follows SOI or JFIF's APP0; PNG's eXIf precedes the
// image data, after the header and perhaps a colour profile.
const metaPrefix = 256 << 10

// Clean decodes the whole image read from r, turns it upright as its EXIF orientation
// says, and writes it to w re-encoded from the pixels alone, so nothing of the file
// but the picture survives: no EXIF (GPS position, camera, time), no XMP, no PNG text
// chunks, no colour profile, no bytes after the image's end. PNG stays PNG (lossless,
// alpha and 16-bit kept); JPEG stays JPEG at o.JPEGQuality; WebP, which Go cannot
// encode, becomes JPEG when it is lossy and opaque (what decodes to YCbCr) and PNG
// otherwise (lossless, or with alpha). It returns the written image's format and size.
//
// Refused before any pixel buffer exists: other formats (ErrUnsupported), a side over
// MaxSide (ErrSideTooLong), more than o.MaxPixels pixels (ErrTooManyPixels). Image data
// that does not decode to its end (truncated, damaged, no end marker) is ErrDamaged.
// Orientation is read for JPEG and PNG, as browsers apply it; WebP's is ignored.
//
// Large images are decoded one at a time process-wide (as Thumbnail's), and the turn
// is held while r is read and w written, so pass a local file, not a network stream.
// A turned image costs a second buffer of its decoded size while it is turned.
func Clean(ctx context.Context, w io.Writer, r io.Reader, o CleanOptions) (Info, error) {
	if o.JPEGQuality <= 0 || o.JPEGQuality > 100 {
		o.JPEGQuality = DefaultCleanQuality
	}
	br := bufio.NewReaderSize(r, metaPrefix)
	head, _ := br.Peek(metaPrefix) // a shorter file is all there
	orientation := orientUpright
	if f, ok := Sniff(head); ok {
		switch f {
		case JPEG:
			orientation = jpegOrientation(head)
		case PNG:
			orientation = pngOrientation(head)
		}
	}
	src, rest, err := inspect(br, o.MaxPixels)
	if err != nil {
		return src, err // what the header declared, for the caller's sentence
	}
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	release, err := decodeTurn(ctx, src)
	if err != nil {
		return Info{}, err
	}
	var img image.Image
	defer func() {
		img = nil // dropped before the turn ends: see decodeTurn
		release()
	}()
	if img, err = decode(rest, src.Format); err != nil {
		return Info{}, err
	}
	img = orient(img, orientation)

	out := src.Format
	if out == WebP {
		out = PNG
		if _, lossy := img.(*image.YCbCr); lossy {
			out = JPEG
		}
	}
	switch out {
	case JPEG:
		err = jpeg.Encode(w, img, &jpeg.Options{Quality: o.JPEGQuality})
	default:
		err = (&png.Encoder{CompressionLevel: png.DefaultCompression}).Encode(w, img)
	}
	if err != nil {
		return Info{}, fmt.Errorf("imaging: encode %s: %w", out, err)
	}
	b := img.Bounds()
	return Info{Format: out, Width: b.Dx(), Height: b.Dy()}, nil
}
