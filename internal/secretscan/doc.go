// Package secretscan implements the partner side of GitHub's secret scanning partner
// program: it checks that an alert really comes from GitHub, decodes the tokens it reports,
// and shapes the feedback GitHub asks for in the answer. It knows nothing of Keyward: the
// caller decides which reported tokens are its own and what to do with them (revoke them,
// tell their owner).
//
// # The contract
//
// GitHub POSTs a JSON array of reports, [{"token", "type", "url", "source"}], with two
// headers: Github-Public-Key-Identifier, the hex identifier of the key that signed, and
// Github-Public-Key-Signature, the standard base64 of an ASN.1 DER ECDSA P-256 signature
// over the SHA-256 of the raw body. The public keys are published at DefaultKeysURL as
// {"public_keys": [{"key_identifier", "key" (PEM), "is_current"}]}. The partner answers 200
// with a JSON array of Feedback, one per report it can judge.
//
// # Checking the signature
//
// Verifier.Verify checks the cheap things first (both headers present, the signature well
// formed) so that junk never costs a request to GitHub. It keeps the published keys and,
// when a delivery names an identifier it does not know, fetches them again, since that is
// how a rotation shows itself; but at most once per Options.MinRefetch, so that a flood of
// made-up identifiers cannot turn Keyward into a client hammering GitHub's API (which allows
// an unauthenticated address 60 requests an hour). Callers that arrive while a fetch is under
// way wait for that one fetch instead of starting their own. Only ECDSA P-256 keys are used;
// any other published key is kept aside and a delivery signed with it is refused with
// ErrUnsupportedKey.
//
// Verify must be given the body exactly as received: decode it only after it verifies.
//
// # Answering
//
// Feedback names a token either raw (token_raw) or by the hex SHA-256 of it (token_hash,
// see HashToken). The rule: never echo a secret that is not ours. A token the caller
// recognises as one of its own, live or not, is a true positive and may be answered raw: it
// is ours, and it is already public. Every other token is answered by its hash only, so that
// the answer never repeats someone else's secret, in GitHub's logs or anyone's. Report.Feedback
// applies the rule; build a Feedback by hand only with the same care.
//
// Reports and errors never print a token: Report's String, GoString and LogValue leave it
// out, and ParseReports' errors name the report by its position.
package secretscan
