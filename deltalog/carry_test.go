//go:build !unit

package deltalog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/internal/testenv"
	"github.com/shiplog/shiplog/rowio"
)

// TestCarryColumnsReachDeletes: a spec's Carry columns are logged with its
// key, so the delete of a row gone from the source carries them in its
// before image (a plan routing Magento's customer value rows by entity_id
// and attribute_id needs them: the row can be read from nowhere else); a
// row still there comes whole, as always. A log table set up without the
// Carry columns is refused, not used short of them.
func TestCarryColumnsReachDeletes(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	src := testenv.MariaDBT(t, testenv.Options{})
	if err := src.Exec(ctx, "", "CREATE DATABASE shop",
		"CREATE TABLE shop.v (value_id INT PRIMARY KEY, entity_id INT NOT NULL, attribute_id SMALLINT NOT NULL, value VARCHAR(20))",
		"CREATE TABLE shop.w (value_id INT PRIMARY KEY, entity_id INT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	db, err := src.Open("shop")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tables, err := rowio.LoadTables(ctx, db, "shop", "")
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*cdc.Table{}
	for _, tb := range tables {
		byName[tb.Name] = tb
	}
	in := &Installer{DB: db, Schema: "shop"}
	spec := Spec{Table: byName["v"], Key: []int{0}, Carry: []int{1, 2}, LogTable: LogTableName("", "v")}
	if failed, err := in.Install(ctx, []Spec{spec}); err != nil || len(failed) > 0 {
		t.Fatalf("install: %v %v", failed, err)
	}
	if err := src.Exec(ctx, "shop",
		"INSERT INTO v VALUES (1, 7, 5, 'a'), (2, 8, 6, 'b')",
		"DELETE FROM v WHERE value_id = 1",
		"UPDATE v SET value = 'c' WHERE value_id = 2"); err != nil {
		t.Fatal(err)
	}
	r := &Reader{DB: db, Schema: "shop", Specs: []Spec{spec}}
	var got []string
	errDone := errors.New("done")
	err = r.Stream(ctx, cdc.Position{}, func(_ context.Context, b cdc.Batch) error {
		for _, c := range b.Changes {
			switch c.Op {
			case cdc.OpDelete:
				got = append(got, fmt.Sprintf("delete %v", c.Before))
			default:
				got = append(got, fmt.Sprintf("%s %v", c.Op, c.After))
			}
		}
		if len(b.Changes) > 0 {
			return errDone
		}
		return nil
	})
	if !errors.Is(err, errDone) {
		t.Fatalf("stream: %v", err)
	}
	// The values: int64 for the INT and SMALLINT columns, text as bytes.
	if want := "delete [1 7 5 <nil>]; insert [2 8 6 [99]]"; strings.Join(got, "; ") != want {
		t.Errorf("round: %s, want %s", strings.Join(got, "; "), want)
	}

	// w's log table is set up without Carry; a spec that needs it is refused.
	plain := Spec{Table: byName["w"], Key: []int{0}, LogTable: LogTableName("", "w")}
	if failed, err := in.Install(ctx, []Spec{plain}); err != nil || len(failed) > 0 {
		t.Fatalf("install w: %v %v", failed, err)
	}
	plain.Carry = []int{1}
	failed, err := in.Install(ctx, []Spec{plain})
	if err != nil || failed["w"] == nil || !strings.Contains(failed["w"].Error(), "without column entity_id") {
		t.Errorf("a log table without the Carry columns: %v %v, want it refused naming entity_id", failed, err)
	}
}
