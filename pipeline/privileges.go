package pipeline

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/shiplog/shiplog/config"
	"github.com/shiplog/shiplog/grants"
)

// Work names what a command is about to do, for the privilege preflight
// OpenFor runs before anything is written. The zero Work checks nothing.
type Work struct {
	// Copy: the snapshot (migrate data, run).
	Copy bool
	// Stream: delta from the binlog or the change logs (migrate delta, run).
	Stream bool
	// Cutover: wait for the lag and take the final position.
	Cutover bool
	// SetSourceReadOnly: cutover --set-source-read-only.
	SetSourceReadOnly bool
	// Apply: apply --from-kafka, which writes the destination only.
	Apply bool
}

func (w Work) any() bool { return w.Copy || w.Stream || w.Cutover || w.Apply }

// ErrPrivileges is wrapped by the preflight's error when a user lacks a
// privilege the work needs; the error names each GRANT statement to run.
var ErrPrivileges = errors.New("missing privileges")

// need is one privilege: any of names satisfies it; grant is the one to ask for.
type need struct {
	names []string
	grant string
	db    string // "" for *.*
	why   string
}

type server struct {
	mariadb bool
	major   int
	minor   int
}

func (s server) atLeast(major, minor int) bool {
	return s.major > major || (s.major == major && s.minor >= minor)
}

func readServer(ctx context.Context, db *sql.DB) (server, error) {
	var v string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v); err != nil {
		return server{}, fmt.Errorf("SELECT VERSION(): %w", err)
	}
	s := server{mariadb: strings.Contains(strings.ToLower(v), "mariadb")}
	parts := strings.SplitN(v, ".", 3)
	if len(parts) >= 2 {
		s.major, _ = strconv.Atoi(parts[0])
		s.minor, _ = strconv.Atoi(strings.TrimLeftFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	}
	return s, nil
}

// sourceNeeds lists what the source user needs for w: what its delta source
// needs (see deltaSource.needs).
func sourceNeeds(cfg *config.Config, srv server, w Work) []need {
	return newDeltaSource(&Runtime{cfg: cfg}).needs(srv, w)
}

// needs lists what the source user needs for w when delta reads the change
// logs.
func (d triggerDelta) needs(_ server, w Work) []need {
	db := d.r.cfg.Source.Database
	if !w.Copy && !w.Stream {
		return nil
	}
	ns := []need{
		{names: []string{"SELECT"}, grant: "SELECT", db: db, why: "read the tables and change logs"},
		{names: []string{"INSERT"}, grant: "INSERT", db: db, why: "the triggers write the change logs"},
		{names: []string{"DELETE"}, grant: "DELETE", db: db, why: "purge applied change-log rows"},
		{names: []string{"CREATE"}, grant: "CREATE", db: db, why: "create the m2_cl_* change logs"},
		{names: []string{"TRIGGER"}, grant: "TRIGGER", db: db, why: "install and check the change-log triggers"},
	}
	if w.Copy {
		ns = append(ns, need{names: []string{"LOCK TABLES"}, grant: "LOCK TABLES", db: db,
			why: "install a table's three triggers at once, so the application's prepared statements keep working"})
	}
	return append(ns, need{names: []string{"PROCESS"}, grant: "PROCESS", why: "read InnoDB table ids, which show a TRUNCATE no trigger logs"})
}

// needs lists what the source user needs for w when delta reads the binlog.
func (d *binlogDelta) needs(srv server, w Work) []need {
	db := d.r.cfg.Source.Database
	if !w.Copy && !w.Stream && !w.Cutover {
		return nil
	}
	ns := []need{{names: []string{"SELECT"}, grant: "SELECT", db: db, why: "read the tables"}}
	if srv.mariadb && srv.atLeast(10, 5) {
		ns = append(ns, need{names: []string{"BINLOG MONITOR", "REPLICATION CLIENT"}, grant: "BINLOG MONITOR", why: "read the binlog position (SHOW MASTER STATUS, SHOW BINARY LOGS)"})
	} else {
		ns = append(ns, need{names: []string{"REPLICATION CLIENT", "SUPER"}, grant: "REPLICATION CLIENT", why: "read the binlog position (SHOW MASTER STATUS, SHOW BINARY LOGS)"})
	}
	if w.Copy || w.Stream {
		ns = append(ns, need{names: []string{"REPLICATION SLAVE", "REPLICATION REPLICA"}, grant: "REPLICATION SLAVE", why: "stream the binlog"})
	}
	if w.Copy {
		pause := "FLUSH TABLES WITH READ LOCK"
		if srv.mariadb {
			pause = "BACKUP STAGE BLOCK_COMMIT"
		}
		ns = append(ns, need{names: []string{"RELOAD"}, grant: "RELOAD", why: pause + " pauses commits for a moment so the snapshot and its binlog position agree exactly"})
	}
	if w.SetSourceReadOnly {
		switch {
		case srv.mariadb && srv.atLeast(10, 11):
			ns = append(ns, need{names: []string{"READ_ONLY ADMIN"}, grant: "READ_ONLY ADMIN", why: "SET GLOBAL read_only (--set-source-read-only)"})
		case srv.mariadb && srv.atLeast(10, 5):
			ns = append(ns, need{names: []string{"READ_ONLY ADMIN", "SUPER"}, grant: "READ_ONLY ADMIN", why: "SET GLOBAL read_only (--set-source-read-only)"})
		case !srv.mariadb && srv.major >= 8:
			ns = append(ns, need{names: []string{"SYSTEM_VARIABLES_ADMIN", "SUPER"}, grant: "SYSTEM_VARIABLES_ADMIN", why: "SET GLOBAL read_only (--set-source-read-only)"})
		default:
			ns = append(ns, need{names: []string{"SUPER"}, grant: "SUPER", why: "SET GLOBAL read_only (--set-source-read-only)"})
		}
	}
	return ns
}

