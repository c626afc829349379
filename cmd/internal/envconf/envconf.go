// Package envconf loads a binary's configuration from its environment: the
// configuration is declared once, as a struct whose fields carry env tags
// (github.com/sethvargo/go-envconfig: `env:"PORT, default=5000"`,
// `env:"ORDERS_TABLE_NAME, required"`), checked by the struct's Validate, and
// printed by the -check-config flag every binary takes. Every error names the
// variable.
package envconf

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/sethvargo/go-envconfig"
)

// Validator is a configuration, or a part of one, that checks its values
// once they are loaded.
type Validator interface {
	Validate(c *Check)
}

// Load fills cfg, a pointer to a struct with env tags, from getenv (an empty
// variable counts as unset, as Copilot leaves an unset one), then runs the
// Validate of each of its struct fields that has one, and its own. The error
// names the variable, and lists every failed check.
func Load(getenv func(string) string, cfg any) error {
	var key, val string // the variable being decoded, for its error
	err := envconfig.ProcessWith(context.Background(), &envconfig.Config{
		Target: cfg,
		Lookuper: envconfig.LookuperFunc(func(k string) (string, bool) {
			v := getenv(k)
			return v, v != ""
		}),
		Mutators: []envconfig.Mutator{envconfig.MutatorFunc(func(_ context.Context, k, _, v, _ string) (string, bool, error) {
			key, val = k, v
			return v, false, nil
		})},
	})
	switch {
	case errors.Is(err, envconfig.ErrMissingRequired):
		missing := err.Error()[strings.LastIndex(err.Error(), " ")+1:]
		return fmt.Errorf("%s is not set: Copilot injects it on deploy; set it when running locally", missing)
	case err != nil && key != "":
		return fmt.Errorf("%s=%q: %s", key, val, explain(err))
	case err != nil:
		return err
	}
	c := &Check{root: reflect.ValueOf(cfg).Elem()}
	c.validate(c.root)
	return errors.Join(c.errs...)
}

// validate runs the Validate of v's struct fields, depth first, then v's.
func (c *Check) validate(v reflect.Value) {
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.Struct && v.Type().Field(i).IsExported() {
			c.validate(f)
		}
	}
	if val, ok := v.Addr().Interface().(Validator); ok {
		val.Validate(c)
	}
}

// explain says what a value that did not parse should have been.
func explain(err error) string {
	var num *strconv.NumError
	switch {
	case errors.As(err, &num):
		return "want a whole number"
	case strings.Contains(err.Error(), "time: "):
		return "want a duration such as 20s or 1m30s"
	}
	// Peel go-envconfig's "Field: " prefixes off the decoder's own message.
	for u := errors.Unwrap(err); u != nil; u = errors.Unwrap(err) {
		err = u
	}
	return err.Error()
}

