package web

import (
	"net/http"

	"github.com/pubsub-app/pubsub/templates"
)

func (s *Server) routes() {
	s.mux.HandleFunc("GET /{$}", s.handleForm)
	s.mux.HandleFunc("POST /orders", s.handlePlace)
	s.mux.HandleFunc("GET /orders/{id}", s.handleOrder)
	s.mux.HandleFunc("GET /healthz", s.handleHealth)
	s.mux.Handle("GET /static/style.css", http.StripPrefix("/static/", http.FileServerFS(templates.FS)))
}
