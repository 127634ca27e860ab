package binlog

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/shiplog/shiplog/cdc"
)

// convertRow converts a go-mysql row image to canonical values (see cdc's
// package doc) in place of a new slice.
func convertRow(t *tableInfo, row []any) ([]any, error) {
	if len(row) != len(t.cols) {
		return nil, fmt.Errorf("row of `%s`.`%s` has %d values, table map has %d columns",
			t.table.Schema, t.table.Name, len(row), len(t.cols))
	}
	out := make([]any, len(row))
	for i, v := range row {
		c, err := convertValue(t.cols[i], v)
		if err != nil {
			return nil, fmt.Errorf("`%s`.`%s` column %s: %w", t.table.Schema, t.table.Name, t.table.Columns[i].Name, err)
		}
		out[i] = c
	}
	return out, nil
}

// convertValue converts one value as go-mysql decodes it (UseDecimal=false,
// ParseTime=false) to its canonical form.
func convertValue(c colInfo, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch c.kind {
	case cdc.KindInt:
		switch x := v.(type) {
		case int8:
			return int64(x), nil
		case int16:
			return int64(x), nil
		case int32:
			return int64(x), nil
		case int64:
			return x, nil
		case int:
			return int64(x), nil
		}
	case cdc.KindUint:
		switch x := v.(type) {
		case uint8:
			return uint64(x), nil
		case uint16:
			return uint64(x), nil
		case uint32:
			return uint64(x), nil
		case uint64:
			return x, nil
		}
	case cdc.KindFloat:
		if x, ok := v.(float32); ok {
			return x, nil
		}
	case cdc.KindDouble:
		if x, ok := v.(float64); ok {
			return x, nil
		}
	case cdc.KindDecimal:
		if x, ok := v.(string); ok {
			return strings.Clone(x), nil
		}
	case cdc.KindBit:
		if x, ok := v.(int64); ok {
			return uint64(x), nil
		}
	case cdc.KindYear:
		switch x := v.(type) {
		case int:
			return int64(x), nil
		case int64:
			return x, nil
		}
	case cdc.KindTemporal:
		if x, ok := v.(string); ok {
			if c.isTime {
				x = padFraction(x, c.fsp)
			}
			return strings.Clone(x), nil
		}
	case cdc.KindEnumSet:
		if x, ok := v.(int64); ok {
			if c.isSet {
				return setValue(c.values, uint64(x))
			}
			return enumValue(c.values, x)
		}
	case cdc.KindJSON:
		switch x := v.(type) {
		case string:
			return strings.Clone(x), nil
		case []byte:
			return string(x), nil
		}
	case cdc.KindBytes:
		var b []byte
		switch x := v.(type) {
		case string:
			b = []byte(x)
		case []byte:
			b = bytes.Clone(x)
		}
		if b != nil {
			if len(b) < c.padTo {
				b = append(b, make([]byte, c.padTo-len(b))...)
			}
			return b, nil
		}
	default:
		// Types without a canonical form (VECTOR, ...) pass their bytes through.
		switch x := v.(type) {
		case string:
			return []byte(x), nil
		case []byte:
			return bytes.Clone(x), nil
		}
	}
	return nil, fmt.Errorf("unexpected binlog value %T %v for a column of kind %d", v, v, c.kind)
}

// padFraction gives a TIME value the fraction digits of its column: go-mysql
// omits the fraction when it is zero ("12:00:00" for TIME(3)), MySQL prints
// "12:00:00.000".
func padFraction(s string, fsp int) string {
	if fsp == 0 || strings.IndexByte(s, '.') >= 0 {
		return s
	}
	return s + "." + strings.Repeat("0", fsp)
}

func enumValue(values []string, idx int64) (any, error) {
	if idx == 0 {
		return "", nil // the error value '' that non-strict mode stores
	}
	if idx < 0 || int(idx) > len(values) {
		return nil, fmt.Errorf("ENUM index %d out of range (%d values in the table map)", idx, len(values))
	}
	return values[idx-1], nil
}

func setValue(values []string, bits uint64) (any, error) {
	var parts []string
	for i := 0; bits != 0; i++ {
		if bits&1 != 0 {
			if i >= len(values) {
				return nil, fmt.Errorf("SET bit %d out of range (%d values in the table map)", i, len(values))
			}
			parts = append(parts, values[i])
		}
		bits >>= 1
	}
	return strings.Join(parts, ","), nil
}
