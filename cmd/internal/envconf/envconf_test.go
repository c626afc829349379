package envconf_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pubsub-app/pubsub/cmd/internal/envconf"
)

type testConfig struct {
	Name  string        `env:"NAME, required"`
	Wait  time.Duration `env:"WAIT, default=20s"`
	Count int           `env:"COUNT, default=3"`
	Token string        `env:"API_TOKEN"`
}

func (c *testConfig) Validate(chk *envconf.Check) {
	chk.Int(&c.Count, 1, 5)
	chk.Seconds(&c.Wait, time.Second, time.Minute)
}

func getenv(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

func TestLoadNamesTheVariable(t *testing.T) {
	for want, env := range map[string]map[string]string{
		`NAME is not set`:                            {},
		`WAIT="soon": want a duration`:               {"NAME": "n", "WAIT": "soon"},
		`COUNT="three": want a whole number`:         {"NAME": "n", "COUNT": "three"},
		"COUNT=9: want a whole number from 1 to 5":   {"NAME": "n", "COUNT": "9"},
		"WAIT=1.5s: SQS takes whole seconds":         {"NAME": "n", "WAIT": "1500ms"},
		"COUNT=0: want a whole number from 1 to 5\n": {"NAME": "n", "COUNT": "0", "WAIT": "2m"},
	} {
		var c testConfig
		err := envconf.Load(getenv(env), &c)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load(%v) error = %v; want it to contain %q", env, err, want)
		}
	}
	var c testConfig
	if err := envconf.Load(getenv(map[string]string{"NAME": "n", "COUNT": ""}), &c); err != nil || c.Count != 3 || c.Wait != 20*time.Second {
		t.Errorf("Load with COUNT empty = %+v, %v; want the defaults (an empty variable is unset)", c, err)
	}
}

func TestPrint(t *testing.T) {
	var b strings.Builder
	c := testConfig{Name: "n", Wait: 90 * time.Second, Count: 2, Token: "hunter2"}
	if err := envconf.Print(&b, c); err != nil {
		t.Fatal(err)
	}
	if want := "NAME=n\nWAIT=1m30s\nCOUNT=2\nAPI_TOKEN=(set, not shown)\n"; b.String() != want {
		t.Errorf("Print =\n%s\nwant\n%s", b.String(), want)
	}
}

func TestCheckConfigFlag(t *testing.T) {
	var out strings.Builder
	if check, err := envconf.CheckConfigFlag([]string{"svc", "-check-config"}, &out); !check || err != nil {
		t.Errorf("-check-config = %v, %v; want true", check, err)
	}
	if check, err := envconf.CheckConfigFlag([]string{"svc"}, &out); check || err != nil {
		t.Errorf("no flags = %v, %v; want false", check, err)
	}
	if _, err := envconf.CheckConfigFlag([]string{"svc", "-verbose"}, &out); err == nil {
		t.Error("an unknown flag: no error")
	}
	if _, err := envconf.CheckConfigFlag([]string{"svc", "extra"}, &out); err == nil {
		t.Error("an argument: no error")
	}
}
