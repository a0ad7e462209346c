/**
 * The browser's SignalingClient, run in Deno against a real hub (signaling/testing.ts). Drops are
 * real: a WebSocket proxy between client and hub cuts the connections.
 */
import assert from "node:assert/strict";
import { type ClientState, SignalingClient } from "./client.ts";
import { ERRORS, EVICTIONS, PEER_ID_PATTERN } from "./protocol.ts";
import { newRoomId } from "./room_id.ts";
import { join, startHub, startProxy, waitFor } from "./testing.ts";

/**
 * Real WebSockets that the test can wait on: the client opens them through its `WebSocket`
 * option, and `closed()` resolves once every one of them has closed (test sanitizers).
 */
function trackedWebSocket(): { WebSocket: typeof WebSocket; closed(): Promise<void> } {
  const sockets: Promise<void>[] = [];
  class Tracked extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      sockets.push(new Promise((resolve) => this.addEventListener("close", () => resolve())));
    }
  }
  return { WebSocket: Tracked, closed: () => Promise.all(sockets).then(() => {}) };
}

interface TestClient extends AsyncDisposable {
  client: SignalingClient;
  /** Every state the client went through, starting with its initial one. */
  states: ClientState[];
  /** Resolves when the client reaches `state` (now or later). */
  reach(state: ClientState, what?: string): Promise<void>;
}

function startClient(url: string, name: string, backoffMs = [20, 40]): TestClient {
  const sockets = trackedWebSocket();
  const client = new SignalingClient({ url, name, backoffMs, WebSocket: sockets.WebSocket });
  const states: ClientState[] = [client.state];
  client.on("state", (s) => states.push(s));
  return {
    client,
    states,
    reach: (state, what = `state ${state}`) =>
      waitFor(`${name}: ${what} (states: ${states.join(" -> ")})`, () => client.state === state),
    async [Symbol.asyncDispose]() {
      client.close();
      await sockets.closed();
    },
  };
}

Deno.test("client: connecting -> joined, with welcome, roster and signals", async () => {
  await using h = await startHub();
  const room = newRoomId();
  await using a = startClient(h.url(room), "Ada");
  assert.equal(a.client.state, "connecting");
  const welcomes: string[] = [];
  a.client.on("welcome", (w) => welcomes.push(w.peer));
  await a.reach("joined");
  assert.deepEqual(a.states, ["connecting", "joined"]);
  assert.match(a.client.peer ?? "", PEER_ID_PATTERN);
  assert.deepEqual(welcomes, [a.client.peer]);
  assert.deepEqual(a.client.members.map((m) => m.name), ["Ada"]);

  await using b = startClient(h.url(room), "Bob");
  await b.reach("joined");
  await waitFor("Ada's roster with Bob", () => a.client.members.length === 2);
  const got: { from: string; payload: unknown }[] = [];
  b.client.on("signal", (s) => got.push(s));
  assert.equal(a.client.signal(b.client.peer!, { sdp: "offer ✓" }), true);
  await waitFor("the signal", () => got.length === 1);
  assert.deepEqual(got, [{ from: a.client.peer, payload: { sdp: "offer ✓" } }]);

  assert.equal(a.client.reportLinks({ [b.client.peer!]: "connected" }), true);
  await waitFor(
    "Bob seeing Ada's link report",
    () =>
      b.client.members.find((m) => m.peer === a.client.peer)?.links[b.client.peer!] ===
        "connected",
  );

  // A non-fatal error reaches the `error` event and leaves the client joined.
  const errors: string[] = [];
  a.client.on("error", (e) => errors.push(e.code));
  a.client.signal("AAAAAAAAAAAAAAAA", "nobody");
  await waitFor("unknown-peer", () => errors.length === 1);
  assert.deepEqual(errors, ["unknown-peer"]);
  assert.equal(a.client.state, "joined");
});

Deno.test("client: a dropped connection -> reconnecting -> joined with the same peer id", async () => {
  await using h = await startHub({ graceMs: 5_000 });
  await using proxy = startProxy(h.origin.replace(/^http/, "ws"));
  const room = newRoomId();
  const path = `/api/rooms/${room}/ws`;
  await using a = startClient(proxy.url(path), "Ada");
  await using b = startClient(h.url(room), "Bob");
  await a.reach("joined");
  await b.reach("joined");
  const peer = a.client.peer;
  const welcomes: boolean[] = [];
  a.client.on("welcome", (w) => welcomes.push(w.resumed));

  await proxy.cut();
  await a.reach("joined", "joined again");
  assert.deepEqual(a.states, ["connecting", "joined", "reconnecting", "joined"]);
  assert.equal(a.client.peer, peer, "same peer id");
  assert.deepEqual(welcomes, [true]);
  assert.equal(proxy.accepted, 2);
  await waitFor(
    "Bob seeing Ada connected",
    () => b.client.members.find((m) => m.peer === peer)?.connected === true,
  );
  assert.equal(b.client.members.length, 2);
  assert.equal(h.hub.metrics.resumes, 1);

  // Still works after the resume.
  const got: unknown[] = [];
  a.client.on("signal", (s) => got.push(s.payload));
  b.client.signal(peer!, "after the drop");
  await waitFor("the signal", () => got.length === 1);
});

