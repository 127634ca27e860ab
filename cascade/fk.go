// Package cascade repeats on the destination what the source's foreign keys
// do to child rows on their own. MySQL and MariaDB write the child rows that
// an ON DELETE / ON UPDATE CASCADE or SET NULL action changes neither to the
// binlog nor through triggers, so a replicator that applies only what it
// reads leaves orphaned or stale children behind.
//
// The source's foreign keys are compiled through the map (Compile) into a
// Set. While mapping a stream, a Generator adds an OpCascade marker after
// each parent change whose key action reaches a copied child table; before
// a sink sees the batch, Expand replaces every marker by the row changes it
// stands for: the destination's child rows matching the parent's old values
// (as the destination held them before the batch, overlaid with the batch's
// own earlier changes) are deleted or updated as the source's action did,
// and the same is done for their children in turn. The result is a batch of
// ordinary row changes, so compaction, apply partitions, checkpoints and the
// snapshot hand-off treat them like any other. A child whose key columns a
// side handler moved into its side table (transform.SideSpec.Holds) is
// reached through the side rows holding the parent's values.
package cascade

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Action is a foreign key's referential action.
type Action uint8

const (
	// NoAction covers RESTRICT and NO ACTION: the server refuses the parent
	// change while children exist, so nothing happens to them.
	NoAction Action = iota
	Cascade
	SetNull
	// SetDefault is accepted by the parser but not by InnoDB.
	SetDefault
)

func (a Action) String() string {
	switch a {
	case Cascade:
		return "CASCADE"
	case SetNull:
		return "SET NULL"
	case SetDefault:
		return "SET DEFAULT"
	}
	return "NO ACTION"
}

func parseAction(s string) Action {
	switch strings.ToUpper(s) {
	case "CASCADE":
		return Cascade
	case "SET NULL":
		return SetNull
	case "SET DEFAULT":
		return SetDefault
	}
	return NoAction
}

// ForeignKey is one foreign key of the source schema.
type ForeignKey struct {
	Name string
	// Child is the table holding the key; Parent the table it references.
	Child, Parent string
	// ParentSchema is the parent's database when it is not the source
	// database (the child's), else "".
	ParentSchema          string
	ChildCols, ParentCols []string
	OnDelete, OnUpdate    Action
}

func (fk *ForeignKey) String() string {
	return fmt.Sprintf("foreign key %s (%s.%s -> %s.%s)", fk.Name, fk.Child, strings.Join(fk.ChildCols, ","),
		fk.Parent, strings.Join(fk.ParentCols, ","))
}

// acts reports whether the key ever changes child rows by itself.
func (fk *ForeignKey) acts() bool { return fk.OnDelete != NoAction || fk.OnUpdate != NoAction }

// Load reads the foreign keys of the tables of schema from the server's
// information_schema. It blocks for two queries: the constraints, then their
// columns (MariaDB runs a join of the two views as a nested loop, half a
// second on Magento's schema against a few hundredths for both reads).
func Load(ctx context.Context, db *sql.DB, schema string) ([]ForeignKey, error) {
	rows, err := db.QueryContext(ctx, `SELECT CONSTRAINT_NAME, TABLE_NAME, REFERENCED_TABLE_NAME, UNIQUE_CONSTRAINT_SCHEMA, UPDATE_RULE, DELETE_RULE
	FROM information_schema.REFERENTIAL_CONSTRAINTS
	WHERE CONSTRAINT_SCHEMA = ?
	ORDER BY TABLE_NAME, CONSTRAINT_NAME`, schema)
	if err != nil {
		return nil, fmt.Errorf("source: read foreign keys of %s: %w", schema, err)
	}
	var fks []ForeignKey
	byName := map[[2]string]int{}
	for rows.Next() {
		var name, child, parent, pschema, upd, del string
		if err := rows.Scan(&name, &child, &parent, &pschema, &upd, &del); err != nil {
			rows.Close()
			return nil, fmt.Errorf("source: read foreign keys of %s: %w", schema, err)
		}
		fk := ForeignKey{Name: name, Child: child, Parent: parent, OnDelete: parseAction(del), OnUpdate: parseAction(upd)}
		if pschema != schema {
			fk.ParentSchema = pschema
		}
		byName[[2]string{child, name}] = len(fks)
		fks = append(fks, fk)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, fmt.Errorf("source: read foreign keys of %s: %w", schema, err)
	}
	cols, err := db.QueryContext(ctx, `SELECT CONSTRAINT_NAME, TABLE_NAME, COLUMN_NAME, REFERENCED_COLUMN_NAME
	FROM information_schema.KEY_COLUMN_USAGE
	WHERE CONSTRAINT_SCHEMA = ? AND REFERENCED_TABLE_NAME IS NOT NULL
	ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION`, schema)
	if err != nil {
		return nil, fmt.Errorf("source: read foreign key columns of %s: %w", schema, err)
	}
	defer cols.Close()
	for cols.Next() {
		var name, child, col, ref string
		if err := cols.Scan(&name, &child, &col, &ref); err != nil {
			return nil, fmt.Errorf("source: read foreign key columns of %s: %w", schema, err)
		}
		if i, ok := byName[[2]string{child, name}]; ok {
			fks[i].ChildCols = append(fks[i].ChildCols, col)
			fks[i].ParentCols = append(fks[i].ParentCols, ref)
		}
	}
	if err := cols.Err(); err != nil {
		return nil, fmt.Errorf("source: read foreign key columns of %s: %w", schema, err)
	}
	out := fks[:0]
	for _, fk := range fks {
		if len(fk.ChildCols) > 0 {
			out = append(out, fk)
		}
	}
	return out, nil
}
