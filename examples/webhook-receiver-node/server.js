// An example receiver of Keyward's webhooks. It verifies each request's Standard Webhooks
// signature with the official library (npm "standardwebhooks"), answers 204 to a message it
// accepts and 400 to one it does not, and prints the event's type and data, never a secret.
//
//   KEYWARD_WEBHOOK_SECRET=whsec_… node server.js --addr 127.0.0.1:8090
"use strict";

const http = require("node:http");
const { parseArgs } = require("node:util");
const { Webhook } = require("standardwebhooks");

// Keyward's events are small; bound what is read before verifying.
const MAX_BODY = 1 << 20;

// The data fields printed only as "[redacted]": a rotated key's new secret, and a key's
// plaintext.
const SENSITIVE = new Set(["secret", "key"]);

const { values } = parseArgs({
  options: { addr: { type: "string", default: process.env.KEYWARD_WEBHOOK_ADDR || "127.0.0.1:8090" } },
});

const secret = process.env.KEYWARD_WEBHOOK_SECRET;
if (!secret) {
  console.error("set KEYWARD_WEBHOOK_SECRET to the endpoint's signing secret (whsec_…)");
  process.exit(1);
}
let wh;
try {
  wh = new Webhook(secret);
} catch (err) {
  console.error(`KEYWARD_WEBHOOK_SECRET is not a webhook secret: ${err.message}`);
  process.exit(1);
}

function redact(v) {
  if (Array.isArray(v)) return v.map(redact);
  if (v !== null && typeof v === "object") {
    const out = {};
    for (const [k, e] of Object.entries(v)) out[k] = SENSITIVE.has(k) ? "[redacted]" : redact(e);
    return out;
  }
  return v;
}

function answer(res, status, text) {
  if (status === 204) {
    res.writeHead(204).end();
  } else {
    res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8" }).end(`${text}\n`);
  }
}

const server = http.createServer((req, res) => {
  if (req.method !== "POST") {
    res.setHeader("Allow", "POST");
    return answer(res, 405, "POST only");
  }
  const chunks = [];
  let size = 0;
  let tooBig = false;
  req.on("data", (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY) {
      tooBig = true;
      return;
    }
    chunks.push(chunk);
  });
  req.on("end", () => {
    if (tooBig) return answer(res, 413, "body too large");
    // Verify the exact bytes received, not a re-serialized JSON: the signature is over them.
    const body = Buffer.concat(chunks);
    const id = req.headers["webhook-id"] ?? "";
    let event;
    try {
      // verify checks the three headers, the timestamp (five minutes either way) and every
      // "v1," signature in webhook-signature, so a rotation's two signatures are accepted
      // when either is made with our secret. It returns the parsed JSON.
      event = wh.verify(body, req.headers);
    } catch (err) {
      console.log(`rejected ${JSON.stringify(id)}: ${err.message}`);
      return answer(res, 400, err instanceof SyntaxError ? "not a JSON event" : "invalid signature");
    }
    if (event === null || typeof event !== "object") {
      console.log(`rejected ${JSON.stringify(id)}: signed, but not an event`);
      return answer(res, 400, "not a JSON event");
    }
    const data = event.data ?? {};
    console.log(`event ${event.type} at ${event.timestamp} (webhook-id ${id})`);
    if (event.type === "api_key.rotated" && typeof data.secret === "string") {
      console.log(`  new secret received (${data.secret.length} chars)`);
      // In real use, store it now, before answering, in your secret manager (Vault, AWS
      // Secrets Manager, a Kubernetes Secret …), e.g.
      //   await secrets.put(`keyward/${data.id}`, data.secret);
      // and answer 5xx if that fails, so that Keyward sends the event again.
    }
    console.log(`  data: ${JSON.stringify(redact(data))}`);
    answer(res, 204);
  });
});

const sep = values.addr.lastIndexOf(":");
const host = values.addr.slice(0, sep).replace(/^\[(.*)\]$/, "$1");
const port = Number(values.addr.slice(sep + 1));
server.listen(port, host, () => {
  const a = server.address();
  const shown = a.family === "IPv6" ? `[${a.address}]` : a.address;
  console.log(`listening on http://${shown}:${a.port}`);
});
server.on("error", (err) => {
  console.error(err.message);
  process.exit(1);
});
