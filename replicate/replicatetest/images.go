package replicatetest

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

type imageSpec struct {
	format string // "png" or "jpeg"
	ext    string
	w, h   int
}

func (sp imageSpec) contentType() string { return "image/" + sp.format }

// imageSpecLocked sizes the output: the long side from the resolution, the
// other from the aspect ratio; match_input_image follows the first input
// image whose size can be read, else 1:1.
func (s *Server) imageSpecLocked(in modelInput) imageSpec {
	sp := imageSpec{format: "jpeg", ext: s.cfg.JPEGExtension}
	if in.OutputFormat == "png" {
		sp.format, sp.ext = "png", "png"
	}
	long := map[string]int{"1K": 1024, "2K": 2048, "4K": 4096}[in.Resolution]
	aw, ah := 1, 1
	if in.AspectRatio == "match_input_image" {
		for _, u := range in.ImageInput {
			if w, h, ok := s.inputImageSizeLocked(u); ok {
				aw, ah = w, h
				break
			}
		}
	} else if a, b, ok := strings.Cut(in.AspectRatio, ":"); ok {
		aw, _ = strconv.Atoi(a)
		ah, _ = strconv.Atoi(b)
	}
	if aw >= ah {
		sp.w, sp.h = long, max(1, (long*ah+aw/2)/aw)
	} else {
		sp.w, sp.h = max(1, (long*aw+ah/2)/ah), long
	}
	return sp
}

// inputImageSizeLocked reads the size of a data: URL or of a file uploaded
// to this fake; any other URL is not fetched (the fake calls nothing).
func (s *Server) inputImageSizeLocked(raw string) (int, int, bool) {
	var data []byte
	if rest, ok := strings.CutPrefix(raw, "data:"); ok {
		meta, payload, _ := strings.Cut(rest, ",")
		if strings.HasSuffix(meta, ";base64") {
			b, err := base64.StdEncoding.DecodeString(payload)
			if err != nil {
				return 0, 0, false
			}
			data = b
		} else {
			p, err := url.PathUnescape(payload)
			if err != nil {
				return 0, 0, false
			}
			data = []byte(p)
		}
	} else if id, ok := strings.CutPrefix(raw, s.URL()+"/files/"); ok {
		f := s.files[id]
		if f == nil {
			return 0, 0, false
		}
		data = f.data
	} else {
		return 0, 0, false
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 {
		return 0, 0, false
	}
	return cfg.Width, cfg.Height, true
}

// imageCache keeps encoded outputs per (format, size): a 4K picture costs
// its encoding once, not once per download.
type imageCache struct {
	mu sync.Mutex
	m  map[imageSpec][]byte
}

func (c *imageCache) get(sp imageSpec) ([]byte, error) {
	key := imageSpec{format: sp.format, w: sp.w, h: sp.h}
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.m[key]; ok {
		return b, nil
	}
	b, err := renderImage(sp)
	if err != nil {
		return nil, err
	}
	if c.m == nil {
		c.m = map[imageSpec][]byte{}
	}
	c.m[key] = b
	return b, nil
}

// renderImage draws a gradient with a checker overlay: a real, recognisable
// picture that compresses well and encodes fast. Rows repeat within each
// 16-pixel band so most of the picture is built by copying.
func renderImage(sp imageSpec) ([]byte, error) {
	img := image.NewRGBA(image.Rect(0, 0, sp.w, sp.h))
	rowBytes := sp.w * 4
	for y := range sp.h {
		row := img.Pix[y*img.Stride : y*img.Stride+rowBytes]
		if y%16 != 0 {
			copy(row, img.Pix[(y-1)*img.Stride:(y-1)*img.Stride+rowBytes])
			continue
		}
		g := uint8(y * 255 / sp.h)
		for x := range sp.w {
			b := uint8(96)
			if (x/64+y/64)%2 == 0 {
				b = 192
			}
			i := x * 4
			row[i], row[i+1], row[i+2], row[i+3] = uint8(x*255/sp.w), g, b, 255
		}
	}
	// A border so the edges are visible in a viewer.
	for x := range sp.w {
		img.Set(x, 0, color.White)
		img.Set(x, sp.h-1, color.White)
	}
	var buf bytes.Buffer
	var err error
	if sp.format == "png" {
		err = (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, img)
	} else {
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80})
	}
	return buf.Bytes(), err
}
