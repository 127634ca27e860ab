package ops

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// plainLog returns a logger writing text lines without the time attribute.
func plainLog(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})).With("mode", "data")
}

func lines(buf *bytes.Buffer) []string {
	s := strings.TrimSpace(buf.String())
	buf.Reset()
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestProgressPlainLines(t *testing.T) {
	var buf bytes.Buffer
	clk := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	p := NewProgress(plainLog(&buf), "normal", false, nil, clk.now)
	p.Estimate("sales_order", 10000)
	p.Estimate("catalog_product_entity", 0) // unknown estimate
	p.Resumed("customer_entity", 500, true)
	p.Start()

	// Updates within the first 5 s log nothing.
	clk.advance(2 * time.Second)
	p.Update("sales_order", 1000)
	if got := lines(&buf); got != nil {
		t.Fatalf("logged before 5 s: %q", got)
	}

	// At 5 s: 2500 rows in 5 s = 500 rows/s, 7500 left = 15 s.
	clk.advance(3 * time.Second)
	p.Update("sales_order", 2500)
	want := []string{
		`level=INFO msg=copying mode=data stage=data step=progress table=sales_order rows=2500 estimated_rows=10000 percent=25 rows_per_second=500 eta=15s`,
		`level=INFO msg=copying mode=data stage=data step=progress_total rows=3000 estimated_rows=10500 percent=28 rows_per_second=500 eta=15s`,
	}
	if got := lines(&buf); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("lines at 5 s:\n got %q\nwant %q", got, want)
	}

	// 4 s later: throttled, nothing.
	clk.advance(4 * time.Second)
	p.Update("catalog_product_entity", 900)
	if got := lines(&buf); got != nil {
		t.Fatalf("logged within 5 s of the last line: %q", got)
	}

	// At 10 s: sales_order did not move, so only the other table and the total.
	// catalog_product_entity has no estimate: it is raised to the rows seen, so
	// the table reads 100% with eta 0s; its rate counts from the start.
	clk.advance(1 * time.Second)
	p.Update("catalog_product_entity", 1800)
	want = []string{
		`level=INFO msg=copying mode=data stage=data step=progress table=catalog_product_entity rows=1800 estimated_rows=1800 percent=100 rows_per_second=180 eta=0s`,
		`level=INFO msg=copying mode=data stage=data step=progress_total rows=4800 estimated_rows=12300 percent=39 rows_per_second=430 eta=17s`,
	}
	if got := lines(&buf); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("lines at 10 s:\n got %q\nwant %q", got, want)
	}

	// The end: one line per table copied this run.
	clk.advance(10 * time.Second)
	p.Update("sales_order", 10000)
	buf.Reset()
	p.Stop()
	want = []string{
		`level=INFO msg="table copied" mode=data stage=data step=progress_done table=catalog_product_entity rows=1800 rows_per_second=180 seconds=10`,
		`level=INFO msg="table copied" mode=data stage=data step=progress_done table=sales_order rows=10000 rows_per_second=500 seconds=20`,
	}
	if got := lines(&buf); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("final lines:\n got %q\nwant %q", got, want)
	}
}

func TestProgressFormatFields(t *testing.T) {
	for _, c := range []struct {
		format string
		want   progressFields
		ok     bool
	}{
		{"", progressFields{}, true},
		{"normal", progressFields{}, true},
		{"normal_nomax", progressFields{}, true},
		{"verbose", progressFields{Elapsed: true}, true},
		{"very_verbose", progressFields{Elapsed: true, Estimated: true}, true},
		{"debug", progressFields{Elapsed: true, Estimated: true, Memory: true}, true},
		{"DEBUG_NOMAX", progressFields{Elapsed: true, Estimated: true, Memory: true}, true},
		// Magento's stock value is a custom Symfony format string.
		{"%percent%% [%bar%] Remaining Time: %remaining%", progressFields{}, true},
		{"%current% %elapsed:6s%/%estimated:-6s% %memory:6s%", progressFields{Elapsed: true, Estimated: true, Memory: true}, true},
		{"fancy", progressFields{}, false},
	} {
		got, ok := parseProgressFormat(c.format)
		if got != c.want || ok != c.ok {
			t.Errorf("parseProgressFormat(%q) = %+v, %v; want %+v, %v", c.format, got, ok, c.want, c.ok)
		}
	}
}

func TestProgressFormatShownFields(t *testing.T) {
	for _, c := range []struct {
		format   string
		has, not []string
		warn     bool
	}{
		{"normal", []string{"rows_per_second=", "eta="}, []string{"elapsed=", "estimated=", "memory_mib="}, false},
		{"verbose", []string{"elapsed=10s"}, []string{"estimated=", "memory_mib="}, false},
		{"very_verbose", []string{"elapsed=10s", "estimated=20s"}, []string{"memory_mib="}, false},
		{"debug", []string{"elapsed=10s", "estimated=20s", "memory_mib="}, nil, false},
		{"bogus", []string{"eta=10s"}, []string{"elapsed="}, true},
	} {
		var buf bytes.Buffer
		clk := &fakeClock{t: time.Unix(0, 0)}
		p := NewProgress(plainLog(&buf), c.format, false, nil, clk.now)
		warned := strings.Contains(buf.String(), "level=WARN")
		if warned != c.warn {
			t.Errorf("%s: warned = %v, want %v (%q)", c.format, warned, c.warn, buf.String())
		}
		if strings.Count(buf.String(), "level=WARN") > 1 {
			t.Errorf("%s: more than one warning", c.format)
		}
		buf.Reset()
		p.Estimate("t", 200)
		clk.advance(10 * time.Second)
		p.Update("t", 100) // 10 rows/s, 100 left: eta 10s, estimated 20s
		out := buf.String()
		for _, s := range c.has {
			if !strings.Contains(out, s) {
				t.Errorf("%s: %q missing from %q", c.format, s, out)
			}
		}
		for _, s := range c.not {
			if strings.Contains(out, s) {
				t.Errorf("%s: %q in %q", c.format, s, out)
			}
		}
		if strings.Contains(out, "WARN") {
			t.Errorf("%s: warned again on update", c.format)
		}
	}
}

func TestProgressBars(t *testing.T) {
	var buf, out bytes.Buffer
	clk := &fakeClock{t: time.Unix(0, 0)}
	p := NewProgress(plainLog(&buf), "normal", true, &out, clk.now)
	p.Estimate("sales_order", 1000)
	clk.advance(5 * time.Second)
	p.Update("sales_order", 500)
	p.mu.Lock()
	p.drawLocked(clk.now(), false)
	p.mu.Unlock()
	s := out.String()
	for _, w := range []string{"sales_order", " 50% 500/1000 rows 100 rows/s ETA 5s", "total"} {
		if !strings.Contains(s, w) {
			t.Errorf("bar output %q lacks %q", s, w)
		}
	}
	if strings.Contains(buf.String(), "step=progress ") {
		t.Errorf("terminal mode logged progress lines: %q", buf.String())
	}
}
