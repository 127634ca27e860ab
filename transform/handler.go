package transform

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/shiplog/shiplog/cdc"
)

// Func is a handler bound to one field of one table. It gets the record it
// handles and the opposite record, as Magento's HandlerInterface::handle does:
// in the source area rec is (a private copy of) the source row and other the
// destination row being built; in the destination area rec is the destination
// row and other the source row. Values are in cdc's canonical forms; a handler
// may also store a string (or []byte) for any column, which the sink converts
// as the server would. An error sends the row to the failed-rows table.
type Func func(rec, other []any) error

// Binding tells a handler factory where its field is.
type Binding struct {
	// Area is "source" or "destination".
	Area string
	// Table and Field name the field as the rule did (without prefixes).
	Table, Field string
	// Index is the field's position in rec.
	Index int
	// Column describes the field in rec's table.
	Column cdc.Column
	// Rec and Other are the tables of rec and other.
	Rec, Other *cdc.Table
	// Env is what the handler may use beyond its records (never nil).
	Env *HandlerEnv

	dest func(table string) *cdc.Table // see DestTable
}

// IndexOf returns the position of the named field in rec, or an error naming it.
func (b Binding) IndexOf(field string) (int, error) {
	if i := b.Rec.ColumnIndex(field); i >= 0 {
		return i, nil
	}
	return -1, fmt.Errorf("field %s.%s does not exist", b.Rec.Name, field)
}

// Params are a handler's parameters by name.
type Params map[string]string

// Factory validates params at compile time and returns the bound handler.
// Errors name the problem ("param 'value' is required").
type Factory func(p Params, b Binding) (Func, error)

// ErrUnsupportedHandler is wrapped by the error for handlers that exist in
// Magento's tool but make no sense outside Magento (they need its EAV tables,
// class maps or encryption keys).
var ErrUnsupportedHandler = errors.New("Magento-specific handler not supported by shiplog")

var (
	registryMu sync.RWMutex
	registry   = map[string]Factory{}
)

// Register makes a handler available to maps by name (case-insensitive, with
// or without the "\Migration\Handler\" prefix). It replaces a handler of the
// same name. Call it before compiling plans, typically from init.
func Register(name string, f Factory) {
	registryMu.Lock()
	defer registryMu.Unlock()
	registry[canonicalHandlerName(name)] = f
}

// LookupHandler returns the factory registered under name; a handler of
// Magento's tool that shiplog does not have yet is found too, with a
// factory that fails saying why.
func LookupHandler(name string) (Factory, bool) {
	registryMu.RLock()
	f, ok := registry[canonicalHandlerName(name)]
	registryMu.RUnlock()
	if ok {
		return f, true
	}
	for n, why := range magentoOnlyHandlers {
		if canonicalHandlerName(n) == canonicalHandlerName(name) {
			return unsupportedHandler(n, why), true
		}
	}
	return nil, false
}

// Handlers lists the registered handler names.
func Handlers() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// canonicalHandlerName strips Magento's namespace and lower-cases:
// "\Migration\Handler\SetValue" -> "setvalue".
func canonicalHandlerName(name string) string {
	n := strings.TrimSpace(name)
	n = strings.TrimLeft(n, `\`)
	return strings.TrimPrefix(strings.ToLower(n), `migration\handler\`)
}
