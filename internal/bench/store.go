package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/shiplog/shiplog/internal/magentogen"
	"github.com/shiplog/shiplog/internal/testenv"
)

// The "Magento store" section (issue 16): a generated Magento 1.9 store
// (internal/magentogen: products, customers, orders with their invoices,
// shipments, credit memos and grids) on the real 1.9 schema is migrated
// with the stock config.xml as shipped — every step, settings mode then
// data mode — into a fresh Magento 2.4 schema holding a fresh install's EAV
// rows; then the same source is copied table for table without a map (the
// identity copy) into the 1.9 schema on another fresh server. Targets: data
// mode within 3x the identity copy's time, every shiplog run's peak RSS
// under 300 MiB.

const (
	storeTargetRatio = 3.0
	storeTargetRSSKB = 300 * 1024
)

// stepTime is one step's share of a run, from shiplog's log.
type stepTime struct {
	title   string
	seconds float64
}

func runStore(ctx context.Context, f flags) (results []result, notes []string, err error) {
	b, fx, done, err := newMagentoBench(f, "shiplog-bench-store-")
	if err != nil {
		return nil, nil, err
	}
	defer done()
	opt := magentogen.Options{Products: f.storeProducts, Customers: f.storeCustomers, Orders: f.storeOrders}
	step(fmt.Sprintf("Magento store: source (binlog ROW/FULL), the 1.9 schema, a generated store of %d products, %d customers, %d orders", opt.Products, opt.Customers, opt.Orders))
	if b.src, err = testenv.StartMariaDB(ctx, testenv.Options{Binlog: true, ServerID: 1}); err != nil {
		return nil, nil, fmt.Errorf("source: %w", err)
	}
	defer b.src.Stop()
	if err := loadSchema(ctx, b.src, magentoSrcDB, filepath.Join(fx, "schema", "m1-schema.sql")); err != nil {
		return nil, nil, err
	}
	start := time.Now()
	if err := fillStore(ctx, b.src, opt); err != nil {
		return nil, nil, fmt.Errorf("filling the generated store: %w", err)
	}
	srcDB, err := b.src.Open(magentoSrcDB)
	if err != nil {
		return nil, nil, err
	}
	defer srcDB.Close()
	counts, rows, err := tableRows(ctx, srcDB)
	if err != nil {
		return nil, nil, err
	}
	fmt.Printf("  %d rows in %d tables, filled in %.1fs (sales_flat_order %d, sales_flat_order_item %d, catalog_product_entity %d, customer_entity %d)\n",
		rows, len(counts), time.Since(start).Seconds(), counts["sales_flat_order"], counts["sales_flat_order_item"], counts["catalog_product_entity"], counts["customer_entity"])

	// The stock migration, on a destination of its own.
	step("Magento store: the stock config.xml (every step as shipped): shiplog migrate settings, then migrate data --auto, into a fresh Magento 2.4 schema")
	settings := result{group: "Magento store", tool: "shiplog settings mode (stock config.xml)"}
	data := result{group: "Magento store", tool: "shiplog data mode (stock config.xml, every step)", unit: "rows/s", work: float64(rows)}
	var steps []stepTime
	var dstCounts map[string]int64
	func() {
		if b.dst, err = testenv.StartMariaDB(ctx, testenv.Options{ServerID: 2}); err != nil {
			err = fmt.Errorf("destination: %w", err)
			return
		}
		defer b.dst.Stop()
		if err = loadSchema(ctx, b.dst, magentoDstDB, filepath.Join(fx, "schema", "m2-schema.sql")); err != nil {
			return
		}
		if err = execOne(ctx, b.dst, magentoDstDB, append([]string{"SET FOREIGN_KEY_CHECKS = 0"}, magentogen.Magento2()...)); err != nil {
			return
		}
		cfg, cerr := b.stockConfig(fx, true)
		if cerr != nil {
			err = cerr
			return
		}
		settings.seconds, settings.rssKB, settings.cpu, settings.err = b.runShiplog(ctx, cfg, "store-settings.log", "migrate", "settings")
		results = append(results, settings)
		if settings.err != nil {
			return
		}
		began := time.Now()
		data.seconds, data.rssKB, data.cpu, data.err = b.runShiplog(ctx, cfg, "store-data.log", "migrate", "data", "--auto")
		results = append(results, data)
		if data.err != nil {
			return
		}
		if steps, err = stepTimes(filepath.Join(b.work, "store-data.log"), began.Add(time.Duration(data.seconds*float64(time.Second)))); err != nil {
			return
		}
		dst, oerr := b.dst.Open(magentoDstDB)
		if oerr != nil {
			err = oerr
			return
		}
		defer dst.Close()
		dstCounts, _, err = tableRows(ctx, dst)
	}()
	if err != nil {
		return results, notes, err
	}
	if data.err == nil {
		fmt.Printf("  data mode: %.1fs, peak RSS %s; in Magento 2: sales_order %d, sales_order_grid %d, sales_invoice_grid %d, catalog_product_entity %d, customer_entity %d\n",
			data.seconds, formatKB(data.rssKB), dstCounts["sales_order"], dstCounts["sales_order_grid"], dstCounts["sales_invoice_grid"], dstCounts["catalog_product_entity"], dstCounts["customer_entity"])
		for _, c := range []struct{ src, dst string }{{"sales_flat_order", "sales_order"}, {"sales_flat_order_grid", "sales_order_grid"}, {"sales_flat_invoice_grid", "sales_invoice_grid"},
			{"catalog_product_entity", "catalog_product_entity"}, {"customer_entity", "customer_entity"}} {
			if counts[c.src] != dstCounts[c.dst] {
				data.err = fmt.Errorf("%s has %d rows in Magento 2, %s %d in Magento 1", c.dst, dstCounts[c.dst], c.src, counts[c.src])
				results[len(results)-1] = data
			}
		}
	}

	// The identity copy, on a destination of its own.
	step("Magento store: the same rows without a map (identity copy: shiplog migrate data --auto into the 1.9 schema on a fresh server)")
	ident := result{group: "Magento store", tool: "shiplog identity copy (no map)", unit: "rows/s", work: float64(rows)}
	func() {
		if b.dst, err = testenv.StartMariaDB(ctx, testenv.Options{ServerID: 3}); err != nil {
			err = fmt.Errorf("identity destination: %w", err)
			return
		}
		defer b.dst.Stop()
		if err = loadSchema(ctx, b.dst, magentoIDDB, filepath.Join(fx, "schema", "m1-schema.sql")); err != nil {
			return
		}
		cfg := filepath.Join(b.work, "identity.yaml")
		text := strings.Replace(b.databasesYAML(magentoSrcDB, 0, magentoIDDB), "# written by internal/bench\n", "", 1) +
			fmt.Sprintf("options:\n  workers: %d\n", b.workers)
		if err = os.WriteFile(cfg, []byte(text), 0o600); err != nil {
			return
		}
		ident.seconds, ident.rssKB, ident.cpu, ident.err = b.runShiplog(ctx, cfg, "store-identity.log", "migrate", "data", "--auto")
	}()
	if err != nil {
		return results, notes, err
	}
	// The identity copy first: the table compares the others with it.
	results = append([]result{ident}, results...)

	notes = append(notes, "In the Magento store group, \"time vs shiplog\" is per source row against the identity copy (its first row).")
	for _, s := range steps {
		notes = append(notes, fmt.Sprintf("  data mode, %-28s %8.2fs", s.title+":", s.seconds))
	}
	if data.err == nil && ident.err == nil && ident.seconds > 0 {
		ratio := data.seconds / ident.seconds
		notes = append(notes, fmt.Sprintf("Magento store, data mode vs identity copy: %.2fx (%.1fs vs %.1fs for %d source rows): %s the <= %.0fx target",
			ratio, data.seconds, ident.seconds, rows, metWord(ratio <= storeTargetRatio), storeTargetRatio))
	}
	var peaks []string
	ok := true
	for _, r := range results {
		if r.err == nil && r.rssKB > 0 {
			peaks = append(peaks, fmt.Sprintf("%s %s", r.tool, formatKB(r.rssKB)))
			ok = ok && r.rssKB < storeTargetRSSKB
		}
	}
	if len(peaks) > 0 {
		notes = append(notes, fmt.Sprintf("Magento store, peak RSS (%s): %s the < 300 MiB target", strings.Join(peaks, "; "), metWord(ok)))
	}
	for _, r := range results {
		if r.err != nil {
			return results, notes, fmt.Errorf("%s: %w", r.tool, r.err)
		}
	}
	return results, notes, nil
}

