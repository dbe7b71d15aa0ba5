package imaging

import (
	"encoding/binary"
	"image"
	"image/draw"
)

// EXIF orientation: how the stored pixels must be turned to be seen upright, as a camera
// records it (TIFF tag 0x0112). 1 is upright; 2-4 are mirrors and a half turn; 5-8 swap
// width and height. A phone held upright usually writes 6: its sensor's rows run down
// the picture, and a viewer turns it a quarter clockwise.
const (
	orientUpright = 1
	orientMax     = 8
)

// jpegOrientation finds the orientation in the EXIF APP1 segment of a JPEG's first
// bytes (EXIF must come right after SOI or JFIF's APP0, so the first 64 KB of segments
// hold it). 1 when there is none or it cannot be read.
func jpegOrientation(b []byte) int {
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return orientUpright
	}
	for p := 2; p+4 <= len(b); {
		if b[p] != 0xFF {
			return orientUpright
		}
		m := b[p+1]
		switch {
		case m == 0xFF: // fill byte before a marker
			p++
			continue
		case m == 0x01 || (m >= 0xD0 && m <= 0xD7): // markers without a length
			p += 2
			continue
		case m == 0xDA || m == 0xD9: // start of scan, end of image: no EXIF before them
			return orientUpright
		}
		n := int(binary.BigEndian.Uint16(b[p+2:]))
		if n < 2 {
			return orientUpright
		}
		end := p + 2 + n
		if m == 0xE1 && end <= len(b) {
			if seg := b[p+4 : end]; len(seg) >= 6 && string(seg[:6]) == "Exif\x00\x00" {
				return tiffOrientation(seg[6:])
			}
		}
		p = end
	}
	return orientUpright
}

// pngOrientation finds the orientation in an eXIf chunk of a PNG's first bytes (the
// chunk must precede the image data). 1 when there is none.
func pngOrientation(b []byte) int {
	if len(b) < 8 || string(b[:8]) != "\x89PNG\r\n\x1a\n" {
		return orientUpright
	}
	for p := 8; p+8 <= len(b); {
		n := int(binary.BigEndian.Uint32(b[p:]))
		typ := string(b[p+4 : p+8])
		if typ == "IDAT" || n > len(b) {
			return orientUpright
		}
		end := p + 8 + n
		if typ == "eXIf" && end <= len(b) {
			return tiffOrientation(b[p+8 : end])
		}
		p = end + 4 // and the CRC
	}
	return orientUpright
}

