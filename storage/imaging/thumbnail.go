package imaging

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"runtime/debug"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"
)

// ThumbOptions configures Thumbnail. Zero fields take the defaults.
type ThumbOptions struct {
	MaxSide   int   // long side of the thumbnail in pixels (default 384)
	Quality   int   // JPEG quality 1-100 (default 80)
	MaxPixels int64 // pixel cap on the source (default DefaultMaxPixels)
}

const (
	DefaultThumbSide    = 384
	DefaultThumbQuality = 80
)

// bigDecode admits one large decode at a time in the whole process. A 4K
// image decodes to 24-64 MB; several workers finishing at once must not
// multiply that.
var bigDecode = make(chan struct{}, 1)

// bigDecodePixels is the size from which a decode waits for bigDecode.
// Smaller images (at most ~4 MB decoded) go straight through, so a burst
// of small thumbnails is not queued behind one 4K decode.
const bigDecodePixels = 1 << 20

// waitingForDecode, if set, is called just before a decode waits for
// bigDecode; tests use it to know the wait has begun.
var waitingForDecode func()

// decodeTurn waits for the process-wide turn to decode src when it is large
// (small images go straight through) and returns what ends the turn. The
// caller drops every reference to the decoded image before calling it:
// release hands the memory back to the system before the next large decode
// may start, since left to the collector's pace the next decode would be
// allocated while this one still counts, and the peak would double.
func decodeTurn(ctx context.Context, src Info) (release func(), err error) {
	if int64(src.Width)*int64(src.Height) <= bigDecodePixels {
		return func() {}, nil
	}
	if waitingForDecode != nil {
		waitingForDecode()
	}
	select {
	case bigDecode <- struct{}{}:
		return func() {
			debug.FreeOSMemory()
			<-bigDecode
		}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// decode decodes r, whose header inspect has read and checked, in its
// format; a failure is ErrDamaged.
func decode(r io.Reader, f Format) (image.Image, error) {
	var img image.Image
	var err error
	switch f {
	case JPEG:
		img, err = jpeg.Decode(r)
	case PNG:
		img, err = png.Decode(r)
	case WebP:
		img, err = webp.Decode(r)
	default:
		return nil, ErrUnsupported
	}
	if err != nil {
		return nil, fmt.Errorf("%w: decode %s: %w", ErrDamaged, f, err)
	}
	return img, nil
}

// Thumbnail decodes the image read from r (JPEG, PNG or WebP; checked
// against the pixel cap before anything is allocated), scales it so its
// long side is MaxSide — never enlarging a smaller image — and writes it to
// w as a JPEG. Transparent areas become white, since JPEG has no alpha. It
// returns the thumbnail's dimensions.
//
// Large images are decoded one at a time process-wide; waiting for that
// turn honours ctx. The turn is held while r is read, so pass a local file
// or buffer, not a slow network stream.
//
// The scaling is a box filter (exact average of k×k source pixels, for the
// largest integer k that keeps the result at least the target size) then
// Catmull-Rom for the last factor below 2. Catmull-Rom straight from 4K
// would cost a float64 buffer of 384×4096×32 B ≈ 50 MB and ~40 taps per
// sample; ApproxBiLinear would be cheap but samples only 4 of every ~100
// source pixels, so fine detail aliases into moiré. The box pass is both
// cheap and alias-free, and for JPEG it averages Y, Cb and Cr directly,
// converting each output pixel once instead of every source pixel.
func Thumbnail(ctx context.Context, w io.Writer, r io.Reader, o ThumbOptions) (Info, error) {
	if o.MaxSide <= 0 {
		o.MaxSide = DefaultThumbSide
	}
	if o.Quality <= 0 || o.Quality > 100 {
		o.Quality = DefaultThumbQuality
	}
	src, rest, err := inspect(r, o.MaxPixels)
	if err != nil {
		return Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}

	dst, err := decodeAndScale(ctx, rest, src, o.MaxSide)
	if err != nil {
		return Info{}, err
	}
	if err := jpeg.Encode(w, dst, &jpeg.Options{Quality: o.Quality}); err != nil {
		return Info{}, fmt.Errorf("imaging: encode thumbnail: %w", err)
	}
	b := dst.Bounds()
	return Info{Format: JPEG, Width: b.Dx(), Height: b.Dy()}, nil
}

func decodeAndScale(ctx context.Context, r io.Reader, src Info, maxSide int) (*image.RGBA, error) {
	release, err := decodeTurn(ctx, src)
	if err != nil {
		return nil, err
	}
	var img image.Image
	defer func() {
		img = nil // dropped before the turn ends: see decodeTurn
		release()
	}()
	if img, err = decode(r, src.Format); err != nil {
		return nil, err
	}

	dw, dh := thumbSize(src.Width, src.Height, maxSide)
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	sb := img.Bounds()
	switch k := min(sb.Dx()/dw, sb.Dy()/dh); {
	case dw == sb.Dx() && dh == sb.Dy():
		draw.Draw(dst, dst.Bounds(), img, sb.Min, draw.Src)
	case k >= 2:
		mid := boxShrink(img, k)
		draw.CatmullRom.Scale(dst, dst.Bounds(), mid, mid.Bounds(), draw.Src, nil)
	default:
		draw.CatmullRom.Scale(dst, dst.Bounds(), img, sb, draw.Src, nil)
	}
	flattenOnWhite(dst)
	return dst, nil
}

// thumbSize fits w×h into maxSide×maxSide keeping the aspect ratio, and
// never enlarges.
func thumbSize(w, h, maxSide int) (int, int) {
	if w <= maxSide && h <= maxSide {
		return w, h
	}
	if w >= h {
		return maxSide, max(1, int((int64(h)*int64(maxSide)+int64(w)/2)/int64(w)))
	}
	return max(1, int((int64(w)*int64(maxSide)+int64(h)/2)/int64(h))), maxSide
}

// boxShrink averages each k×k block of img into one pixel of a premultiplied
// RGBA image of size (w/k)×(h/k); the last w%k columns and h%k rows (under
// k pixels at the edges) are dropped.
func boxShrink(img image.Image, k int) *image.RGBA {
	sb := img.Bounds()
	ow, oh := sb.Dx()/k, sb.Dy()/k
	out := image.NewRGBA(image.Rect(0, 0, ow, oh))
	n := uint32(k * k)
	switch s := img.(type) {
	case *image.YCbCr:
		for oy := range oh {
			y0 := sb.Min.Y + oy*k
			for ox := range ow {
				x0 := sb.Min.X + ox*k
				var sy, scb, scr uint32
				for y := y0; y < y0+k; y++ {
					yi := s.YOffset(x0, y)
					for x := range k {
						sy += uint32(s.Y[yi+x])
						ci := s.COffset(x0+x, y)
						scb += uint32(s.Cb[ci])
						scr += uint32(s.Cr[ci])
					}
				}
				r, g, b := color.YCbCrToRGB(uint8((sy+n/2)/n), uint8((scb+n/2)/n), uint8((scr+n/2)/n))
				i := out.PixOffset(ox, oy)
				out.Pix[i], out.Pix[i+1], out.Pix[i+2], out.Pix[i+3] = r, g, b, 0xff
			}
		}
	case *image.Gray:
		for oy := range oh {
			for ox := range ow {
				var sum uint32
				for y := range k {
					row := s.PixOffset(sb.Min.X+ox*k, sb.Min.Y+oy*k+y)
					for _, v := range s.Pix[row : row+k] {
						sum += uint32(v)
					}
				}
				v := uint8((sum + n/2) / n)
				i := out.PixOffset(ox, oy)
				out.Pix[i], out.Pix[i+1], out.Pix[i+2], out.Pix[i+3] = v, v, v, 0xff
			}
		}
	case *image.RGBA, *image.NRGBA:
		var pix []byte
		var stride int
		_, premul := s.(*image.RGBA)
		if p, ok := s.(*image.RGBA); ok {
			pix, stride = p.Pix, p.Stride
		} else {
			p := s.(*image.NRGBA)
			pix, stride = p.Pix, p.Stride
		}
		for oy := range oh {
			for ox := range ow {
				var sr, sg, sb2, sa uint32
				for y := range k {
					i := (oy*k+y)*stride + ox*k*4
					for x := 0; x < k*4; x += 4 {
						r, g, b, a := uint32(pix[i+x]), uint32(pix[i+x+1]), uint32(pix[i+x+2]), uint32(pix[i+x+3])
						if !premul {
							r, g, b = r*a/0xff, g*a/0xff, b*a/0xff
						}
						sr, sg, sb2, sa = sr+r, sg+g, sb2+b, sa+a
					}
				}
				i := out.PixOffset(ox, oy)
				out.Pix[i] = uint8((sr + n/2) / n)
				out.Pix[i+1] = uint8((sg + n/2) / n)
				out.Pix[i+2] = uint8((sb2 + n/2) / n)
				out.Pix[i+3] = uint8((sa + n/2) / n)
			}
		}
	default:
		// Paletted, 16-bit, CMYK and other rarer layouts: slower, but
		// RGBA64At does not allocate per pixel as At does.
		at := func(x, y int) (uint32, uint32, uint32, uint32) { return img.At(x, y).RGBA() }
		if s, ok := img.(image.RGBA64Image); ok {
			at = func(x, y int) (uint32, uint32, uint32, uint32) {
				c := s.RGBA64At(x, y)
				return uint32(c.R), uint32(c.G), uint32(c.B), uint32(c.A)
			}
		}
		for oy := range oh {
			for ox := range ow {
				var sr, sg, sb2, sa uint64
				for y := range k {
					for x := range k {
						r, g, b, a := at(sb.Min.X+ox*k+x, sb.Min.Y+oy*k+y)
						sr, sg, sb2, sa = sr+uint64(r), sg+uint64(g), sb2+uint64(b), sa+uint64(a)
					}
				}
				// Average of 16-bit values, reduced to 8 bits.
				d := uint64(n) * 0x101
				i := out.PixOffset(ox, oy)
				out.Pix[i] = uint8((sr + d/2) / d)
				out.Pix[i+1] = uint8((sg + d/2) / d)
				out.Pix[i+2] = uint8((sb2 + d/2) / d)
				out.Pix[i+3] = uint8((sa + d/2) / d)
			}
		}
	}
	return out
}

// flattenOnWhite composites premultiplied pixels over white, because the
// JPEG encoder drops alpha and transparent areas would turn black.
func flattenOnWhite(m *image.RGBA) {
	for i := 0; i < len(m.Pix); i += 4 {
		a := m.Pix[i+3]
		if a == 0xff {
			continue
		}
		// Catmull-Rom's negative lobes can leave a colour slightly above
		// its alpha, so clamp rather than let the byte wrap.
		bg := 0xff - uint16(a)
		for c := i; c < i+3; c++ {
			m.Pix[c] = uint8(min(uint16(m.Pix[c])+bg, 0xff))
		}
		m.Pix[i+3] = 0xff
	}
}