func metWord(ok bool) string {
	if ok {
		return "MET"
	}
	return "NOT MET"
}

// fillStore writes the generated store into the source, a slice at a time
// on one connection (the prelude's session settings hold for all).
func fillStore(ctx context.Context, m *testenv.MariaDB, opt magentogen.Options) error {
	db, err := m.Open(magentoSrcDB)
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	exec := func(stmts []string) error {
		for _, s := range stmts {
			if _, err := conn.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("%s: %w", strings.SplitN(s, "\n", 2)[0], err)
			}
		}
		return nil
	}
	if err := exec(magentogen.Prelude); err != nil {
		return err
	}
	return magentogen.Magento1Chunks(opt, 2000, exec)
}

// execOne runs stmts in order on one connection to db.
func execOne(ctx context.Context, m *testenv.MariaDB, db string, stmts []string) error {
	h, err := m.Open(db)
	if err != nil {
		return err
	}
	defer h.Close()
	h.SetMaxOpenConns(1)
	for _, s := range stmts {
		if _, err := h.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", strings.SplitN(s, "\n", 2)[0], err)
		}
	}
	return nil
}

// tableRows counts the rows of every table of db's current database.
func tableRows(ctx context.Context, db *sql.DB) (map[string]int64, int64, error) {
	rows, err := db.QueryContext(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'")
	if err != nil {
		return nil, 0, err
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, 0, err
		}
		names = append(names, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	out := map[string]int64{}
	var total int64
	for _, n := range names {
		var c int64
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM `"+n+"`").Scan(&c); err != nil {
			return nil, 0, fmt.Errorf("counting %s: %w", n, err)
		}
		out[n] = c
		total += c
	}
	return out, total, nil
}

var (
	logTime  = regexp.MustCompile(`^time=(\S+)`)
	stepLine = regexp.MustCompile(`msg="step \d+ of \d+: ([^"]+)"`)
	checkMsg = regexp.MustCompile(`msg="integrity check"`)
)

// stepTimes reads a data mode run's log: the integrity check and each step
// (its data stage and volume check) last until the next step starts, the
// last until end.
func stepTimes(logFile string, end time.Time) ([]stepTime, error) {
	f, err := os.Open(logFile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []stepTime
	var starts []time.Time
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		tm := logTime.FindStringSubmatch(line)
		if tm == nil {
			continue
		}
		title := ""
		if m := stepLine.FindStringSubmatch(line); m != nil {
			title = m[1]
		} else if checkMsg.MatchString(line) && len(out) == 0 {
			title = "(integrity check)"
		} else {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, tm[1])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", logFile, err)
		}
		out = append(out, stepTime{title: title})
		starts = append(starts, at)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		next := end
		if i+1 < len(starts) {
			next = starts[i+1]
		}
		out[i].seconds = next.Sub(starts[i]).Seconds()
	}
	return out, nil
}