// tiffOrientation reads tag 0x0112 of the first directory (IFD0) of the TIFF structure
// EXIF is written in. Every offset is checked against b; anything out of place, or a
// value outside 1-8, reads as upright.
func tiffOrientation(b []byte) int {
	if len(b) < 8 {
		return orientUpright
	}
	var bo binary.ByteOrder
	switch string(b[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return orientUpright
	}
	if bo.Uint16(b[2:]) != 42 {
		return orientUpright
	}
	off := uint64(bo.Uint32(b[4:]))
	if off < 8 || off+2 > uint64(len(b)) {
		return orientUpright
	}
	entries := int(bo.Uint16(b[off:]))
	for i := range entries {
		e := int(off) + 2 + 12*i
		if e+12 > len(b) {
			return orientUpright
		}
		if bo.Uint16(b[e:]) != 0x0112 {
			continue
		}
		var v uint32
		switch typ, count := bo.Uint16(b[e+2:]), bo.Uint32(b[e+4:]); {
		case count != 1:
			return orientUpright
		case typ == 3: // SHORT, as the standard says
			v = uint32(bo.Uint16(b[e+8:]))
		case typ == 4: // LONG, which a few writers use
			v = bo.Uint32(b[e+8:])
		default:
			return orientUpright
		}
		if v < orientUpright || v > orientMax {
			return orientUpright
		}
		return int(v)
	}
	return orientUpright
}

// orient returns img turned upright for orientation o (2-8): a new image of the same
// layout (YCbCr stays YCbCr, with its chroma planes turned too, so a phone photo costs
// one more buffer of its decoded size, not an RGBA one four times the pixels). Rare
// layouts are drawn into NRGBA first.
func orient(img image.Image, o int) image.Image {
	if o <= orientUpright || o > orientMax {
		return img
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	ob := image.Rect(0, 0, w, h)
	if o >= 5 {
		ob = image.Rect(0, 0, h, w)
	}
	switch m := img.(type) {
	case *image.YCbCr:
		ratio, ok := turnedRatio(m.SubsampleRatio, o)
		if !ok {
			break
		}
		out := image.NewYCbCr(ob, ratio)
		turnPlane(out.Y, out.YStride, m.Y[m.YOffset(b.Min.X, b.Min.Y):], m.YStride, w, h, 1, o)
		cw, ch := chromaSize(w, h, m.SubsampleRatio)
		ci := m.COffset(b.Min.X, b.Min.Y)
		turnPlane(out.Cb, out.CStride, m.Cb[ci:], m.CStride, cw, ch, 1, o)
		turnPlane(out.Cr, out.CStride, m.Cr[ci:], m.CStride, cw, ch, 1, o)
		return out
	case *image.NYCbCrA:
		ratio, ok := turnedRatio(m.SubsampleRatio, o)
		if !ok {
			break
		}
		out := image.NewNYCbCrA(ob, ratio)
		turnPlane(out.Y, out.YStride, m.Y[m.YOffset(b.Min.X, b.Min.Y):], m.YStride, w, h, 1, o)
		turnPlane(out.A, out.AStride, m.A[m.AOffset(b.Min.X, b.Min.Y):], m.AStride, w, h, 1, o)
		cw, ch := chromaSize(w, h, m.SubsampleRatio)
		ci := m.COffset(b.Min.X, b.Min.Y)
		turnPlane(out.Cb, out.CStride, m.Cb[ci:], m.CStride, cw, ch, 1, o)
		turnPlane(out.Cr, out.CStride, m.Cr[ci:], m.CStride, cw, ch, 1, o)
		return out
	case *image.Gray:
		out := image.NewGray(ob)
		turnPlane(out.Pix, out.Stride, m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, w, h, 1, o)
		return out
	case *image.Gray16:
		out := image.NewGray16(ob)
		turnPlane(out.Pix, out.Stride, m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, w, h, 2, o)
		return out
	case *image.Paletted:
		out := image.NewPaletted(ob, m.Palette)
		turnPlane(out.Pix, out.Stride, m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, w, h, 1, o)
		return out
	case *image.RGBA:
		out := image.NewRGBA(ob)
		turnPlane(out.Pix, out.Stride, m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, w, h, 4, o)
		return out
	case *image.NRGBA:
		out := image.NewNRGBA(ob)
		turnPlane(out.Pix, out.Stride, m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, w, h, 4, o)
		return out
	case *image.RGBA64:
		out := image.NewRGBA64(ob)
		turnPlane(out.Pix, out.Stride, m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, w, h, 8, o)
		return out
	case *image.NRGBA64:
		out := image.NewNRGBA64(ob)
		turnPlane(out.Pix, out.Stride, m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, w, h, 8, o)
		return out
	case *image.CMYK:
		out := image.NewCMYK(ob)
		turnPlane(out.Pix, out.Stride, m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], m.Stride, w, h, 4, o)
		return out
	}
	n := image.NewNRGBA(image.Rect(0, 0, w, h))
	draw.Draw(n, n.Bounds(), img, b.Min, draw.Src)
	return orient(n, o)
}

// turnedRatio is the chroma subsampling of a YCbCr image turned by o: a quarter turn
// swaps the horizontal and vertical factors. 4:1:1 and 4:1:0 turned have no Go layout.
func turnedRatio(r image.YCbCrSubsampleRatio, o int) (image.YCbCrSubsampleRatio, bool) {
	if o < 5 {
		return r, true
	}
	switch r {
	case image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio420:
		return r, true
	case image.YCbCrSubsampleRatio422:
		return image.YCbCrSubsampleRatio440, true
	case image.YCbCrSubsampleRatio440:
		return image.YCbCrSubsampleRatio422, true
	}
	return r, false
}

// chromaSize is the size of the chroma planes of a w×h YCbCr image (as image.NewYCbCr
// lays them out for a rectangle at the origin).
func chromaSize(w, h int, r image.YCbCrSubsampleRatio) (int, int) {
	switch r {
	case image.YCbCrSubsampleRatio422:
		return (w + 1) / 2, h
	case image.YCbCrSubsampleRatio420:
		return (w + 1) / 2, (h + 1) / 2
	case image.YCbCrSubsampleRatio440:
		return w, (h + 1) / 2
	case image.YCbCrSubsampleRatio411:
		return (w + 3) / 4, h
	case image.YCbCrSubsampleRatio410:
		return (w + 3) / 4, (h + 1) / 2
	}
	return w, h
}

// turnPlane writes into dst (stride dstStride) the w×h plane src (stride srcStride,
// bpp bytes a sample) turned by orientation o; dst is h×w for o >= 5.
func turnPlane(dst []byte, dstStride int, src []byte, srcStride, w, h, bpp, o int) {
	ow, oh := w, h
	if o >= 5 {
		ow, oh = h, w
	}
	for y := range oh {
		row := dst[y*dstStride : y*dstStride+ow*bpp]
		for x := range ow {
			sx, sy := sourceOf(o, x, y, w, h)
			s := sy*srcStride + sx*bpp
			copy(row[x*bpp:x*bpp+bpp], src[s:s+bpp])
		}
	}
}

// sourceOf is the pixel of the stored w×h image shown at (x, y) of the upright one.
func sourceOf(o, x, y, w, h int) (int, int) {
	switch o {
	case 2: // mirrored left to right
		return w - 1 - x, y
	case 3: // upside down
		return w - 1 - x, h - 1 - y
	case 4: // mirrored top to bottom
		return x, h - 1 - y
	case 5: // mirrored along the main diagonal
		return y, x
	case 6: // turned a quarter counterclockwise: shown a quarter clockwise
		return y, h - 1 - x
	case 7: // mirrored along the other diagonal
		return w - 1 - y, h - 1 - x
	case 8: // turned a quarter clockwise: shown a quarter counterclockwise
		return w - 1 - y, x
	}
	return x, y
}
