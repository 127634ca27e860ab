package rowio

import "github.com/shiplog/shiplog/cdc"

// SelectColumns appends "SELECT cols FROM schema.t" for every column of t.
func SelectColumns(q []byte, t *cdc.Table) []byte {
	q = append(q, "SELECT "...)
	for i, c := range t.Columns {
		if i > 0 {
			q = append(q, ',')
		}
		q = append(q, QuoteIdent(c.Name)...)
	}
	q = append(q, " FROM "...)
	return append(q, QuoteIdent(t.Schema)+"."+QuoteIdent(t.Name)...)
}

// AppendAfter appends the keyset condition "key of t > after" (after holds
// the key values in t.Key order), expanded so the range optimiser uses the
// key's index: k1 >= a AND (k1 > a OR (k1 = a AND k2 > b)).
func AppendAfter(q []byte, t *cdc.Table, after []any) ([]byte, error) {
	var err error
	lit := func(q []byte, i int) ([]byte, error) {
		return AppendLiteral(q, after[i], &t.Columns[t.Key[i]])
	}
	col := func(i int) string { return QuoteIdent(t.Columns[t.Key[i]].Name) }
	q = append(q, col(0)+" >= "...)
	if q, err = lit(q, 0); err != nil {
		return q, err
	}
	q = append(q, " AND ("...)
	for i := range t.Key {
		if i > 0 {
			q = append(q, " OR "...)
		}
		q = append(q, '(')
		for j := 0; j < i; j++ {
			q = append(q, col(j)+" = "...)
			if q, err = lit(q, j); err != nil {
				return q, err
			}
			q = append(q, " AND "...)
		}
		q = append(q, col(i)+" > "...)
		if q, err = lit(q, i); err != nil {
			return q, err
		}
		q = append(q, ')')
	}
	return append(q, ')'), nil
}

// AppendOrderByKey appends " ORDER BY" the key columns of t.
func AppendOrderByKey(q []byte, t *cdc.Table) []byte {
	q = append(q, " ORDER BY "...)
	for i, k := range t.Key {
		if i > 0 {
			q = append(q, ',')
		}
		q = append(q, QuoteIdent(t.Columns[k].Name)...)
	}
	return q
}
