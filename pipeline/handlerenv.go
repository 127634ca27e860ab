package pipeline

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/config"
	"github.com/shiplog/shiplog/rowio"
	"github.com/shiplog/shiplog/transform"
)

// newHandlerEnv is what every handler the runtime binds may use (see
// transform.HandlerEnv): the configuration's options by name, with the
// Magento 2 key of m2_env_php; tables of both databases, read whole on
// first use and again after the stream changed them; Magento's class map.
// A runtime builds it once (Open), so every plan it compiles shares the
// tables read and the stream refreshes them for all.
func newHandlerEnv(cfg *config.Config, src, dst *sql.DB) (*transform.HandlerEnv, error) {
	opts := maps.Clone(cfg.Options.Magento)
	if opts == nil {
		opts = map[string]string{}
	}
	if p := cfg.Options.M2EnvPHP; p != "" {
		key, err := config.ReadM2CryptKey(p)
		if err != nil {
			return nil, err
		}
		opts["m2_crypt_key"] = key
	}
	env := &transform.HandlerEnv{Options: opts}
	timeout := cmp.Or(cfg.Timeouts.Read, config.DefaultReadTimeout)
	env.Lookups = transform.NewLookups((&lookupReader{sides: map[string]lookupSide{
		transform.SideSource:      {db: src, schema: cfg.Source.Database, prefix: cfg.Options.SourcePrefix, prefixKey: "source_prefix"},
		transform.SideDestination: {db: dst, schema: cfg.Destination.Database, prefix: cfg.Options.DestPrefix, prefixKey: "dest_prefix"},
	}, timeout: timeout, describe: rowio.LoadTables}).load)
	if p := cfg.Options.ClassMapFile; p != "" {
		m, err := transform.ReadClassMap(p)
		if err != nil {
			return nil, fmt.Errorf("options.class_map: %w", err)
		}
		env.ClassMap = m
	}
	return env, nil
}

// lookupSide is one database handlers look tables up in.
type lookupSide struct {
	db             *sql.DB
	schema, prefix string
	// prefixKey names the prefix's option, for errors.
	prefixKey string
}

// lookupReader reads whole tables for transform.Lookups. A table's columns
// are read once; its rows on each load.
type lookupReader struct {
	sides   map[string]lookupSide
	timeout time.Duration
	// describe is rowio.LoadTables (a seam for tests).
	describe func(ctx context.Context, db *sql.DB, schema, skipPrefix string) ([]*cdc.Table, error)

	mu     sync.Mutex
	tables map[transform.LookupRef]*cdc.Table
}

// load reads every row of table (without prefix) on side, in canonical
// values over utf8mb4, within timeouts.read. Its query has a deadline of
// its own: Lookups calls it in the middle of mapping a row, with no
// context to pass.
func (l *lookupReader) load(side, table string) (*transform.LookupRows, error) {
	s, ok := l.sides[side]
	if !ok {
		return nil, fmt.Errorf("unknown side %q (want %s or %s)", side, transform.SideSource, transform.SideDestination)
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	t, err := l.table(ctx, side, s, table)
	if err != nil {
		return nil, err
	}
	var rows [][]any
	err = rowio.ReadTable(ctx, s.db, t, func(row []any) error {
		rows = append(rows, row)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %s table %s.%s for the map's handlers: %w (the read has timeouts.read, %s; check the %s server, or raise timeouts.read for a very large table)",
			side, s.schema, t.Name, err, l.timeout, side)
	}
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = c.Name
	}
	return transform.NewLookupRows(cols, rows), nil
}

// table returns the description of prefix+table on side.
func (l *lookupReader) table(ctx context.Context, side string, s lookupSide, table string) (*cdc.Table, error) {
	ref := transform.LookupRef{Side: side, Table: strings.ToLower(table)}
	l.mu.Lock()
	defer l.mu.Unlock()
	if t := l.tables[ref]; t != nil {
		return t, nil
	}
	// shiplog's own tables (the EAV step's attribute map) have no prefix.
	skip, name := transform.StateTablePrefix, s.prefix+table
	if strings.HasPrefix(strings.ToLower(table), transform.StateTablePrefix) {
		skip, name = "", table
	}
	all, err := l.describe(ctx, s.db, s.schema, skip)
	if err != nil {
		return nil, fmt.Errorf("read the tables of %s database %s for the map's handlers: %w", side, s.schema, err)
	}
	for _, t := range all {
		if strings.EqualFold(t.Name, name) {
			if l.tables == nil {
				l.tables = map[transform.LookupRef]*cdc.Table{}
			}
			l.tables[ref] = t
			return t, nil
		}
	}
	prefixed := ""
	if s.prefix != "" {
		prefixed = fmt.Sprintf(" (%s %q: %s)", s.prefixKey, s.prefix, name)
	}
	return nil, fmt.Errorf("%s table %s does not exist in database %s%s: a handler of the map reads it; check that the %s database and %s are those of the installation the map is for",
		side, table, s.schema, prefixed, side, s.prefixKey)
}

// lookupRefresh tells the handlers' lookups what the stream changes: a
// source table they read, before the rows after its change are mapped (the
// source has the change by then); a destination table they read, once the
// batch written into it is committed (read before, it would show the table
// as it was). Rows mapped in between see the destination table without the
// batch's changes.
type lookupRefresh struct {
	l                    *transform.Lookups
	srcPrefix, dstPrefix string
}

func (r *Runtime) lookupRefresh() lookupRefresh {
	return lookupRefresh{l: r.handlerEnv().Lookups, srcPrefix: r.cfg.Options.SourcePrefix, dstPrefix: r.cfg.Options.DestPrefix}
}

// Watches reports whether handlers read source table name (as the source
// names it, with its prefix).
func (f lookupRefresh) Watches(name string) bool {
	base, ok := cutPrefixFold(name, f.srcPrefix)
	return ok && f.l.Watches(transform.SideSource, base)
}

// SourceChanged is told of the changes the stream carries (source tables),
// before the changes after them are mapped.
func (f lookupRefresh) SourceChanged(changes []cdc.Change) {
	f.invalidate(transform.SideSource, f.srcPrefix, changes)
}

// Written is told of the changes of a committed batch (destination tables).
func (f lookupRefresh) Written(changes []cdc.Change) {
	f.invalidate(transform.SideDestination, f.dstPrefix, changes)
}

func (f lookupRefresh) invalidate(side, prefix string, changes []cdc.Change) {
	if f.l == nil {
		return
	}
	var last *cdc.Table
	for _, c := range changes {
		if c.Table == last || c.Table == nil {
			continue
		}
		last = c.Table
		if base, ok := cutPrefixFold(c.Table.Name, prefix); ok {
			f.l.Invalidate(side, base)
		}
	}
}

// WrittenAll is Written for a batch whose tables are not known any more
// (a source transaction applied in parts): every destination table.
func (f lookupRefresh) WrittenAll() {
	for _, ref := range f.l.Tables() {
		if ref.Side == transform.SideDestination {
			f.l.Invalidate(ref.Side, ref.Table)
		}
	}
}

// cutPrefixFold is name without prefix, compared case-insensitively as
// table names may be.
func cutPrefixFold(name, prefix string) (string, bool) {
	if len(name) < len(prefix) || !strings.EqualFold(name[:len(prefix)], prefix) {
		return "", false
	}
	return name[len(prefix):], true
}
