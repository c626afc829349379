package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// row is one figure beside its baseline. A row with only a figure is a
// section heading.
type row struct {
	figure, value string
	// The baseline is a number and what it is the figure of.
	baseNum, baseLabel string
	ratio              string
}

// report is the one table a run prints, with a short header and notes, and
// any further tables after it.
type report struct {
	header []string
	rows   []row
	notes  []string
	tables []table
}

// table is a further table: a title, columns (those named in right are
// right-aligned: numbers) and notes under it.
type table struct {
	title  string
	header []string
	right  map[int]bool
	rows   [][]string
	notes  []string
}

func (r *report) section(title string) { r.rows = append(r.rows, row{figure: title}) }

// add appends a figure with a numeric baseline; ratio is value ÷ baseline.
// label says what the baseline is. A value that could not be measured (NaN)
// shows as n/a.
func (r *report) add(figure string, value, baseline float64, format, label string) {
	num := func(x float64) string {
		if math.IsNaN(x) {
			return "n/a"
		}
		return fmt.Sprintf(format, x)
	}
	ratio := "-"
	if baseline > 0 && !math.IsNaN(value) && !math.IsNaN(baseline) {
		ratio = fmt.Sprintf("%.2f", value/baseline)
	}
	r.rows = append(r.rows, row{figure: figure, value: num(value), baseNum: num(baseline), baseLabel: label, ratio: ratio})
}

// addText appends a figure whose value and baseline are already formatted
// (money, which is never a float here).
func (r *report) addText(figure, value, baseNum, baseLabel, ratio string) {
	r.rows = append(r.rows, row{figure: figure, value: value, baseNum: baseNum, baseLabel: baseLabel, ratio: ratio})
}

func (r *report) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// columns are the table's column names.
func columns() [4]string { return [4]string{"figure", "value", "baseline", "ratio"} }

// writeText prints the table with aligned columns; the baselines' numbers
// are aligned too, their labels after them.
func (r *report) writeText(out io.Writer) {
	runes := func(s string) int { return len([]rune(s)) }
	numWidth := 0
	for _, w := range r.rows {
		numWidth = max(numWidth, runes(w.baseNum))
	}
	cells := func(w row) [4]string {
		base := strings.Repeat(" ", numWidth-runes(w.baseNum)) + w.baseNum
		if w.baseLabel != "" {
			base += "  " + w.baseLabel
		}
		return [4]string{w.figure, w.value, base, w.ratio}
	}
	var width [4]int
	for i, c := range columns() {
		width[i] = runes(c)
	}
	for _, w := range r.rows {
		if w.value == "" {
			continue // headings may run past the first column
		}
		for i, c := range cells(w) {
			width[i] = max(width[i], runes(c))
		}
	}
	line := func(cs [4]string) {
		var b strings.Builder
		for i, c := range cs {
			pad := strings.Repeat(" ", max(width[i]-runes(c), 0))
			if i == 0 || i == 2 { // text, left-aligned
				b.WriteString(c + pad)
			} else { // numbers, right-aligned
				b.WriteString(pad + c)
			}
			if i < 3 {
				b.WriteString("  ")
			}
		}
		fmt.Fprintln(out, strings.TrimRight(b.String(), " "))
	}
	for _, h := range r.header {
		fmt.Fprintln(out, h)
	}
	fmt.Fprintln(out)
	line(columns())
	var sep [4]string
	for i := range sep {
		sep[i] = strings.Repeat("-", width[i])
	}
	line(sep)
	for _, w := range r.rows {
		if w.value == "" {
			fmt.Fprintln(out, w.figure)
			continue
		}
		line(cells(w))
	}
	if len(r.notes) > 0 {
		fmt.Fprintln(out)
		for _, n := range r.notes {
			fmt.Fprintln(out, "- "+n)
		}
	}
	for _, t := range r.tables {
		t.writeText(out)
	}
}

