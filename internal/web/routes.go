package web

import (
	"net/http"

	"github.com/pubsub-app/pubsub/templates"
)

// The routes whose patterns other code names: the order page (its id is
// checked before a request for it is traced) and the two that are never
// traced.
const (
	routeOrder  = "GET /orders/{id}"
	routeHealth = "GET /healthz"
	routeStyle  = "GET /static/style.css"
)

func (s *Server) routes() {
	s.mux.HandleFunc("GET /{$}", s.handleForm)
	s.mux.HandleFunc("POST /orders", s.handlePlace)
	s.mux.HandleFunc(routeOrder, s.handleOrder)
	s.mux.HandleFunc(routeHealth, s.handleHealth)
	s.mux.Handle(routeStyle, http.StripPrefix("/static/", http.FileServerFS(templates.FS)))
}
