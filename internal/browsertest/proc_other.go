//go:build !linux

package browsertest

// Elsewhere, chromedp's own cleanup is all there is.
func helpers(int) []int { return nil }
func endHelpers([]int)  {}
