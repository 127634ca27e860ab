package step

import (
	"cmp"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/shiplog/shiplog/config"
	"github.com/shiplog/shiplog/transform"
)

// Def describes a step shiplog has.
type Def struct {
	// Name is the step's short name ("Map"), unique in a Registry.
	Name string
	// Title is the reference tool's title in config.xml ("Map Step"),
	// matched without regard to case.
	Title string
	// Class is the reference's namespace of the step's stage classes
	// (`Migration\Step\Map`): a config.xml step whose every stage class is
	// in it is this step, whatever its title (users rename steps but keep
	// the classes).
	Class string
	// Default are the modes the step runs in when config.xml lists no step
	// for the mode (or there is no config.xml); it runs in them too when
	// config.xml lists the mode's steps without it (last, with a warning),
	// as shiplog always did.
	Default []Mode
	// New makes the step for one mode run.
	New func() Step
}

// Registry holds the steps shiplog has. A config.xml step is supported when
// a registered step matches it (Lookup).
type Registry struct {
	defs []Def
}

// Register adds d; a second step of the same name, title or class is an
// error.
func (r *Registry) Register(d Def) error {
	if d.Name == "" || d.New == nil {
		return fmt.Errorf("step %q: a step needs a name and a constructor", d.Name)
	}
	for _, o := range r.defs {
		if strings.EqualFold(o.Name, d.Name) || (d.Title != "" && strings.EqualFold(o.Title, d.Title)) || (d.Class != "" && o.Class == d.Class) {
			return fmt.Errorf("step %q is registered twice (as %q)", d.Name, o.Name)
		}
	}
	r.defs = append(r.defs, d)
	return nil
}

// Lookup finds the registered step a config.xml step is: by its title, or
// because every one of its stage classes is in the step's namespace.
func (r *Registry) Lookup(s config.Step) (Def, bool) {
	for _, d := range r.defs {
		if d.Title != "" && strings.EqualFold(strings.TrimSpace(s.Title), d.Title) {
			return d, true
		}
	}
	if len(s.Classes) == 0 {
		return Def{}, false
	}
	for _, d := range r.defs {
		if d.Class == "" {
			continue
		}
		if !slices.ContainsFunc(s.Classes, func(c string) bool { return c != d.Class && !strings.HasPrefix(c, d.Class+`\`) }) {
			return d, true
		}
	}
	return Def{}, false
}

// Planned is a step chosen to run in a mode.
type Planned struct {
	Def Def
	// Title is the step's title in config.xml, or the Def's title.
	Title string
	Step  Step
}

// Select returns the steps mode runs: those config.xml lists for it (listed:
// the steps of every mode, in file order), in that order. A listed step no
// registered step matches is left out and returned as an integrity error
// naming it and what a migration without it lacks (--auto makes it a
// warning: no step is skipped silently); a registered step listed twice
// runs once, where it is first listed. Without a listed step for the mode,
// the steps whose Default holds mode run, in registration order; with
// listed ones, a Default step config.xml leaves out runs after them, with a
// warning. Each step is made anew (Def.New).
func (r *Registry) Select(mode Mode, listed []config.Step, log *slog.Logger) ([]Planned, []transform.Problem) {
	var out []Planned
	var problems []transform.Problem
	has := func(name string) bool {
		return slices.ContainsFunc(out, func(p Planned) bool { return p.Def.Name == name })
	}
	listedMode := false
	for _, s := range listed {
		if Mode(s.Mode) != mode {
			continue
		}
		listedMode = true
		d, ok := r.Lookup(s)
		if !ok {
			msg := fmt.Sprintf("config.xml lists the Magento step %q for %s mode, which shiplog does not have", strings.TrimSpace(s.Title), s.Mode)
			if lost := stepLoss(s); lost != "" {
				msg += ": without it " + lost
			}
			msg += fmt.Sprintf("; remove it from <steps mode=%q> in config.xml, or pass --auto to run the mode without it", s.Mode)
			problems = append(problems, transform.Problem{Severity: transform.Error, Area: "config", Table: "config.xml", Msg: msg})
			continue
		}
		if has(d.Name) {
			log.Info(fmt.Sprintf("Magento step %q (mode %s) is the %s step again; it runs once", s.Title, s.Mode, d.Name), "stage", "config")
			continue
		}
		out = append(out, Planned{Def: d, Title: cmp.Or(strings.TrimSpace(s.Title), d.Title, d.Name), Step: d.New()})
	}
	for _, d := range r.defs {
		if !slices.Contains(d.Default, mode) || has(d.Name) {
			continue
		}
		if listedMode {
			log.Warn(fmt.Sprintf("config.xml lists no %s for mode %s; shiplog runs it anyway, after the listed steps", cmp.Or(d.Title, d.Name), mode), "stage", "config")
		}
		out = append(out, Planned{Def: d, Title: cmp.Or(d.Title, d.Name), Step: d.New()})
	}
	return out, problems
}

// lostWithout says, by the namespace of a Magento step's classes
// (Migration\Step\<name>\...), what a migration without that step lacks.
var lostWithout = map[string]string{
	"dataintegrity":      "orphaned rows (foreign keys the source breaks) are not looked for before the copy",
	"stores":             "stores, store groups and websites are not migrated",
	"eav":                "EAV attributes, attribute sets, groups and options are not migrated, and the catalog_*_entity_* values the Map step copies keep Magento 1 attribute_ids, which name other attributes in Magento 2",
	"customer":           "customer and customer address attributes and their values are not migrated",
	"urlrewrite":         "URL rewrites are not migrated (product and category URLs answer 404)",
	"log":                "customer visitor logs are not migrated",
	"ratings":            "ratings are not made visible in the stores they were visible in",
	"configurableprices": "configurable products' super attribute prices are not migrated",
	"ordergrids":         "order, invoice, shipment and credit memo grids are not rebuilt (migrated orders are missing from the admin grids)",
	"tierprice":          "tier and group prices are not migrated",
	"salesincrement":     "the sales sequences are not set (new orders, invoices, shipments and credit memos may reuse migrated numbers)",
	"inventory":          "stock quantities and statuses are not migrated",
	"postprocessing":     "rows the other steps leave behind (attributes of removed products, product relations) are not cleaned up",
}

// stepLoss is what a migration without step s lacks ("" when unknown).
func stepLoss(s config.Step) string {
	for _, c := range s.Classes {
		parts := strings.Split(strings.TrimLeft(c, `\`), `\`)
		if len(parts) >= 3 && strings.EqualFold(parts[0], "Migration") && strings.EqualFold(parts[1], "Step") {
			if l, ok := lostWithout[strings.ToLower(parts[2])]; ok {
				return l
			}
		}
	}
	return ""
}
