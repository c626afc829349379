package web

import (
	"math/rand/v2"

	"github.com/pubsub-app/pubsub/internal/money"
)

var (
	firstNames = []string{"Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Dennis", "Radia", "Niklaus", "Shafi", "Tony", "Leslie", "Katherine"}
	lastNames  = []string{"Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Hamilton", "Ritchie", "Perlman", "Wirth", "Goldwasser", "Hoare", "Lamport", "Johnson"}
)

// RandomSample returns a random full name and a random total between 0.01 and
// 100.00, as the original sample's form did.
func RandomSample() (customer, amount string) {
	customer = firstNames[rand.IntN(len(firstNames))] + " " + lastNames[rand.IntN(len(lastNames))]
	return customer, money.Cents(1 + rand.Int64N(int64(100_00))).String()
}
