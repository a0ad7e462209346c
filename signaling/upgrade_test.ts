import assert from "node:assert/strict";
import { newRoomId } from "./room_id.ts";
import { refuseUpgrade } from "./upgrade.ts";

const room = newRoomId();

function request(
  headers: Record<string, string>,
  url = `http://mooz.example/api/rooms/${room}/ws`,
) {
  return new Request(url, { headers: { upgrade: "websocket", ...headers } });
}

Deno.test("refuseUpgrade: a malformed room id, then a plain GET, are refused", () => {
  assert.equal(refuseUpgrade(request({}), "not-a-room", null)?.status, 404);
  assert.equal(
    refuseUpgrade(new Request("http://mooz.example/"), room, null)?.code,
    "upgrade-required",
  );
  assert.equal(refuseUpgrade(request({ upgrade: "WebSocket" }), room, null), null);
});

Deno.test("refuseUpgrade: by default only the request's own host may connect", () => {
  assert.equal(refuseUpgrade(request({ origin: "http://mooz.example" }), room, null), null);
  // Behind a proxy the Host header, not the URL the server saw, names the site.
  assert.equal(
    refuseUpgrade(
      request({ origin: "https://meet.example", host: "meet.example" }, "http://10.0.0.2:8000/x"),
      room,
      null,
    ),
    null,
  );
  for (const origin of ["http://evil.example", "null", "not a url"]) {
    const refusal = refuseUpgrade(request({ origin }), room, null);
    assert.equal(refusal?.status, 403, origin);
    assert.match(refusal?.message ?? "", /MOOZ_ALLOWED_ORIGINS/);
  }
  // Not a browser: no Origin header, no cross-site threat.
  assert.equal(refuseUpgrade(request({}), room, null), null);
});

Deno.test("refuseUpgrade: a configured list replaces the same-host rule", () => {
  const allowed = ["https://app.example"];
  assert.equal(refuseUpgrade(request({ origin: "https://app.example" }), room, allowed), null);
  assert.equal(
    refuseUpgrade(request({ origin: "http://mooz.example" }), room, allowed)?.code,
    "bad-origin",
  );
});
