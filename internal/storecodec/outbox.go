package storecodec

// Payload is an outbox message's body for its column: never NULL, since the column holds the
// body as it will be sent, and an empty body is still one.
func Payload(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// Sealed is an outbox message's sealed material for its column: NULL when there is none,
// whether it came as nil or empty, so that it reads back as nil.
func Sealed(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}
