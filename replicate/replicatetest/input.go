package replicatetest

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// The model's schema, as documented for google/nano-banana-pro. Written out here rather
// than taken from the replicate package on purpose: the fake stands for Replicate, so a
// mistake in the client's lists must meet the documented schema, not a copy of itself.
var (
	aspectRatios  = []string{"match_input_image", "1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"}
	resolutions   = []string{"1K", "2K", "4K"}
	outputFormats = []string{"jpg", "png"}
	safetyLevels  = []string{"block_low_and_above", "block_medium_and_above", "block_only_high"}
)

const maxImageInputs = 14

type modelInput struct {
	Prompt       string
	ImageInput   []string
	AspectRatio  string
	Resolution   string
	OutputFormat string
	Safety       string
}

// validateInput checks the input object against the schema and fills
// defaults. Unknown keys are ignored, as Replicate does.
func validateInput(raw json.RawMessage) (modelInput, []invalidField) {
	in := modelInput{AspectRatio: "match_input_image", Resolution: "2K", OutputFormat: "jpg", Safety: "block_only_high"}
	var fields []invalidField
	var m map[string]json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &m) != nil || m == nil {
		return in, []invalidField{{"type", "input", "input must be an object"}}
	}
	str := func(key string, dst *string, required bool) {
		v, ok := m[key]
		if !ok || string(v) == "null" {
			if required {
				fields = append(fields, invalidField{"required", "input." + key, key + " is required"})
			}
			return
		}
		if err := json.Unmarshal(v, dst); err != nil {
			fields = append(fields, invalidField{"type", "input." + key, key + " must be a string"})
		}
	}
	str("prompt", &in.Prompt, true)
	if _, ok := m["prompt"]; ok && strings.TrimSpace(in.Prompt) == "" && len(fields) == 0 {
		fields = append(fields, invalidField{"required", "input.prompt", "prompt must not be empty"})
	}
	enum := func(key string, dst *string, allowed []string) {
		before := len(fields)
		str(key, dst, false)
		if len(fields) == before && !slices.Contains(allowed, *dst) {
			fields = append(fields, invalidField{"enum", "input." + key,
				fmt.Sprintf("%s must be one of the following: %s", key, quoteAll(allowed))})
		}
	}
	enum("aspect_ratio", &in.AspectRatio, aspectRatios)
	enum("resolution", &in.Resolution, resolutions)
	enum("output_format", &in.OutputFormat, outputFormats)
	enum("safety_filter_level", &in.Safety, safetyLevels)
	if v, ok := m["image_input"]; ok && string(v) != "null" {
		if err := json.Unmarshal(v, &in.ImageInput); err != nil {
			fields = append(fields, invalidField{"type", "input.image_input", "image_input must be an array of URI strings"})
		} else {
			if len(in.ImageInput) > maxImageInputs {
				fields = append(fields, invalidField{"max_items", "input.image_input",
					fmt.Sprintf("image_input must have at most %d items", maxImageInputs)})
			}
			for i, s := range in.ImageInput {
				if !validImageURI(s) {
					fields = append(fields, invalidField{"format", fmt.Sprintf("input.image_input.%d", i),
						"must be an http(s) URL or a data: URL"})
				}
			}
		}
	}
	return in, fields
}

func validImageURI(s string) bool {
	if strings.HasPrefix(s, "data:") {
		_, _, ok := strings.Cut(s, ",")
		return ok
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func quoteAll(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = `"` + v + `"`
	}
	return strings.Join(q, ", ")
}
