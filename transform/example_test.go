package transform_test

import (
	"fmt"
	"strings"

	"github.com/shiplog/shiplog/cdc"
	"github.com/shiplog/shiplog/transform"
)

// A user's own handler, registered by name and used from a map like any of
// Magento's: <handler class="UpperCase"/>.
func ExampleRegister() {
	transform.Register("UpperCase", func(p transform.Params, b transform.Binding) (transform.Func, error) {
		if len(p) > 0 {
			return nil, fmt.Errorf("UpperCase takes no params")
		}
		return func(rec, _ []any) error {
			switch v := rec[b.Index].(type) {
			case string:
				rec[b.Index] = strings.ToUpper(v)
			case []byte:
				rec[b.Index] = strings.ToUpper(string(v))
			}
			return nil
		}, nil
	})
	table := func() *cdc.Table {
		return &cdc.Table{Name: "customer", Key: []int{0}, Columns: []cdc.Column{{Name: "id", DataType: "int"}, {Name: "name", DataType: "varchar"}}}
	}
	rules := &transform.Rules{Source: transform.Area{Transforms: []transform.Transform{
		{Field: "customer.name", Handler: transform.HandlerSpec{Name: "UpperCase"}},
	}}}
	plan, problems := transform.Compile(rules, []*cdc.Table{table()}, []*cdc.Table{table()})
	if transform.HasErrors(problems) {
		fmt.Println(problems)
		return
	}
	row, _ := plan.Table("customer").Row([]any{int64(1), []byte("ada")})
	fmt.Println(row[0], row[1])
	// Output: 1 ADA
}
