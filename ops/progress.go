package ops

import (
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// progressLogEvery is how often the plain (non-terminal) reporter logs.
const progressLogEvery = 5 * time.Second

// progressDrawEvery is how often the terminal reporter redraws its bars.
const progressDrawEvery = 250 * time.Millisecond

// progressIdle hides a table's bar once it has not moved for this long (its
// copy is finished, or waiting on a slow chunk).
const progressIdle = 10 * time.Second

// progressLevel is how much a progress line shows. The names are Symfony's
// progress bar formats, which Magento's progress_bar_format uses:
//
//	normal        rows, estimated total rows, percent, rows_per_second, eta
//	verbose       normal + elapsed
//	very_verbose  verbose + estimated (expected total duration)
//	debug         very_verbose + memory (Go heap in use)
//
// The "_nomax" variants map to the same levels. A custom Symfony format string
// (anything with %placeholder%, like Magento's stock
// "%percent%% [%bar%] Remaining Time: %remaining%") is normal plus the fields
// its placeholders name (%elapsed%, %estimated%, %memory%). Anything else is
// normal, with one warning.
type progressLevel int

const (
	progressNormal progressLevel = iota
	progressVerbose
	progressVeryVerbose
	progressDebug
)

// progressFields are the optional fields a progress line shows.
type progressFields struct {
	Elapsed   bool
	Estimated bool
	Memory    bool
}

// parseProgressFormat maps a progress_bar_format value to the fields shown;
// ok is false when the value was not understood (the caller warns).
func parseProgressFormat(s string) (progressFields, bool) {
	name := strings.ToLower(strings.TrimSpace(s))
	name = strings.TrimSuffix(name, "_nomax")
	level := progressNormal
	switch name {
	case "", "normal":
	case "verbose":
		level = progressVerbose
	case "very_verbose":
		level = progressVeryVerbose
	case "debug":
		level = progressDebug
	default:
		if !strings.Contains(s, "%") {
			return progressFields{}, false
		}
		// A custom Symfony format: show what its placeholders ask for.
		return progressFields{
			Elapsed:   strings.Contains(s, "%elapsed"),
			Estimated: strings.Contains(s, "%estimated"),
			Memory:    strings.Contains(s, "%memory"),
		}, true
	}
	return progressFields{
		Elapsed:   level >= progressVerbose,
		Estimated: level >= progressVeryVerbose,
		Memory:    level >= progressDebug,
	}, true
}

// tableProgress is what the reporter knows about one table.
type tableProgress struct {
	name     string
	estimate int64 // information_schema estimate (0 = unknown), raised to rows
	rows     int64
	done     bool // finished before this run
	// base is the first observation this run: rate = (rows-baseRows)/(last-baseAt).
	baseRows int64
	baseAt   time.Time
	last     time.Time
	logged   int64 // rows at the last plain log line
	seen     bool
}

// Progress turns the Copier's Progress callbacks into bars on a
// terminal or periodic log lines elsewhere. Update is safe for concurrent use.
type Progress struct {
	log    *slog.Logger
	fields progressFields
	now    func() time.Time
	gauge  *prometheus.GaugeVec // shiplog_snapshot_rows{table}; nil = none

	// tty: bars drawn to out; otherwise log lines through log.
	tty bool
	out io.Writer

	mu        sync.Mutex
	tables    map[string]*tableProgress
	start     time.Time
	baseRows  int64 // rows already copied before this run
	lastLog   time.Time
	drawnRows int // lines of the last drawing, to overwrite
	stop      chan struct{}
	stopped   chan struct{}
}

// NewProgress builds a reporter; format is progress_bar_format. It
// draws bars when tty is set, otherwise logs.
func NewProgress(log *slog.Logger, format string, tty bool, out io.Writer, now func() time.Time) *Progress {
	if now == nil {
		now = time.Now
	}
	f, ok := parseProgressFormat(format)
	if !ok {
		log.Warn("unknown progress_bar_format; using \"normal\" (normal, verbose, very_verbose, debug)", "stage", "data", "progress_bar_format", format)
	}
	start := now()
	return &Progress{log: log, fields: f, now: now, tty: tty, out: out, tables: map[string]*tableProgress{}, start: start, lastLog: start}
}

func (p *Progress) table(name string) *tableProgress {
	t := p.tables[name]
	if t == nil {
		t = &tableProgress{name: name}
		p.tables[name] = t
	}
	return t
}

// Estimate records a table's expected row count (information_schema.TABLES).
func (p *Progress) Estimate(table string, rows int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.table(table).estimate = max(rows, 0)
}

// Resumed records rows a table already had copied before this run; done
// marks a table finished before it.
func (p *Progress) Resumed(table string, rows int64, done bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.table(table)
	t.rows, t.logged, t.done = rows, rows, done
	if done {
		t.estimate = rows
	}
	p.baseRows += rows
}

// Update is the Copier's Progress callback: rows copied so far of table.
func (p *Progress) Update(table string, rows int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	t := p.table(table)
	if !t.seen {
		t.seen, t.baseRows, t.baseAt = true, t.rows, p.start
		if t.rows > 0 {
			// A resumed table: its clock starts at its first chunk this run.
			t.baseAt = now
		}
	}
	t.rows, t.last = rows, now
	t.estimate = max(t.estimate, rows)
	if p.gauge != nil {
		p.gauge.WithLabelValues(table).Set(float64(rows))
	}
	if !p.tty && now.Sub(p.lastLog) >= progressLogEvery {
		p.logLocked(now)
	}
}

// rate is rows per second since base, and the time left to reach estimate
// (-1 when unknown).
func rateETA(rows, baseRows, estimate int64, since time.Duration) (float64, time.Duration) {
	if since <= 0 || rows <= baseRows {
		return 0, -1
	}
	rate := float64(rows-baseRows) / since.Seconds()
	if estimate <= 0 {
		return rate, -1
	}
	left := max(estimate-rows, 0)
	return rate, time.Duration(float64(left) / rate * float64(time.Second)).Round(time.Second)
}

func fmtETA(d time.Duration) string {
	if d < 0 {
		return "unknown"
	}
	return d.String()
}

func percent(rows, estimate int64) int {
	if estimate <= 0 {
		return 0
	}
	return int(min(100*rows/estimate, 100))
}

// totals are the overall rows, estimate and rate.
func (p *Progress) totals(now time.Time) (rows, estimate int64, rate float64, eta time.Duration) {
	for _, t := range p.tables {
		rows += t.rows
		estimate += max(t.estimate, t.rows)
	}
	rate, eta = rateETA(rows, p.baseRows, estimate, now.Sub(p.start))
	return
}

// extra appends the format-dependent fields.
func (p *Progress) extra(args []any, elapsed, eta time.Duration) []any {
	if p.fields.Elapsed {
		args = append(args, "elapsed", elapsed.Round(time.Second).String())
	}
	if p.fields.Estimated {
		est := "unknown"
		if eta >= 0 {
			est = (elapsed + eta).Round(time.Second).String()
		}
		args = append(args, "estimated", est)
	}
	if p.fields.Memory {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		args = append(args, "memory_mib", ms.HeapInuse>>20)
	}
	return args
}

func (p *Progress) sorted() []*tableProgress {
	ts := make([]*tableProgress, 0, len(p.tables))
	for _, t := range p.tables {
		ts = append(ts, t)
	}
	slices.SortFunc(ts, func(a, b *tableProgress) int { return strings.Compare(a.name, b.name) })
	return ts
}

// logLocked writes one line per table that moved since the last one, and an
// overall line.
func (p *Progress) logLocked(now time.Time) {
	p.lastLog = now
	for _, t := range p.sorted() {
		if !t.seen || t.rows == t.logged {
			continue
		}
		t.logged = t.rows
		rate, eta := rateETA(t.rows, t.baseRows, t.estimate, now.Sub(t.baseAt))
		args := []any{"stage", "data", "step", "progress", "table", t.name, "rows", t.rows, "estimated_rows", t.estimate,
			"percent", percent(t.rows, t.estimate), "rows_per_second", int64(rate), "eta", fmtETA(eta)}
		p.log.Info("copying", p.extra(args, now.Sub(t.baseAt), eta)...)
	}
	rows, est, rate, eta := p.totals(now)
	args := []any{"stage", "data", "step", "progress_total", "rows", rows, "estimated_rows", est,
		"percent", percent(rows, est), "rows_per_second", int64(rate), "eta", fmtETA(eta)}
	p.log.Info("copying", p.extra(args, now.Sub(p.start), eta)...)
}

// Start begins redrawing bars (terminal mode only).
func (p *Progress) Start() {
	if !p.tty {
		return
	}
	p.stop, p.stopped = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.stopped)
		tk := time.NewTicker(progressDrawEvery)
		defer tk.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-tk.C:
				p.mu.Lock()
				p.drawLocked(p.now(), false)
				p.mu.Unlock()
			}
		}
	}()
}

