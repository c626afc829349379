// Package templates embeds the publisher's HTML templates and stylesheet, so
// the binary serves its pages with no files beside it.
package templates

import "embed"

// FS holds layout.html, the page templates and style.css.
//
//go:embed *.html *.css
var FS embed.FS
