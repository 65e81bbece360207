package fiberws

import (
	stdjson "encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/go-playground/validator/v10"
)

// Validator checks a decoded message body (a pointer to it) and returns a
// *ValidationError, naming the fields that fail by their JSON names, or
// nil. Set one in Config.Validator to validate the typed bodies of
// ordinary routes; event routes (Events) validate their data with it, or
// with NewValidator's when it is unset. Any library fits behind it.
type Validator interface {
	Validate(v any) error
}

// ValidationError is a body that failed validation, or whose fields have
// the wrong JSON types: Fields maps each failing field, by its JSON name
// (dotted for nested ones: "address.city"), to why ("required", "min=3",
// "must be an integer"). On an event route it becomes the error reply's
// "fields"; on an ordinary route the default closes with 1007 and a
// short reason naming the fields, and catchers can do otherwise.
type ValidationError struct {
	Fields map[string]string
}

// Error lists the fields and reasons, sorted, for logs.
func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("fiberws: invalid message")
	for i, f := range e.fieldNames() {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f + " " + e.Fields[f])
	}
	return b.String()
}

func (e *ValidationError) fieldNames() []string {
	names := make([]string, 0, len(e.Fields))
	for f := range e.Fields {
		names = append(names, f)
	}
	slices.Sort(names)
	return names
}

// closeReason is the short reason of the 1007 an ordinary route closes
// with: the fields' names, not their values.
func (e *ValidationError) closeReason() string {
	return truncateReason("invalid message: " + strings.Join(e.fieldNames(), ", "))
}

// NewValidator returns a Validator built on go-playground/validator (v10):
// the struct tags `validate:"required,min=3"` check a body, and errors
// name fields by their `json` tags. Types without any validate tag cost
// nothing to check.
func NewValidator() Validator {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(jsonName)
	return &playground{v: v}
}

// validatorFor is the validator of a route's bodies: Config.Validator for
// typed bodies other than raw text and bytes; on an event route, that or
// NewValidator's.
func validatorFor(cfg Config, r Route) Validator {
	if r.isEvents {
		if cfg.Validator != nil {
			return cfg.Validator
		}
		return defaultValidator()
	}
	if cfg.Validator == nil || r.in == nil {
		return nil
	}
	switch r.in {
	case reflect.TypeFor[string](), reflect.TypeFor[[]byte](), reflect.TypeFor[*string](), reflect.TypeFor[*[]byte](), reflect.TypeFor[None]():
		return nil
	}
	return cfg.Validator
}

// validatorOf is v, or nil when v is NewValidator's and t has no validate
// tags to check.
func validatorOf(v Validator, t reflect.Type) Validator {
	if p, ok := v.(*playground); ok && !p.hasTags(t) {
		return nil
	}
	return v
}

// validateBody checks a decoded body with the route's validator. Callers
// check that there is one first: in is copied to the heap here, and only
// here, so that routes without validation pay nothing.
func validateBody[In any](s *Session, in In) error {
	return s.route.validator.Validate(&in)
}

// defaultValidator is NewValidator's, shared by the event routes of every
// Server without a Config.Validator.
var defaultValidator = sync.OnceValue(NewValidator)

type playground struct {
	v      *validator.Validate
	tagged sync.Map // reflect.Type -> bool: whether the type has validate tags
}

// Validate checks v when it is a struct or a pointer to one.
func (p *playground) Validate(v any) error {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct || !p.hasTags(rv.Type()) {
		return nil
	}
	err := p.v.Struct(rv.Interface())
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) {
		return err
	}
	fields := make(map[string]string, len(verrs))
	for _, fe := range verrs {
		name := fe.Namespace()
		if _, rest, ok := strings.Cut(name, "."); ok {
			name = rest // the top struct's name
		}
		reason := fe.Tag()
		if fe.Param() != "" {
			reason += "=" + fe.Param()
		}
		fields[name] = reason
	}
	return &ValidationError{Fields: fields}
}

func (p *playground) hasTags(t reflect.Type) bool {
	if v, ok := p.tagged.Load(t); ok {
		return v.(bool)
	}
	has := typeHasTag(t, "validate", map[reflect.Type]bool{})
	p.tagged.Store(t, has)
	return has
}

func typeHasTag(t reflect.Type, tag string, seen map[reflect.Type]bool) bool {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || seen[t] {
		return false
	}
	seen[t] = true
	for i := range t.NumField() {
		f := t.Field(i)
		if _, ok := f.Tag.Lookup(tag); ok || typeHasTag(f.Type, tag, seen) {
			return true
		}
	}
	return false
}

// jsonName is a field's name in JSON: its json tag, or its Go name.
func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	switch name {
	case "-":
		return ""
	case "":
		return f.Name
	}
	return name
}

// describeDecodeError turns a failed decode of data into v's type into a
// ValidationError naming the mistyped field, when it can: go-json's errors
// name Go fields (or none), so the standard library, which names the JSON
// path, reads the data again; only failures pay for it. It returns nil
// when the data is not JSON at all, or no field can be named.
func describeDecodeError[T any](data []byte) *ValidationError {
	var v T
	err := stdjson.Unmarshal(data, &v)
	var te *stdjson.UnmarshalTypeError
	if !errors.As(err, &te) {
		return nil
	}
	field := te.Field
	if field == "" {
		field = "."
	}
	return &ValidationError{Fields: map[string]string{field: "must be " + jsonKind(te.Type)}}
}

// jsonKind names what JSON value a Go type takes.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "of type " + t.String()
}
