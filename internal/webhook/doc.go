// Package webhook sends Keyward's webhooks: Standard Webhooks signing and its receiver's
// check, an HTTP client that will not reach internal addresses, one delivery attempt and the
// retry schedule. It holds no state and knows nothing of the outbox: the deliverer claims a
// message, asks Sender.Send for one attempt, and records the Result and the time
// NextAttempt gives.
//
// # Signing
//
// Messages are signed as https://www.standardwebhooks.com/ says: the headers webhook-id,
// webhook-timestamp (Unix seconds) and webhook-signature, a space-separated list of
// "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>", one per secret, so that during a
// rotation the old and the new secret both sign and a receiver that knows either accepts.
// Secrets are written "whsec_" and the base64 of 32 random bytes. The tests prove that the
// official Go library verifies what Sign makes and that Verify accepts what it makes.
//
// # Reaching only the public internet
//
// Whoever registers an endpoint chooses where Keyward's servers send a request, so the
// client refuses, unless Options.AllowPrivate, every address outside the public internet:
// loopback, private, link-local (the cloud metadata address among them), carrier-grade NAT,
// unspecified, multicast, broadcast and the other special-purpose ranges, also when written
// as IPv4-mapped IPv6, NAT64 or 6to4. It checks in the dialer's Control, against the address
// it is about to connect to, after DNS: a name that resolves to an internal address, or
// rebinds to one after a check, is caught like the address itself. CheckURL applies the same
// rules, without DNS, when a URL is registered, so that a person hears about the mistake at
// once. The client follows no redirect and uses no proxy.
//
// The address rules are code.dny.dev/ssrf's: its IPv4 list is generated from IANA's
// special-purpose registry, and for IPv6 it allows only global unicast (2000::/3) less that
// registry's entries, so a range nobody thought of is refused rather than let through. It
// fits as it is: we call its SafeAddr on the address alone, after unmapping IPv4-mapped
// IPv6 addresses (which it would otherwise refuse even when public), and name the kind of
// address ourselves for the error. Its port rule (80 and 443 by default) is off: receivers
// listen on all sorts of ports, and a port matters only on an address that is refused
// anyway.
//
// Endpoints must use https unless Options.AllowHTTP: webhooks carry signed events and, on a
// key's rotation, the new secret.
//
// # One attempt
//
// Sender.Send POSTs the body, signed, and classifies the answer as the spec suggests: 2xx
// is Delivered, 410 Gone (the endpoint asks to be disabled), and everything else, 3xx and
// every 4xx among it, Retry, since a receiver's 401 or 404 is as often a passing mistake as
// a lasting one. It reads at most Options.MaxResponseBody of the answer, keeps its start for
// the delivery log, and gives up after Options.Timeout.
//
// # The retry schedule
//
// A message gets MaxAttempts attempts: the first at once, then after 5 s, 5 min, 30 min,
// 2 h, 5 h, 10 h, 14 h, 20 h and 24 h, the spec's example schedule, which spans about 75½
// hours, a little over three days, before NextAttempt says to give up. Each delay is moved
// by up to ±20% at random, so that the messages of one endpoint's outage do not all come
// back at once; the random source is the caller's, so that tests know the times.
package webhook