// Stop ends the bars and writes one final line per table copied this run.
func (p *Progress) Stop() {
	if p.stop != nil {
		close(p.stop)
		<-p.stopped
		p.stop = nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if p.tty {
		p.drawLocked(now, true)
	}
	for _, t := range p.sorted() {
		if !t.seen {
			continue
		}
		elapsed := t.last.Sub(t.baseAt)
		rate, _ := rateETA(t.rows, t.baseRows, 0, elapsed)
		p.log.Info("table copied", "stage", "data", "step", "progress_done", "table", t.name, "rows", t.rows,
			"rows_per_second", int64(rate), "seconds", elapsed.Round(time.Second).Seconds())
	}
}

// bar renders a fixed-width bar.
func bar(pct, width int) string {
	n := pct * width / 100
	return "[" + strings.Repeat("=", n) + strings.Repeat(" ", width-n) + "]"
}

func (p *Progress) line(name string, rows, est int64, rate float64, elapsed, eta time.Duration) string {
	pct := percent(rows, est)
	var b strings.Builder
	fmt.Fprintf(&b, "%-32.32s %s %3d%% %d/%d rows %d rows/s ETA %s", name, bar(pct, 24), pct, rows, est, int64(rate), fmtETA(eta))
	if p.fields.Elapsed {
		fmt.Fprintf(&b, " elapsed %s", elapsed.Round(time.Second))
	}
	if p.fields.Estimated && eta >= 0 {
		fmt.Fprintf(&b, " estimated %s", (elapsed + eta).Round(time.Second))
	}
	if p.fields.Memory {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Fprintf(&b, " mem %dMiB", ms.HeapInuse>>20)
	}
	return b.String()
}

// drawLocked redraws the bars of the tables being copied plus the overall one
// over the previous drawing; final leaves only the overall bar.
func (p *Progress) drawLocked(now time.Time, final bool) {
	var lines []string
	if !final {
		for _, t := range p.sorted() {
			if !t.seen || t.done || now.Sub(t.last) > progressIdle || (t.estimate > 0 && t.rows >= t.estimate && now.Sub(t.last) > progressDrawEvery*4) {
				continue
			}
			rate, eta := rateETA(t.rows, t.baseRows, t.estimate, now.Sub(t.baseAt))
			lines = append(lines, p.line(t.name, t.rows, t.estimate, rate, now.Sub(t.baseAt), eta))
		}
	}
	rows, est, rate, eta := p.totals(now)
	lines = append(lines, p.line("total", rows, est, rate, now.Sub(p.start), eta))
	var b strings.Builder
	if p.drawnRows > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.drawnRows) // up to the first line drawn
	}
	b.WriteString("\x1b[J") // clear to the end of the screen
	for _, l := range lines {
		b.WriteString(l)
		b.WriteString("\n")
	}
	p.drawnRows = len(lines)
	if final {
		p.drawnRows = 0
	}
	_, _ = io.WriteString(p.out, b.String())
}

// SetGauge makes Update set g (shiplog_snapshot_rows{table}); call it before
// the copy starts. nil: no gauge.
func (p *Progress) SetGauge(g *prometheus.GaugeVec) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gauge = g
}