// CheckConfigFlag parses the binary's arguments (args[0] is its name) and
// reports whether -check-config was given: load and validate the
// configuration, print it and exit, without touching AWS.
func CheckConfigFlag(args []string, out io.Writer) (bool, error) {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(out)
	check := fs.Bool("check-config", false, "load and validate the configuration from the environment, print it and exit")
	if err := fs.Parse(args[1:]); err != nil {
		return false, err
	}
	if fs.NArg() > 0 {
		return false, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return *check, nil
}

// Configure is a binary's start: it loads C from getenv and, given
// -check-config in args, prints it; done is then true and the binary exits
// with err.
func Configure[C any](service string, args []string, getenv func(string) string, stdout io.Writer) (cfg C, done bool, err error) {
	checkOnly, err := CheckConfigFlag(args, stdout)
	if err != nil {
		return cfg, true, err
	}
	if err := Load(getenv, &cfg); err != nil {
		return cfg, true, fmt.Errorf("configure %s: %w", service, err)
	}
	if checkOnly {
		return cfg, true, Print(stdout, cfg)
	}
	return cfg, false, nil
}

// Print writes cfg one setting a line, VARIABLE=value, in the order the
// struct declares them; the value of a variable whose name contains SECRET or
// TOKEN is masked.
func Print(w io.Writer, cfg any) error {
	var b strings.Builder
	fields(reflect.Indirect(reflect.ValueOf(cfg)), func(key string, v reflect.Value) {
		val := format(v)
		if strings.Contains(key, "SECRET") || strings.Contains(key, "TOKEN") {
			val = "(set, not shown)"
		}
		fmt.Fprintf(&b, "%s=%s\n", key, val)
	})
	_, err := io.WriteString(w, b.String())
	return err
}

// fields calls fn for each field of struct v with an env tag, descending into
// embedded and nested structs that have none.
func fields(v reflect.Value, fn func(key string, field reflect.Value)) {
	for i := range v.NumField() {
		f, tf := v.Field(i), v.Type().Field(i)
		key, _, _ := strings.Cut(tf.Tag.Get("env"), ",")
		key = strings.TrimSpace(key)
		switch {
		case key != "":
			fn(key, f)
		case f.Kind() == reflect.Struct && tf.IsExported():
			fields(f, fn)
		}
	}
}

func format(v reflect.Value) string {
	switch x := v.Interface().(type) {
	case time.Duration:
		return x.String()
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v.Interface())
}

// Check collects what Validate finds wrong, each error naming its variable.
type Check struct {
	root reflect.Value
	errs []error
}

// Name returns the variable of a field of the configuration, given its address.
func (c *Check) Name(field any) string {
	p := reflect.ValueOf(field)
	var name string
	fields(c.root, func(key string, f reflect.Value) {
		if f.CanAddr() && f.Addr().Pointer() == p.Pointer() && f.Type() == p.Elem().Type() {
			name = key
		}
	})
	if name == "" {
		panic(fmt.Sprintf("envconf: %T is not a field of the configuration with an env tag", field))
	}
	return name
}

// Failf records that the field (by address) is wrong: VARIABLE=value: reason.
func (c *Check) Failf(field any, reason string, args ...any) {
	value := format(reflect.ValueOf(field).Elem())
	c.errs = append(c.errs, fmt.Errorf("%s=%s: %s", c.Name(field), value, fmt.Sprintf(reason, args...)))
}

// Int checks that *field lies within [lo, hi].
func (c *Check) Int(field *int, lo, hi int) {
	if *field < lo || *field > hi {
		c.Failf(field, "want a whole number from %d to %d", lo, hi)
	}
}

// Duration checks that *field lies within [lo, hi].
func (c *Check) Duration(field *time.Duration, lo, hi time.Duration) {
	if *field < lo || *field > hi {
		c.Failf(field, "want a duration from %s to %s", lo, hi)
	}
}

// Seconds checks that *field is a whole number of seconds within [lo, hi]:
// SQS counts in seconds, so 500ms would silently become 0.
func (c *Check) Seconds(field *time.Duration, lo, hi time.Duration) {
	switch {
	case *field%time.Second != 0:
		c.Failf(field, "SQS takes whole seconds, such as 1s or 20s")
	default:
		c.Duration(field, lo, hi)
	}
}

// HTTPURL checks that *field, when set, is an http:// or https:// URL with
// a host.
func (c *Check) HTTPURL(field *string) {
	if *field == "" {
		return
	}
	if u, err := url.Parse(*field); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		c.Failf(field, "want an http:// or https:// URL, such as http://localhost:4318")
	}
}

// Ratio checks a share: 0 to 1.
func (c *Check) Ratio(field *float64) {
	if *field < 0 || *field > 1 {
		c.Failf(field, "%v: want a share from 0 to 1", *field)
	}
}

// LogLevel checks a LOG_LEVEL: debug, info, warn or error.
func (c *Check) LogLevel(field *string) {
	switch strings.ToLower(*field) {
	case "debug", "info", "warn", "error":
	default:
		c.Failf(field, "want debug, info, warn or error")
	}
}