// writeText prints t with aligned columns.
func (t table) writeText(out io.Writer) {
	runes := func(s string) int { return len([]rune(s)) }
	width := make([]int, len(t.header))
	for i, h := range t.header {
		width[i] = runes(h)
	}
	for _, row := range t.rows {
		for i, c := range row {
			if i < len(width) {
				width[i] = max(width[i], runes(c))
			}
		}
	}
	line := func(cs []string) {
		var b strings.Builder
		for i := range width {
			c := ""
			if i < len(cs) {
				c = cs[i]
			}
			pad := strings.Repeat(" ", width[i]-runes(c))
			if t.right[i] {
				b.WriteString(pad + c)
			} else {
				b.WriteString(c + pad)
			}
			if i < len(width)-1 {
				b.WriteString("  ")
			}
		}
		fmt.Fprintln(out, strings.TrimRight(b.String(), " "))
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, t.title)
	fmt.Fprintln(out)
	line(t.header)
	sep := make([]string, len(width))
	for i, w := range width {
		sep[i] = strings.Repeat("-", w)
	}
	line(sep)
	for _, row := range t.rows {
		line(row)
	}
	if len(t.notes) > 0 {
		fmt.Fprintln(out)
		for _, n := range t.notes {
			fmt.Fprintln(out, "- "+n)
		}
	}
}

// writeMarkdown writes t as a Markdown table under a bold title.
func (t table) writeMarkdown(out io.Writer) {
	esc := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	fmt.Fprintln(out)
	fmt.Fprintf(out, "**%s**\n\n", esc(t.title))
	cells := make([]string, len(t.header))
	aligns := make([]string, len(t.header))
	for i, h := range t.header {
		cells[i] = esc(h)
		aligns[i] = "---"
		if t.right[i] {
			aligns[i] = "---:"
		}
	}
	fmt.Fprintf(out, "| %s |\n", strings.Join(cells, " | "))
	fmt.Fprintf(out, "| %s |\n", strings.Join(aligns, " | "))
	for _, row := range t.rows {
		cs := make([]string, len(t.header))
		for i := range cs {
			if i < len(row) {
				cs[i] = esc(row[i])
			}
		}
		fmt.Fprintf(out, "| %s |\n", strings.Join(cs, " | "))
	}
	if len(t.notes) > 0 {
		fmt.Fprintln(out)
		for _, n := range t.notes {
			fmt.Fprintln(out, "- "+esc(n))
		}
	}
}

// writeMarkdown writes the same table as Markdown, to paste into docs/performance.md.
func (r *report) writeMarkdown(out io.Writer) {
	esc := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	for _, h := range r.header {
		fmt.Fprintln(out, esc(h)+"  ")
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, "| figure | value | baseline | ratio |")
	fmt.Fprintln(out, "| --- | ---: | --- | ---: |")
	for _, w := range r.rows {
		if w.value == "" {
			fmt.Fprintf(out, "| **%s** | | | |\n", esc(w.figure))
			continue
		}
		base := w.baseNum
		if w.baseLabel != "" {
			base += " (" + w.baseLabel + ")"
		}
		fmt.Fprintf(out, "| %s | %s | %s | %s |\n", esc(w.figure), esc(w.value), esc(base), esc(w.ratio))
	}
	if len(r.notes) > 0 {
		fmt.Fprintln(out)
		for _, n := range r.notes {
			fmt.Fprintln(out, "- "+esc(n))
		}
	}
	for _, t := range r.tables {
		t.writeMarkdown(out)
	}
}

// median of xs; NaN when empty.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// percentile is the nearest-rank p-th percentile (0 < p ≤ 100) in
// milliseconds; NaN when empty.
func percentile(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return math.NaN()
	}
	s := slices.Sorted(slices.Values(ds))
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return float64(s[max(i, 0)]) / float64(time.Millisecond)
}

// formatAll formats each value for a note: "84.1 86.0 85.2".
func formatAll(xs []float64, format string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf(format, x)
	}
	return strings.Join(parts, " ")
}
