package server

// The model's choices (REPLICATE.md), in the order a form shows them.
var (
	resolutions     = []string{"1K", "2K", "4K"}
	aspectRatios    = []string{"match_input_image", "1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"}
	outputFormats   = []string{"jpg", "png"}
	safetyLevels    = []string{"block_low_and_above", "block_medium_and_above", "block_only_high"}
	generationModes = []string{"text-to-image", "image-to-image"}
)

const maxReferenceImages = 14
