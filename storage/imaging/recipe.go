package imaging

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"hash/crc32"
	"io"
	"sync"
)

// Recipe is what a downloaded image carries of how it was made: the same facts twice,
// for people and for programs.
type Recipe struct {
	// Text is for people: the prompt, then the settings, one line ("parameters", the
	// keyword other image tools read).
	Text string
	// JSON is for programs: the settings as an object ("nanobanana").
	JSON []byte
}

// RecipeKeyword and RecipeJSONKeyword name the recipe's two PNG text chunks; the JPEG
// comment holds the JSON, the XMP packet both.
const (
	RecipeKeyword     = "parameters"
	RecipeJSONKeyword = "nanobanana"
)

// maxSegment is the most a JPEG segment holds after its two length bytes.
const maxSegment = 0xFFFF - 2

// xmpNamespace opens an XMP APP1 segment (Adobe's XMP specification, part 3).
const xmpNamespace = "http://ns.adobe.com/xap/1.0/\x00"

// WriteWithRecipe copies the image read from r to w with rc inserted as metadata, and
// nothing else changed: the pixels are not decoded or re-encoded.
//
//   - PNG: two iTXt chunks (UTF-8), RecipeKeyword with rc.Text and RecipeJSONKeyword
//     with rc.JSON, just before IEND; the file is walked chunk by chunk.
//   - JPEG: a COM segment with rc.JSON and an XMP APP1 packet (dc:description is the
//     text, nanobanana:recipe the JSON), after SOI and the JFIF APP0 when there is one.
//
// Only the file's head (PNG: one chunk header at a time) is held: the rest is copied
// as it is read. When the file is not what its type says (truncated, a bad chunk, not
// an image at all) or the recipe does not fit, the bytes are copied unchanged and
// embedded is false: the download is then the plain file. err is a read or write error.
func WriteWithRecipe(w io.Writer, r io.Reader, contentType string, rc Recipe) (embedded bool, err error) {
	br := readers.Get().(*bufio.Reader)
	br.Reset(r)
	defer func() { br.Reset(nil); readers.Put(br) }()
	switch contentType {
	case "image/png":
		embedded, err = pngRecipe(w, br, rc)
	case "image/jpeg":
		embedded, err = jpegRecipe(w, br, rc)
	}
	if err != nil {
		return false, err
	}
	// What is left (all of it when nothing was inserted) goes out as it is.
	if _, err := br.WriteTo(w); err != nil {
		return false, err
	}
	return embedded, nil
}

// readers are the read buffers of WriteWithRecipe, reused: a zip of many images would
// otherwise make one per entry for the collector.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 32<<10) }}

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// pngRecipe copies the PNG's chunks up to IEND and writes the text chunks before it.
// It stops at the first thing that is not a well-formed chunk header, having copied
// only whole chunks: the caller copies the rest.
func pngRecipe(w io.Writer, br *bufio.Reader, rc Recipe) (bool, error) {
	if sig, err := br.Peek(len(pngSignature)); err != nil || !bytes.Equal(sig, pngSignature) {
		return false, nil
	}
	if _, err := w.Write(pngSignature); err != nil {
		return false, err
	}
	_, _ = br.Discard(len(pngSignature))
	for {
		hdr, err := br.Peek(8)
		if err != nil {
			return false, nil
		}
		length := binary.BigEndian.Uint32(hdr[:4])
		typ := hdr[4:8]
		if length > 1<<31-1 || !chunkType(typ) {
			return false, nil
		}
		if string(typ) == "IEND" {
			if length != 0 {
				return false, nil
			}
			var buf []byte
			buf = appendITXt(buf, RecipeKeyword, []byte(rc.Text))
			buf = appendITXt(buf, RecipeJSONKeyword, rc.JSON)
			if _, err := w.Write(buf); err != nil {
				return false, err
			}
			return true, nil
		}
		// The whole chunk: header, data, CRC. A file cut short here stops the walk
		// with all it had copied, which is the file itself.
		short, err := copyN(w, br, 12+int64(length))
		if err != nil {
			return false, err
		}
		if short {
			return false, nil
		}
	}
}

