package web

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/pubsub-app/pubsub/internal/checkout"
	"github.com/pubsub-app/pubsub/internal/order"
)

type formPage struct {
	ID, Customer, Amount string
	Problem              string
	Errors               map[string]string
	// Unconfirmed is set when placing this order failed in a way that may
	// have stored it: the page links to where it would be.
	Unconfirmed bool
}

func (s *Server) handleForm(w http.ResponseWriter, r *http.Request) {
	customer, amount := s.sample()
	w.Header().Set("Cache-Control", "no-store") // each form carries a fresh order id
	s.render(w, http.StatusOK, "form", formPage{ID: s.newID(), Customer: customer, Amount: amount})
}

func (s *Server) handlePlace(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.renderError(w, http.StatusRequestEntityTooLarge, "Request too large", "The form sent more data than an order can hold.")
			return
		}
		s.renderError(w, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	id := r.PostForm.Get("id")
	if id == "" {
		// A client that posts without a form (curl, a script) gets a new id.
		id = s.newID()
	}
	o, err := order.ParseNew(id, r.PostForm.Get("customer"), r.PostForm.Get("amount"))
	var invalid *order.ValidationError
	if errors.As(err, &invalid) {
		page := formPage{ID: id, Customer: r.PostForm.Get("customer"), Amount: r.PostForm.Get("amount"), Errors: map[string]string{}}
		for _, f := range invalid.Fields {
			page.Errors[f.Field] = f.Err.Error()
		}
		if _, bad := page.Errors["id"]; bad {
			page.ID = s.newID()
			page.Problem = "This form had no valid order id; a new one has been issued. Check the order and submit it again."
		} else {
			page.Problem = "The order was not placed. Please correct the fields marked below."
		}
		// An id that failed validation is the client's text, up to the body
		// limit (16 KB): it is logged as a length and a hash, a valid one as
		// itself.
		idAttr := slog.String("order_id", id)
		if _, bad := page.Errors["id"]; bad {
			idAttr = fingerprint("posted_id", id)
		}
		s.log.Info("order rejected", idAttr, "error", err)
		s.render(w, http.StatusBadRequest, "form", page)
		return
	}
	traceOrder(r.Context(), o.ID)
	rec, err := s.orders.Place(r.Context(), o)
	switch {
	case errors.Is(err, checkout.ErrConflict):
		s.renderError(w, http.StatusConflict, "Order id already used", "An order with this id exists with different details. Open a fresh form to place a new order.")
		return
	case err != nil:
		// The write may have reached the table before the error (a timeout,
		// a lost answer), so the order may be placed. The form goes back with
		// the same id: sending it again places the order at most once, where
		// a fresh form would place a second one.
		s.log.Error("place order", "order_id", o.ID, "error", err)
		w.Header().Set("Cache-Control", "no-store")
		s.render(w, http.StatusServiceUnavailable, "form", formPage{
			ID: o.ID, Customer: o.Customer, Amount: o.Amount.String(), Unconfirmed: true,
			Problem: "We could not confirm your order just now: it may already have been placed. " +
				"Submitting this form again is safe: it carries the same order id, so the order is placed only once.",
		})
		return
	}
	http.Redirect(w, r, "/orders/"+rec.ID, http.StatusSeeOther)
}

func (s *Server) handleOrder(w http.ResponseWriter, r *http.Request) {
	// The page shows a customer's name and order: no shared cache may keep it.
	w.Header().Set("Cache-Control", "no-store, private")
	id, err := order.ParseID(r.PathValue("id"))
	if err != nil {
		s.renderError(w, http.StatusNotFound, "Order not found", "There is no order with this id.")
		return
	}
	// A DynamoDB that does not answer costs the page OrderReadTimeout, not
	// the server's write timeout; the journey's reads have their own bound.
	ctx, cancel := context.WithTimeout(r.Context(), OrderReadTimeout)
	rec, err := s.orders.Get(ctx, id)
	cancel()
	switch {
	case errors.Is(err, checkout.ErrNotFound):
		s.renderError(w, http.StatusNotFound, "Order not found", "There is no order with this id.")
		return
	case errors.Is(err, context.DeadlineExceeded) && r.Context().Err() == nil:
		s.log.Error("get order", "order_id", id, "error", err, "timeout", OrderReadTimeout.String())
		s.renderError(w, http.StatusServiceUnavailable, "Order unavailable",
			"The order store did not answer within "+OrderReadTimeout.String()+"; please try again in a moment.")
		return
	case err != nil:
		s.log.Error("get order", "order_id", id, "error", err)
		s.renderError(w, http.StatusServiceUnavailable, "Order unavailable", "The order could not be read just now; please try again.")
		return
	}
	s.render(w, http.StatusOK, "order", s.orderJourney(r.Context(), rec))
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.health.Ping(r.Context()); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("unhealthy: orders table unreachable\n"))
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

type errorPage struct{ Title, Message string }

func (s *Server) renderError(w http.ResponseWriter, status int, title, msg string) {
	s.render(w, status, "error", errorPage{Title: title, Message: msg})
}

// render executes a page into a buffer first, so a template error becomes a
// clean 500 rather than half a page.
func (s *Server) render(w http.ResponseWriter, status int, page string, data any) {
	var buf bytes.Buffer
	if err := s.pages[page].ExecuteTemplate(&buf, "layout", data); err != nil {
		s.log.Error("render page", "page", page, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}
