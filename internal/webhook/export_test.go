package webhook

import "net/http"

// NewClientBeforeConnect is NewClient with a hook called before each connection that the
// address check let through.
func NewClientBeforeConnect(opts Options, beforeConnect func(network, address string) error) *http.Client {
	return newClient(opts, beforeConnect)
}
