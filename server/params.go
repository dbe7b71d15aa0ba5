package server

import (
	"nanobanana/db"
	"nanobanana/replicate"
)

// The model's choices, in the order a form shows them: the replicate package holds the
// model's schema (REPLICATE.md); these are the names the handlers and /meta use.
var (
	resolutions     = replicate.Resolutions
	aspectRatios    = replicate.AspectRatios
	outputFormats   = replicate.OutputFormats
	safetyLevels    = replicate.SafetyLevels
	generationModes = []string{db.ModeTextToImage, db.ModeImageToImage}
)

const maxReferenceImages = replicate.MaxImageInputs
