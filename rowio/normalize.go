package rowio

import (
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/shiplog/shiplog/cdc"
)

// Normalize converts a value read over the binary protocol to its canonical form
// (see package cdc).
func Normalize(v any, c *cdc.Column) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch c.Kind() {
	case cdc.KindInt:
		switch x := v.(type) {
		case int64:
			return x, nil
		case uint64:
			return int64(x), nil
		case []byte:
			return strconv.ParseInt(string(x), 10, 64)
		}
	case cdc.KindUint:
		switch x := v.(type) {
		case int64:
			return uint64(x), nil
		case uint64:
			return x, nil
		case []byte: // the driver hands values above MaxInt64 over as text
			return strconv.ParseUint(string(x), 10, 64)
		}
	case cdc.KindFloat:
		switch x := v.(type) {
		case float32:
			return x, nil
		case float64:
			return float32(x), nil
		}
	case cdc.KindDouble:
		switch x := v.(type) {
		case float64:
			return x, nil
		case float32:
			return float64(x), nil
		}
	case cdc.KindYear:
		switch x := v.(type) {
		case int64:
			return x, nil
		case uint64:
			return int64(x), nil
		case []byte:
			var n int64
			_, err := fmt.Sscan(string(x), &n)
			return n, err
		}
	case cdc.KindBit:
		if b, ok := v.([]byte); ok {
			if len(b) > 8 {
				return nil, fmt.Errorf("BIT value of %d bytes", len(b))
			}
			var buf [8]byte
			copy(buf[8-len(b):], b)
			return binary.BigEndian.Uint64(buf[:]), nil
		}
	case cdc.KindDecimal, cdc.KindTemporal, cdc.KindEnumSet, cdc.KindJSON:
		switch x := v.(type) {
		case []byte:
			return string(x), nil
		case string:
			return x, nil
		}
	default:
		if c.NativeLen() > 0 {
			// UUID, INET6, INET4: the server sends the text form; the
			// canonical form is the native bytes the binlog carries.
			switch x := v.(type) {
			case []byte:
				return cdc.ParseNative(c.DataType, x)
			case string:
				return cdc.ParseNative(c.DataType, []byte(x))
			}
			break
		}
		switch x := v.(type) {
		case []byte:
			return x, nil
		case string:
			return []byte(x), nil
		}
	}
	return nil, fmt.Errorf("unexpected %T for %s column", v, c.ColumnType)
}