Deno.test("client: unreachable for longer than the grace period -> closed", async () => {
  await using h = await startHub({ graceMs: 300 });
  await using proxy = startProxy(h.origin.replace(/^http/, "ws"));
  const room = newRoomId();
  await using a = startClient(proxy.url(`/api/rooms/${room}/ws`), "Ada", [20, 50]);
  await a.reach("joined");
  proxy.down = true;
  await proxy.cut();
  await a.reach("closed");
  assert.deepEqual(a.states, ["connecting", "joined", "reconnecting", "closed"]);
  assert.equal(a.client.closeKind, "expired");
  assert.match(a.client.closeReason, /lost for too long/);
  const attempts = proxy.accepted;
  a.client.close(); // nothing further
  assert.equal(proxy.accepted, attempts);
});

Deno.test("client: evicted -> closed with the reason, no reconnect", async () => {
  await using h = await startHub();
  const room = newRoomId();
  await using a = startClient(h.url(room), "Ada");
  let token = "";
  a.client.on("welcome", (w) => (token = w.token));
  const evictions: string[] = [];
  a.client.on("evicted", (e) => evictions.push(e.code));
  await a.reach("joined");

  // The same place resumed elsewhere (another tab): this client is replaced.
  await using other = await join(h.url(room), "Ada", { resume: token });
  await a.reach("closed");
  assert.deepEqual(a.states, ["connecting", "joined", "closed"]);
  assert.deepEqual(evictions, ["replaced"]);
  assert.equal(a.client.closeKind, "evicted");
  assert.ok(a.client.closeReason.length > 0);
  // It did not try to take the place back.
  await other.socket.roundTrip();
  assert.deepEqual(other.socket.all("evicted"), []);
  assert.equal(h.hub.metrics.resumes, 1);
});

Deno.test("client: evicted by the mesh policy -> closed with the reason", async () => {
  await using h = await startHub({ linkDeadlineMs: 300 });
  const room = newRoomId();
  await using a = startClient(h.url(room), "Ada");
  await a.reach("joined");
  await using b = startClient(h.url(room), "Bob");
  await b.reach("joined");
  await waitFor("Ada seeing Bob", () => a.client.members.length === 2);
  a.client.reportLinks({ [b.client.peer!]: "connected" }); // Bob never reports
  await b.reach("closed");
  assert.equal(b.client.closeKind, "evicted");
  assert.match(b.client.closeReason, /did not report its connections/);
  await waitFor("Ada's roster without Bob", () => a.client.members.length === 1);
  assert.equal(a.client.state, "joined");
  assert.equal(EVICTIONS["mesh-incomplete"].closeCode, 4100);
});

Deno.test("client: room-full -> closed, with the code to show its hint", async () => {
  await using h = await startHub({ capacity: 1 });
  const room = newRoomId();
  await using a = startClient(h.url(room), "Ada");
  await a.reach("joined");
  await using b = startClient(h.url(room), "Bob");
  await b.reach("closed");
  assert.deepEqual(b.states, ["connecting", "closed"]);
  assert.equal(b.client.closeKind, "room-full");
  assert.ok(ERRORS[b.client.closeKind as "room-full"].hint.startsWith("The meeting is full."));
  assert.match(b.client.closeReason, /full/);
  assert.equal(b.client.peer, null);
  await waitFor("Ada still alone", () => a.client.members.length === 1);
});

Deno.test("client: leave removes the member at once and closes", async () => {
  await using h = await startHub({ graceMs: 10_000 });
  const room = newRoomId();
  await using a = startClient(h.url(room), "Ada");
  await a.reach("joined");
  await using b = startClient(h.url(room), "Bob");
  await b.reach("joined");
  await waitFor("Ada seeing Bob", () => a.client.members.length === 2);
  // A link report still being handled when leave() closes the socket.
  b.client.reportLinks({ [a.client.peer!]: "connecting" });
  b.client.leave();
  assert.equal(b.client.state, "closed");
  assert.equal(b.client.closeKind, "left");
  assert.equal(b.client.signal(a.client.peer!, "too late"), false);
  // Removed, not waiting out a 10 s grace period as "reconnecting".
  await waitFor("Ada's roster without Bob", () => a.client.members.length === 1, 2_000);
  assert.equal(h.hub.metrics.leaves, 1);
});