// copyN copies n bytes from br to w through br's own buffer (io.CopyN would allocate
// one per call, and a PNG has a chunk every few KB). short: the input ended first.
func copyN(w io.Writer, br *bufio.Reader, n int64) (short bool, err error) {
	for n > 0 {
		b, perr := br.Peek(int(min(n, int64(br.Size()))))
		if len(b) > 0 {
			if _, err := w.Write(b); err != nil {
				return false, err
			}
			_, _ = br.Discard(len(b))
			n -= int64(len(b))
		}
		switch {
		case perr == nil, errors.Is(perr, bufio.ErrBufferFull):
		case errors.Is(perr, io.EOF):
			return n > 0, nil
		default:
			return false, perr
		}
	}
	return false, nil
}

// chunkType: a PNG chunk type is four ASCII letters.
func chunkType(t []byte) bool {
	for _, c := range t {
		if (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') {
			return false
		}
	}
	return true
}

// appendITXt appends an uncompressed iTXt chunk (PNG 1.2, 11.3.4.5) with no language tag.
func appendITXt(b []byte, keyword string, text []byte) []byte {
	data := make([]byte, 0, len(keyword)+5+len(text))
	data = append(data, keyword...)
	data = append(data, 0, 0, 0) // keyword end, not compressed, compression method
	data = append(data, 0, 0)    // empty language tag, empty translated keyword
	data = append(data, text...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	start := len(b)
	b = append(b, "iTXt"...)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:]))
}

// jpegRecipe copies SOI (and the JFIF APP0 right after it, which must stay first) and
// writes the comment and the XMP packet after them.
func jpegRecipe(w io.Writer, br *bufio.Reader, rc Recipe) (bool, error) {
	head, err := br.Peek(4)
	if err != nil || head[0] != 0xFF || head[1] != 0xD8 || head[2] != 0xFF {
		return false, nil
	}
	keep := 2
	if head[3] == 0xE0 { // APP0: keep it before ours
		seg, err := br.Peek(6)
		if err != nil {
			return false, nil
		}
		n := int(binary.BigEndian.Uint16(seg[4:6]))
		if n < 2 {
			return false, nil
		}
		if _, err := br.Peek(4 + n); err != nil {
			return false, nil
		}
		keep = 4 + n
	}
	com := rc.JSON
	xmp := xmpPacket(rc)
	if len(com) > maxSegment || len(xmpNamespace)+len(xmp) > maxSegment {
		return false, nil
	}
	// A JPEG with a second SOI-like start or garbage after the kept part is still
	// copied as it is: only the head is looked at.
	buf := make([]byte, 0, keep+8+len(com)+len(xmpNamespace)+len(xmp))
	h, _ := br.Peek(keep)
	buf = append(buf, h...)
	buf = append(buf, 0xFF, 0xFE)
	buf = binary.BigEndian.AppendUint16(buf, uint16(2+len(com)))
	buf = append(buf, com...)
	buf = append(buf, 0xFF, 0xE1)
	buf = binary.BigEndian.AppendUint16(buf, uint16(2+len(xmpNamespace)+len(xmp)))
	buf = append(buf, xmpNamespace...)
	buf = append(buf, xmp...)
	if _, err := w.Write(buf); err != nil {
		return false, err
	}
	_, _ = br.Discard(keep)
	return true, nil
}

// xmpPacket is a minimal XMP packet: the prompt and settings as dc:description, the
// JSON as nanobanana:recipe.
func xmpPacket(rc Recipe) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xpacket begin="` + "\uFEFF" + `" id="W5M0MpCehiHzreSzNTczkc9d"?>` +
		`<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">` +
		`<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:nanobanana="urn:nanobanana:xmp:1/">` +
		`<dc:description><rdf:Alt><rdf:li xml:lang="x-default">`)
	_ = xml.EscapeText(&b, []byte(rc.Text))
	b.WriteString(`</rdf:li></rdf:Alt></dc:description><nanobanana:recipe>`)
	_ = xml.EscapeText(&b, rc.JSON)
	b.WriteString(`</nanobanana:recipe></rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="r"?>`)
	return b.Bytes()
}
