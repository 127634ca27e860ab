package transform

import (
	"fmt"
	"slices"
	"strings"
)

// NewPlan is the plan of the given table plans (compiled, perhaps routed or
// widened since). Two plans of one source table, or two that write one
// destination table, are an error naming both.
func NewPlan(tables ...*TablePlan) (*Plan, error) {
	p := &Plan{tables: make(map[string]*TablePlan, len(tables))}
	dests := map[string]string{}
	for _, tp := range tables {
		if _, ok := p.tables[tp.Source.Name]; ok {
			return nil, fmt.Errorf("source table %s is planned twice", tp.Source.Name)
		}
		d := strings.ToLower(tp.Dest.Schema + "." + tp.Dest.Name)
		if other, ok := dests[d]; ok {
			return nil, fmt.Errorf("destination table %s is written by the plans of both %s and %s", tp.Dest.Name, other, tp.Source.Name)
		}
		dests[d] = tp.Source.Name
		p.tables[tp.Source.Name] = tp
		p.names = append(p.names, tp.Source.Name)
	}
	slices.Sort(p.names)
	return p, nil
}

// Merge is the plan of p's tables and q's: the stream of several steps'
// plans. A source table both plan, or a destination table both write, is an
// error naming it and what plans it: two plans would write the same rows.
// pName and qName say whose plans they are (a map file, a step).
func Merge(p, q *Plan, pName, qName string) (*Plan, error) {
	for _, tp := range q.Tables() {
		if p.Table(tp.Source.Name) != nil {
			return nil, fmt.Errorf("source table %s is planned by both %s and %s: ignore it in one of them", tp.Source.Name, pName, qName)
		}
		for _, o := range p.Tables() {
			if strings.EqualFold(o.Dest.Schema, tp.Dest.Schema) && strings.EqualFold(o.Dest.Name, tp.Dest.Name) {
				return nil, fmt.Errorf("destination table %s is written by both %s (from %s) and %s (from %s): ignore it in one of them",
					tp.Dest.Name, pName, o.Source.Name, qName, tp.Source.Name)
			}
		}
	}
	return NewPlan(append(p.Tables(), q.Tables()...)...)
}
