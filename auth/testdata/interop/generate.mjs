// Generates tokens.json: view tokens signed by Node.js's own crypto (not
// go-jose), so that Verify is held to tokens another JOSE implementation
// made. Run from this folder with `node generate.mjs > tokens.json`; every
// run makes new keys, so the file changes each time.
import { generateKeyPairSync, sign } from "node:crypto";

const b64url = (buf) => Buffer.from(buf).toString("base64url");
const iat = Date.UTC(2026, 2, 1, 12, 0, 0) / 1000; // the tests' fixed clock

function token(header, claims, key, alg) {
  // Another serializer: member order and spacing are Node's, not Go's.
  const input = b64url(JSON.stringify(header, null, 1)) + "." + b64url(JSON.stringify(claims));
  const sig = alg === "EdDSA"
    ? sign(null, Buffer.from(input), key)
    : sign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" });
  return input + "." + b64url(sig);
}

function claims(iss, extra) {
  return {
    jti: "node-" + iss + "-" + Math.random().toString(36).slice(2),
    tid: "acme", iss, aud: ["callscope-viewer"], call_id: "c1@acme",
    window_start: iat - 3600, window_end: iat, iat, exp: iat + 900, ...extra,
  };
}

const ed = generateKeyPairSync("ed25519");
const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
const server = generateKeyPairSync("ed25519");
const jwk = (pair, kid) => ({ ...pair.publicKey.export({ format: "jwk" }), kid });

const out = {
  made_by: "Node.js " + process.version + " node:crypto, auth/testdata/interop/generate.mjs",
  keys: { tenant_ed25519: jwk(ed, "node-ed"), tenant_p256: jwk(ec, "node-ec"), server_ed25519: jwk(server, "node-srv") },
  tokens: {
    tenant_eddsa: token({ typ: "call-view+jwt", kid: "node-ed", alg: "EdDSA" }, claims("acme"), ed.privateKey, "EdDSA"),
    tenant_es256: token({ kid: "node-ec", alg: "ES256", typ: "call-view+jwt" }, claims("acme", { scp: ["pcap"] }), ec.privateKey, "ES256"),
    server_eddsa: token({ alg: "EdDSA", typ: "call-view+jwt", kid: "node-srv" }, claims("callscope", { nbf: iat - 60 }), server.privateKey, "EdDSA"),
  },
};
console.log(JSON.stringify(out, null, 2));
