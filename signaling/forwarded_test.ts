import assert from "node:assert/strict";
import { clientAddress, requestOrigin } from "./forwarded.ts";

const peer: Deno.NetAddr = { transport: "tcp", hostname: "10.0.0.1", port: 40_000 };

function req(headers: Record<string, string>, url = "http://10.0.0.2:8000/api/rooms/x/ws") {
  return new Request(url, { headers });
}

Deno.test("clientAddress: the TCP peer, and X-Forwarded-For only from trusted proxies", () => {
  const spoofed = req({ "x-forwarded-for": "198.51.100.9" });
  assert.equal(clientAddress(spoofed, peer, 0), "10.0.0.1", "not trusted by default");
  assert.equal(clientAddress(req({}), undefined, 0), null);
  assert.equal(clientAddress(req({}), { transport: "unix", path: "/run/mooz.sock" }, 0), null);
  // A peer on this machine, with no proxy trusted: a local proxy whose clients cannot be told
  // apart (or a local tool), not one client.
  for (const hostname of ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"]) {
    assert.equal(clientAddress(req({}), { ...peer, hostname }, 0), null, hostname);
    assert.equal(clientAddress(req({}), { ...peer, hostname }, 1), hostname, "trusted: counted");
  }
  assert.equal(clientAddress(req({}), { ...peer, hostname: "128.0.0.1" }, 0), "128.0.0.1");
  // One proxy appends the address it saw: entries before it are the client's own claims.
  const one = req({ "x-forwarded-for": "198.51.100.9, 203.0.113.7" });
  assert.equal(clientAddress(one, peer, 1), "203.0.113.7");
  // Two proxies: the outer one wrote the client, the inner one the outer proxy.
  const two = req({ "x-forwarded-for": "198.51.100.9,203.0.113.7, 10.0.0.5" });
  assert.equal(clientAddress(two, peer, 2), "203.0.113.7");
  // A proxy that overwrites instead of appending: fewer entries than hops.
  assert.equal(clientAddress(req({ "x-forwarded-for": "203.0.113.7" }), peer, 3), "203.0.113.7");
  // No header although a proxy is trusted: the peer is all there is.
  assert.equal(clientAddress(req({}), peer, 1), "10.0.0.1");
  assert.equal(clientAddress(req({ "x-forwarded-for": " , " }), peer, 1), "10.0.0.1");
});

Deno.test("requestOrigin: the URL's origin, or the trusted proxy's scheme and host", () => {
  const headers = { "x-forwarded-proto": "https", "x-forwarded-host": "Meet.Example" };
  assert.equal(requestOrigin(req(headers), 0), "http://10.0.0.2:8000", "not trusted by default");
  assert.equal(requestOrigin(req(headers), 1), "https://meet.example");
  assert.equal(
    requestOrigin(req({ "x-forwarded-proto": "https" }, "http://meet.example/x"), 1),
    "https://meet.example",
    "the request's host when the proxy sends only the scheme",
  );
  assert.equal(requestOrigin(req({ "x-forwarded-proto": "wss" }), 1), "https://10.0.0.2:8000");
  assert.equal(
    requestOrigin(req({ "x-forwarded-host": "meet.example:443" }), 1),
    "http://meet.example:443",
  );
  assert.equal(
    requestOrigin(req({ "x-forwarded-proto": "https", "x-forwarded-host": "meet.example:443" }), 1),
    "https://meet.example",
  );
  // Two proxies that append: the outer one's view counts, and a client's claim before it not.
  const chain = req({
    "x-forwarded-proto": "http, https, http",
    "x-forwarded-host": "evil.example, meet.example, 10.0.0.5",
  });
  assert.equal(requestOrigin(chain, 2), "https://meet.example");
  const bads: Record<string, string>[] = [
    { "x-forwarded-proto": "ftp" },
    { "x-forwarded-host": "a.example/path" },
  ];
  for (const bad of bads) {
    assert.equal(requestOrigin(req(bad), 1), null, JSON.stringify(bad));
  }
  assert.equal(requestOrigin(req({ "x-forwarded-host": "bad host" }), 1), null);
});
