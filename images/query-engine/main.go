// query-engine: the latency-sensitive service of the cpu-throttling-low-average scenario. Every /query costs a
// fixed amount of CPU (rounds of SHA-256), the way a query plan does, so a burst of queries is a burst of CPU
// and its wall time shows whether the CFS quota let it run. /healthz costs nothing. Standard library only, so
// the forge builds it offline.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"log"
	"net/http"
	"time"
)

func work(rounds int) [32]byte {
	sum := sha256.Sum256([]byte("query-engine"))
	for i := 0; i < rounds; i++ {
		sum = sha256.Sum256(sum[:])
	}
	return sum
}

func main() {
	addr := flag.String("listen", ":8080", "address to serve on")
	rounds := flag.Int("rounds", 100000, "SHA-256 rounds one query costs")
	flag.Parse()
	http.HandleFunc("/query", func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sum := work(*rounds)
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "%s %d\n", hex.EncodeToString(sum[:8]), time.Since(start).Microseconds())
	})
	http.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	// one query's cost on this machine, so the log tells what a burst asks of the CPU
	start := time.Now()
	work(*rounds)
	log.Printf("query-engine on %s: one query is %d SHA-256 rounds, %s of CPU here", *addr, *rounds, time.Since(start).Round(time.Microsecond))
	log.Fatal(http.ListenAndServe(*addr, nil))
}
