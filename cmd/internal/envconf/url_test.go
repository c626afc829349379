package envconf_test

import (
	"strings"
	"testing"

	"github.com/pubsub-app/pubsub/cmd/internal/envconf"
)

type urlConfig struct {
	Endpoint string `env:"OTEL_EXPORTER_OTLP_ENDPOINT"`
}

func (c *urlConfig) Validate(chk *envconf.Check) { chk.HTTPURL(&c.Endpoint) }

func TestHTTPURL(t *testing.T) {
	for v, ok := range map[string]bool{
		"": true, "http://localhost:4318": true, "https://collector.example.com/otlp": true,
		"localhost:4318": false, "grpc://localhost:4317": false, "http://": false, "http://a b": false,
	} {
		var c urlConfig
		err := envconf.Load(getenv(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": v}), &c)
		switch {
		case ok && err != nil:
			t.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT=%q: %v; want it accepted", v, err)
		case !ok && (err == nil || !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_ENDPOINT="+v+": want an http:// or https:// URL")):
			t.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT=%q: error %v; want one naming the variable", v, err)
		}
	}
}