// destinationNeeds lists what the destination user needs: the mapped tables
// (or, with sink: kafka, only shiplog's state tables) are read and written,
// the state tables created. ALTER is needed only when an upgrade widens a
// state column, and is not asked for up front.
func destinationNeeds(cfg *config.Config) []need {
	db := cfg.Destination.Database
	return []need{
		{names: []string{"SELECT"}, grant: "SELECT", db: db, why: "read the tables and shiplog's state"},
		{names: []string{"INSERT"}, grant: "INSERT", db: db, why: "write rows and state"},
		{names: []string{"UPDATE"}, grant: "UPDATE", db: db, why: "write rows and state"},
		{names: []string{"DELETE"}, grant: "DELETE", db: db, why: "apply deletes, clear state"},
		{names: []string{"CREATE"}, grant: "CREATE", db: db, why: "create shiplog's _shiplog_* state tables"},
	}
}

// missing returns one GRANT statement per scope with every privilege of
// needs the user lacks, and the reasons.
func missing(set grants.Set, account string, needs []need) []string {
	type scope struct {
		privs []string
		whys  []string
	}
	var order []string
	scopes := map[string]*scope{}
	for _, n := range needs {
		ok := false
		if n.db == "" {
			ok = set.HasGlobal(n.names...)
		} else {
			ok = set.Has(n.db, n.names...)
		}
		if ok {
			continue
		}
		on := "*.*"
		if p := set.DBPattern(n.db); n.db != "" && p != "" {
			// Add to the entry the server uses for this database.
			on = "`" + strings.ReplaceAll(p, "`", "``") + "`.*"
		} else if n.db != "" {
			on = grantDB(n.db) + ".*"
		}
		s := scopes[on]
		if s == nil {
			s = &scope{}
			scopes[on] = s
			order = append(order, on)
		}
		s.privs = append(s.privs, n.grant)
		s.whys = append(s.whys, n.grant+": "+n.why)
	}
	var out []string
	for _, on := range order {
		s := scopes[on]
		out = append(out, fmt.Sprintf("GRANT %s ON %s TO %s;  -- %s", strings.Join(s.privs, ", "), on, account, strings.Join(s.whys, "; ")))
	}
	return out
}

// grantDB quotes a database name for GRANT ... ON, with _ and % escaped so
// the grant is for exactly this database.
func grantDB(db string) string {
	r := strings.NewReplacer("`", "``", `\`, `\\`, "_", `\_`, "%", `\%`)
	return "`" + r.Replace(db) + "`"
}

// preflight checks, before anything is written, that both users hold every
// privilege w needs, and names every missing one at once.
func preflight(ctx context.Context, cfg *config.Config, src, dst *sql.DB, w Work) error {
	if !w.any() {
		return nil
	}
	var problems []string
	srv, err := readServer(ctx, src)
	if err != nil {
		return fmt.Errorf("source %s: privilege check: %w", cfg.Source.Redacted(), err)
	}
	if ns := sourceNeeds(cfg, srv, w); len(ns) > 0 {
		set, account, err := grants.Read(ctx, src)
		if err != nil {
			return fmt.Errorf("source %s: privilege check: %w", cfg.Source.Redacted(), err)
		}
		for _, m := range missing(set, account, ns) {
			problems = append(problems, "on the source: "+m)
		}
	}
	set, account, err := grants.Read(ctx, dst)
	if err != nil {
		return fmt.Errorf("destination %s: privilege check: %w", cfg.Destination.Redacted(), err)
	}
	for _, m := range missing(set, account, destinationNeeds(cfg)) {
		problems = append(problems, "on the destination: "+m)
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w: nothing was written; run (as an administrator), then start again:\n  %s",
		ErrPrivileges, strings.Join(problems, "\n  "))
}
