package rowio

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// AppendKey appends an unambiguous encoding of key values to buf, for map
// lookups (the encoding compaction uses).
func AppendKey(buf []byte, key []any) []byte {
	for _, v := range key {
		switch x := v.(type) {
		case nil:
			buf = append(buf, 'n')
		case int64:
			buf = append(buf, 'i')
			buf = binary.BigEndian.AppendUint64(buf, uint64(x))
		case uint64:
			buf = append(buf, 'u')
			buf = binary.BigEndian.AppendUint64(buf, x)
		case float32:
			buf = append(buf, 'f')
			buf = binary.BigEndian.AppendUint32(buf, math.Float32bits(x))
		case float64:
			buf = append(buf, 'd')
			buf = binary.BigEndian.AppendUint64(buf, math.Float64bits(x))
		case string:
			buf = append(buf, 's')
			buf = binary.AppendUvarint(buf, uint64(len(x)))
			buf = append(buf, x...)
		case []byte:
			buf = append(buf, 's')
			buf = binary.AppendUvarint(buf, uint64(len(x)))
			buf = append(buf, x...)
		default:
			buf = fmt.Appendf(buf, "?%T:%v", v, v)
		}
	}
	return buf
}

type keyPart struct {
	T string `json:"t"`
	V string `json:"v"`
}

// EncodeKey writes key values (canonical forms) as JSON that DecodeKey reads back
// with their exact types and bytes.
func EncodeKey(key []any) (string, error) {
	parts := make([]keyPart, len(key))
	for i, v := range key {
		switch x := v.(type) {
		case nil:
			parts[i] = keyPart{T: "n"}
		case int64:
			parts[i] = keyPart{T: "i", V: strconv.FormatInt(x, 10)}
		case uint64:
			parts[i] = keyPart{T: "u", V: strconv.FormatUint(x, 10)}
		case float32:
			parts[i] = keyPart{T: "f4", V: strconv.FormatFloat(float64(x), 'g', -1, 32)}
		case float64:
			parts[i] = keyPart{T: "f8", V: strconv.FormatFloat(x, 'g', -1, 64)}
		case string:
			parts[i] = keyPart{T: "s", V: base64.StdEncoding.EncodeToString([]byte(x))}
		case []byte:
			parts[i] = keyPart{T: "b", V: base64.StdEncoding.EncodeToString(x)}
		default:
			return "", fmt.Errorf("key value of type %T", v)
		}
	}
	b, err := json.Marshal(parts)
	return string(b), err
}

// DecodeKey reads a key written by EncodeKey.
func DecodeKey(s string) ([]any, error) {
	var parts []keyPart
	if err := json.Unmarshal([]byte(s), &parts); err != nil {
		return nil, fmt.Errorf("decode key %q: %w", s, err)
	}
	out := make([]any, len(parts))
	for i, p := range parts {
		var err error
		switch p.T {
		case "n":
		case "i":
			out[i], err = strconv.ParseInt(p.V, 10, 64)
		case "u":
			out[i], err = strconv.ParseUint(p.V, 10, 64)
		case "f4":
			var f float64
			f, err = strconv.ParseFloat(p.V, 32)
			out[i] = float32(f)
		case "f8":
			out[i], err = strconv.ParseFloat(p.V, 64)
		case "s", "b":
			var b []byte
			b, err = base64.StdEncoding.DecodeString(p.V)
			if p.T == "s" {
				out[i] = string(b)
			} else {
				out[i] = b
			}
		default:
			err = fmt.Errorf("unknown type %q", p.T)
		}
		if err != nil {
			return nil, fmt.Errorf("decode key %q: %w", s, err)
		}
	}
	return out, nil
}
