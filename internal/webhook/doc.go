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
package webhook
