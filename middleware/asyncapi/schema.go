package asyncapi

import (
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/invopop/jsonschema"
)

// schemas turns Go types into JSON Schemas with invopop/jsonschema: json
// tags name the properties, omitempty fields are optional and so is every
// field unless its validate tag says "required" (what fiberws's validator
// checks), jsonschema tags add titles, formats and bounds. Named struct
// types become components ("#/components/schemas/Name"), so recursive
// types work and shared types are written once.
type schemas struct {
	r *jsonschema.Reflector
	// names maps each named type to its component name; taken the names
	// in use, to keep types of the same name in two packages apart.
	names map[reflect.Type]string
	taken map[string]reflect.Type
	defs  map[string]json.RawMessage
	// added is the struct types whose validate tags were read.
	added map[reflect.Type]bool
}

func newSchemas() *schemas {
	s := &schemas{
		names: map[reflect.Type]string{},
		taken: map[string]reflect.Type{},
		defs:  map[string]json.RawMessage{},
		added: map[reflect.Type]bool{},
	}
	s.r = &jsonschema.Reflector{
		Anonymous:                  true,
		AllowAdditionalProperties:  true, // Go's decoders ignore unknown fields
		RequiredFromJSONSchemaTags: true, // required comes from validate, below
		Namer:                      s.name,
		Mapper:                     mapType,
	}
	return s
}

var rawMessage = reflect.TypeFor[json.RawMessage]()

// mapType gives the types whose JSON is not what their Go kind suggests
// their schema: raw JSON is any value.
func mapType(t reflect.Type) *jsonschema.Schema {
	if t == rawMessage {
		return &jsonschema.Schema{}
	}
	return nil
}

// name is the component name of t: its Go name with what JSON Schema
// names do not allow replaced, qualified by its package when another type
// took the plain name.
func (s *schemas) name(t reflect.Type) string {
	if n, ok := s.names[t]; ok {
		return n
	}
	if t.Name() == "" {
		return "" // unnamed types (maps, slices) are written inline
	}
	n := sanitize(t.Name())
	if other, ok := s.taken[n]; ok && other != t {
		pkg := t.PkgPath()
		n = sanitize(pkg[strings.LastIndex(pkg, "/")+1:] + "." + t.Name())
		for i := 2; s.taken[n] != nil; i++ {
			n = sanitize(pkg[strings.LastIndex(pkg, "/")+1:]+"."+t.Name()) + "_" + strconv.Itoa(i)
		}
	}
	s.names[t], s.taken[n] = n, t
	return n
}

// sanitize keeps letters, digits, '.', '-' and '_' (the component key
// pattern), replacing the rest with '_'.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '-' || r == '_') {
			return r
		}
		return '_'
	}, s)
}

// of is the schema of t as JSON, with its named types moved to the
// components.
func (s *schemas) of(t reflect.Type) json.RawMessage {
	sc := s.r.ReflectFromType(t)
	s.require(t, sc, sc.Definitions)
	for name, def := range sc.Definitions {
		if _, ok := s.defs[name]; !ok {
			s.defs[name] = s.raw(def)
		}
	}
	sc.Definitions = nil
	sc.Version = ""
	return s.raw(sc)
}

// raw marshals a schema, pointing its references at the components.
func (s *schemas) raw(sc *jsonschema.Schema) json.RawMessage {
	b, err := json.Marshal(sc)
	if err != nil {
		// invopop's schemas always marshal; an empty schema (any value)
		// is the safe answer if one ever does not.
		return json.RawMessage(`{}`)
	}
	return json.RawMessage(strings.ReplaceAll(string(b), `"#/$defs/`, `"#/components/schemas/`))
}

// require marks, in node (the schema of t) and the schemas below it, the
// properties whose validate tag says required, following references into
// defs.
func (s *schemas) require(t reflect.Type, node *jsonschema.Schema, defs jsonschema.Definitions) {
	for node != nil && node.Ref != "" {
		node = defs[strings.TrimPrefix(node.Ref, "#/$defs/")]
	}
	if node == nil {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		s.require(t.Elem(), node.Items, defs)
	case reflect.Map:
		s.require(t.Elem(), node.AdditionalProperties, defs)
	case reflect.Struct:
		if t == reflect.TypeFor[time.Time]() || s.added[t] {
			return
		}
		if t.Name() != "" {
			s.added[t] = true
		}
		s.requireFields(t, node, defs)
	}
}

// requireFields marks t's required fields in node (the schema of t, or of
// the struct t is embedded in) and walks into the fields' schemas.
func (s *schemas) requireFields(t reflect.Type, node *jsonschema.Schema, defs jsonschema.Definitions) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, inline := jsonName(f)
		if inline {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			s.requireFields(ft, node, defs)
			continue
		}
		if name == "" {
			continue
		}
		if required(f) && !slices.Contains(node.Required, name) {
			node.Required = append(node.Required, name)
		}
		if node.Properties != nil {
			if child, ok := node.Properties.Get(name); ok {
				s.require(f.Type, child, defs)
			}
		}
	}
}

// jsonName is the property name of f, "" for a field JSON skips; inline
// reports an embedded struct whose fields JSON promotes.
func jsonName(f reflect.StructField) (name string, inline bool) {
	tag := f.Tag.Get("json")
	if tag == "-" {
		return "", false
	}
	name, _, _ = strings.Cut(tag, ",")
	if name == "" && f.Anonymous {
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct {
			return "", true
		}
	}
	if !f.IsExported() {
		return "", false
	}
	if name == "" {
		name = f.Name
	}
	return name, false
}

// required reports whether f's validate tag requires it ("required" among
// the rules before any "dive").
func required(f reflect.StructField) bool {
	for _, rule := range strings.Split(f.Tag.Get("validate"), ",") {
		switch strings.TrimSpace(rule) {
		case "required":
			return true
		case "dive", "keys":
			return false
		}
	}
	return false
}
