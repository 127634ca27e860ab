package transform

// IgnoresSource reports whether the rules leave the source table name out of
// the migration: it lies outside the source prefix (another installation's
// table), or a source document ignore rule (a name or a wildcard) matches it.
// A table the rules do not leave out is expected in the plan.
func (r *Rules) IgnoresSource(name string) bool {
	base, ok := cutPrefix(name, r.SourcePrefix)
	if !ok {
		return true
	}
	for _, rule := range r.Source.IgnoreDocuments {
		if newPattern(rule).match(base) {
			return true
		}
	}
	return false
}
