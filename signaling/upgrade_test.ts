import assert from "node:assert/strict";
import { newRoomId } from "./room_id.ts";
import { type OriginPolicy, parseOrigin, refuseUpgrade, tooManySockets } from "./upgrade.ts";

const room = newRoomId();
const SAME_SITE: OriginPolicy = { allowedOrigins: null, trustProxy: 0 };

function request(
  headers: Record<string, string>,
  url = `http://mooz.example/api/rooms/${room}/ws`,
) {
  return new Request(url, { headers: { upgrade: "websocket", ...headers } });
}

Deno.test("refuseUpgrade: a malformed room id, then a plain GET, are refused", () => {
  assert.equal(refuseUpgrade(request({}), "not-a-room", SAME_SITE)?.status, 404);
  assert.equal(
    refuseUpgrade(new Request("http://mooz.example/"), room, SAME_SITE)?.code,
    "upgrade-required",
  );
  assert.equal(refuseUpgrade(request({ upgrade: "WebSocket" }), room, SAME_SITE), null);
});

Deno.test("refuseUpgrade: by default only the request's own origin may connect", () => {
  assert.equal(refuseUpgrade(request({ origin: "http://mooz.example" }), room, SAME_SITE), null);
  assert.equal(
    refuseUpgrade(request({ origin: "HTTP://Mooz.Example:80" }), room, SAME_SITE),
    null,
    "compared normalized",
  );
  const port = `http://mooz.example:8000/api/rooms/${room}/ws`;
  assert.equal(
    refuseUpgrade(request({ origin: "http://mooz.example:8000" }, port), room, SAME_SITE),
    null,
  );
  for (
    const origin of [
      "http://evil.example",
      "http://mooz.example:8000", // same host, another port
      "http://mooz.example.evil.example",
      "null",
      "not a url",
      "http://mooz.example/path",
    ]
  ) {
    const refusal = refuseUpgrade(request({ origin }), room, SAME_SITE);
    assert.equal(refusal?.status, 403, origin);
    assert.equal(refusal?.code, "bad-origin", origin);
    assert.match(refusal?.message ?? "", /MOOZ_ALLOWED_ORIGINS/, origin);
  }
  // Not a browser: no Origin header, no cross-site threat.
  assert.equal(refuseUpgrade(request({}), room, SAME_SITE), null);
});

Deno.test("refuseUpgrade: the same host and port under another scheme is another origin", () => {
  const https = `https://mooz.example:8443/api/rooms/${room}/ws`;
  const http = `http://mooz.example:8443/api/rooms/${room}/ws`;
  // An http page must not open a socket on the https site, nor the other way round.
  const down = refuseUpgrade(
    request({ origin: "http://mooz.example:8443" }, https),
    room,
    SAME_SITE,
  );
  assert.equal(down?.code, "bad-origin");
  const up = refuseUpgrade(request({ origin: "https://mooz.example:8443" }, http), room, SAME_SITE);
  assert.equal(up?.code, "bad-origin");
  // The refusal names the fix for the usual cause: a TLS-terminating proxy.
  assert.match(up?.message ?? "", /MOOZ_TRUST_PROXY=1/);
  assert.match(up?.message ?? "", /MOOZ_ALLOWED_ORIGINS=https:\/\/mooz\.example:8443/);
  assert.equal(
    refuseUpgrade(request({ origin: "https://mooz.example:8443" }, https), room, SAME_SITE),
    null,
  );
});

Deno.test("refuseUpgrade: behind a trusted proxy, the forwarded scheme and host are the site's", () => {
  const behind = `http://127.0.0.1:8000/api/rooms/${room}/ws`;
  const proxied = { "x-forwarded-proto": "https", "x-forwarded-host": "meet.example" };
  const trusted: OriginPolicy = { allowedOrigins: null, trustProxy: 1 };
  const page = { origin: "https://meet.example", ...proxied };
  assert.equal(refuseUpgrade(request(page, behind), room, trusted), null);
  // Not trusted: the same headers change nothing, and the message says what to set.
  const untrusted = refuseUpgrade(request(page, behind), room, SAME_SITE);
  assert.equal(untrusted?.code, "bad-origin");
  assert.match(untrusted?.message ?? "", /MOOZ_TRUST_PROXY=1/);
  // Trusted, the check is still a full-origin check.
  for (
    const origin of ["http://meet.example", "https://meet.example:8443", "https://evil.example"]
  ) {
    assert.equal(
      refuseUpgrade(request({ ...proxied, origin }, behind), room, trusted)?.code,
      "bad-origin",
      origin,
    );
  }
  // Without X-Forwarded-Host, the Host the proxy passed on.
  const hostOnly = request(
    { origin: "https://meet.example", "x-forwarded-proto": "https" },
    `http://meet.example/api/rooms/${room}/ws`,
  );
  assert.equal(refuseUpgrade(hostOnly, room, trusted), null);
  // Headers that form no origin: refused, naming the proxy's headers.
  const broken = refuseUpgrade(
    request({ origin: "https://meet.example", "x-forwarded-proto": "gopher" }, behind),
    room,
    trusted,
  );
  assert.match(broken?.message ?? "", /X-Forwarded-Proto/);
});

Deno.test("refuseUpgrade: a configured list replaces the same-origin rule", () => {
  const allowed: OriginPolicy = { allowedOrigins: ["https://app.example"], trustProxy: 0 };
  assert.equal(refuseUpgrade(request({ origin: "https://app.example" }), room, allowed), null);
  assert.equal(refuseUpgrade(request({ origin: "https://APP.example:443" }), room, allowed), null);
  for (const origin of ["http://mooz.example", "http://app.example", "https://app.example:444"]) {
    assert.equal(refuseUpgrade(request({ origin }), room, allowed)?.code, "bad-origin", origin);
  }
});

Deno.test("parseOrigin: browser origins only, normalized", () => {
  assert.equal(parseOrigin("https://Meet.Example:443"), "https://meet.example");
  assert.equal(parseOrigin(" http://meet.example:8000/ "), "http://meet.example:8000");
  assert.equal(parseOrigin("http://[::1]:8000"), "http://[::1]:8000");
  for (
    const bad of [
      "null",
      "",
      "meet.example",
      "ws://meet.example",
      "https://a@meet.example",
      "https://meet.example/x",
      "https://meet.example?x",
      "file:///tmp",
    ]
  ) {
    assert.equal(parseOrigin(bad), null, bad);
  }
});

Deno.test("tooManySockets: 429 with Retry-After, naming the setting", () => {
  const refusal = tooManySockets(64);
  assert.equal(refusal.status, 429);
  assert.equal(refusal.code, "too-many-sockets");
  assert.ok((refusal.retryAfterS ?? 0) > 0);
  assert.match(refusal.message, /at most 64/);
  assert.match(refusal.message, /MOOZ_CLIENT_MAX_SOCKETS/);
});
