/**
 * The signaling hub end to end: a real hub on a real in-memory Deno KV, behind a real HTTP
 * server on 127.0.0.1, driven by raw WebSocket clients (signaling/testing.ts).
 */
import assert from "node:assert/strict";
import {
  ERRORS,
  EVICTIONS,
  MAX_FRAME_BYTES,
  MAX_PAYLOAD_BYTES,
  PEER_ID_PATTERN,
  PROTOCOL_VERSION,
  TOKEN_PATTERN,
} from "./protocol.ts";
import { hookLinkCommits } from "./kv_counter.ts";
import { newRoomId } from "./room_id.ts";
import {
  connect,
  elapse,
  join,
  type Joined,
  peers,
  startHub,
  type TestHub,
  type TestSocket,
  waitFor,
} from "./testing.ts";

const JOIN = { type: "join", v: PROTOCOL_VERSION } as const;

/** A peer id nobody has: 16 base64url characters. */
function randomPeerId(): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(12))))
    .replace(/\+/g, "-").replace(/\//g, "_");
}

/** A token secret of the right shape (43 base64url characters) that matches nothing. */
function randomSecret(): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Asserts the next message is a fatal error `code` and the socket closes with its code. */
async function assertFatal(socket: TestSocket, code: keyof typeof ERRORS): Promise<string> {
  const err = await socket.next("error");
  assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
  assert.equal(err.fatal, true);
  const closed = await socket.closed();
  assert.equal(closed.code, ERRORS[code].closeCode);
  return err.message;
}

/** Asserts the next error is the non-fatal `code` and the socket still answers afterwards. */
async function assertNonFatal(socket: TestSocket, code: keyof typeof ERRORS): Promise<void> {
  const err = await socket.next("error");
  assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
  assert.equal(err.fatal, false);
  assert.ok(err.message.length > 0);
  await socket.roundTrip();
  assert.ok(socket.isOpen);
}

const member = <T extends { peer: string }>(m: T[], peer: string): T | undefined =>
  m.find((x) => x.peer === peer);

// ---------------------------------------------------------------------------------------------
// Joining

Deno.test("join: welcome carries a new peer id, token, room, members and config", async () => {
  await using h = await startHub({ capacity: 5, graceMs: 4_000, linkDeadlineMs: 60_000 });
  const room = newRoomId();
  const before = Date.now();
  await using a = await join(h.url(room), "  Ada\u0301  ");
  const w = a.welcome;
  assert.equal(w.v, PROTOCOL_VERSION);
  assert.match(w.peer, PEER_ID_PATTERN);
  assert.equal(w.peer.length, 16);
  assert.match(w.token, TOKEN_PATTERN);
  assert.ok(!w.token.includes(w.peer.repeat(2)), "the token is more than the peer id");
  assert.equal(w.resumed, false);
  assert.deepEqual(w.room, {
    id: room,
    capacity: 5,
    locked: false,
    host: w.peer,
    hosts: [w.peer],
    lobby: false,
    removals: [],
  });
  assert.equal(w.members.length, 1);
  const [self] = w.members;
  // Trimmed and NFC-normalized: "a" + combining acute becomes "á".
  assert.deepEqual({ ...self, joinedAt: 0 }, {
    peer: w.peer,
    name: "Adá",
    joinedAt: 0,
    connected: true,
    links: {},
  });
  assert.ok(self.joinedAt >= before - 1_000 && self.joinedAt <= Date.now() + 1_000);
  assert.deepEqual(w.config, { linkDeadlineMs: 60_000, graceMs: 4_000, heartbeatMs: 100 });
  assert.equal(h.hub.metrics.joins, 1);
  assert.deepEqual(a.socket.garbage, []);
});

Deno.test("join: the second member gets both in its welcome, the first a roster of both", async () => {
  await using h = await startHub();
  const room = newRoomId();
  await using a = await join(h.url(room), "Ada");
  await using b = await join(h.url(room), "Bob");
  assert.notEqual(b.peer, a.peer);
  assert.deepEqual(peers(b.welcome.members), [a.peer, b.peer], "join order");
  assert.deepEqual(b.welcome.members.map((m) => m.name), ["Ada", "Bob"]);
  assert.equal(b.welcome.room.host, a.peer, "the first member stays host");
  const roster = await a.socket.next("roster", (r) => r.members.length === 2);
  assert.deepEqual(peers(roster.members), [a.peer, b.peer]);
  assert.deepEqual(roster.members.map((m) => m.connected), [true, true]);
  assert.equal(roster.room.host, a.peer);
  assert.equal(a.socket.all("welcome").length, 1);
});

Deno.test("join: one read of the room makes the welcome and the others' roster; frames sent right after the join wait for it", async () => {
  const kv = await Deno.openKv(":memory:");
  // Counts range reads of one room (store.ts reads a room with one `list` from its meta key).
  let roomReads = 0;
  const counting = new Proxy(kv, {
    get(target, prop) {
      if (prop === "list") {
        return (selector: Deno.KvListSelector, options?: Deno.KvListOptions) => {
          if ("start" in selector && selector.start.length === 2) roomReads++;
          return target.list(selector, options);
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  try {
    await using h = await startHub({}, { kv: counting });
    const room = newRoomId();
    await using a = await join(h.url(room), "Ada");
    await h.hub.settle();
    roomReads = 0;
    // Bob signals Ada right after his join, before his welcome can have arrived.
    await using bob = await connect(h.url(room));
    bob.send({ ...JOIN, name: "Bob" });
    for (const payload of [1, 2, 3]) bob.send({ type: "signal", to: a.peer, payload });
    const welcome = await bob.next("welcome");
    assert.deepEqual(peers(welcome.members), [a.peer, welcome.peer]);
    const signals = [];
    for (let i = 0; i < 3; i++) signals.push(await a.socket.next("signal"));
    assert.deepEqual(signals.map((m) => [m.from, m.payload]), [
      [welcome.peer, 1],
      [welcome.peer, 2],
      [welcome.peer, 3],
    ]);
    // Ada learned of Bob from a roster before his first signal reached her.
    const received = a.socket.received;
    const roster = received.findIndex((m) => m.type === "roster" && m.members.length === 2);
    assert.ok(roster >= 0 && roster < received.findIndex((m) => m.type === "signal"));
    await h.hub.settle();
    assert.equal(roomReads, 1, "one read of the room for Bob's welcome and Ada's roster");
    assert.equal(bob.all("error").length + a.socket.all("error").length, 0);
  } finally {
    kv.close();
  }
});

// ---------------------------------------------------------------------------------------------
// Relay

const PAYLOADS: unknown[] = [
  { type: "offer", sdp: "v=0\r\no=- 46117 2 IN IP4 127.0.0.1\r\ns=-\r\n" },
  { candidate: "candidate:1 1 udp 2122260223 192.168.1.2 54321 typ host", sdpMLineIndex: 0 },
  { nested: { list: [1, "two", null, true, false, -0.5, { deep: [[[]]] }] }, empty: {} },
  "a plain string",
  'unicode: héllo 🌍 中文 \u2028 \u0000 "quoted" \\ back',
  42,
  null,
  [],
];

Deno.test("relay: a signal reaches its target with the sender's id and the payload as sent", async () => {
  await using h = await startHub();
  const room = newRoomId();
  await using a = await join(h.url(room), "Ada");
  await using b = await join(h.url(room), "Bob");
  for (const payload of PAYLOADS) {
    a.socket.send({ type: "signal", to: b.peer, payload });
    const got = await b.socket.next("signal");
    assert.deepEqual(got, { type: "signal", from: a.peer, payload });
  }
  b.socket.send({ type: "signal", to: a.peer, payload: { answer: "✓" } });
  assert.deepEqual(await a.socket.next("signal"), {
    type: "signal",
    from: b.peer,
    payload: { answer: "✓" },
  });
  assert.equal(h.hub.metrics.relayed.local, PAYLOADS.length + 1);
  assert.equal(a.socket.all("error").length + b.socket.all("error").length, 0);
});

Deno.test("relay: refused to another room's member, an unknown id and oneself", async () => {
  await using h = await startHub();
  const room = newRoomId();
  const other = newRoomId();
  await using a = await join(h.url(room), "Ada");
  await using b = await join(h.url(room), "Bob");
  await using x = await join(h.url(other), "Xena");

  for (const to of [x.peer, randomPeerId(), a.peer]) {
    a.socket.send({ type: "signal", to, payload: { secret: to } });
    const err = await a.socket.next("error");
    assert.equal(err.code, "unknown-peer", `to ${to}`);
    assert.equal(err.fatal, false);
    assert.ok(err.message.includes(to), "the error names the peer");
    assert.equal(err.to, to);
  }
  // Anything delivered would have been sent before these pongs.
  await Promise.all([x.socket.roundTrip(), b.socket.roundTrip(), a.socket.roundTrip()]);
  assert.deepEqual(x.socket.all("signal"), []);
  assert.deepEqual(b.socket.all("signal"), []);
  assert.deepEqual(a.socket.all("signal"), []);

  // The sender is still in business: a signal within its room goes through.
  a.socket.send({ type: "signal", to: b.peer, payload: "ok" });
  assert.equal((await b.socket.next("signal")).payload, "ok");
  assert.equal(h.hub.metrics.rejected["unknown-peer"], 3);
});

// ---------------------------------------------------------------------------------------------
// Impersonation

Deno.test("impersonation: a client can never choose or claim a peer id", async () => {
  await using h = await startHub();
  const room = newRoomId();
  await using a = await join(h.url(room), "Ada");
  await using b = await join(h.url(room), "Bob");

  // A join naming a peer id is refused, whatever the field is called.
  await using c = await connect(h.url(room));
  for (const field of ["peer", "from", "id"]) {
    c.send({ ...JOIN, name: "Mallory", [field]: a.peer });
    const err = await c.next("error");
    assert.equal(err.code, "bad-message");
    assert.equal(err.fatal, false);
    assert.match(err.message, new RegExp(`unknown field "${field}"`));
  }
  assert.equal(c.all("welcome").length, 0);
  assert.ok(c.isOpen);
  // The refused joins did not count as joining: a proper one works, with a fresh id.
  c.send({ ...JOIN, name: "Mallory" });
  const welcome = await c.next("welcome");
  assert.notEqual(welcome.peer, a.peer);
  assert.notEqual(welcome.peer, b.peer);

  // A signal claiming a sender is refused and delivers nothing.
  b.socket.send({ type: "signal", to: a.peer, from: welcome.peer, payload: "forged" });
  await assertNonFatal(b.socket, "bad-message");
  await a.socket.roundTrip();
  assert.deepEqual(a.socket.all("signal"), []);

  // The delivered `from` is the server's record of the sender.
  c.send({ type: "signal", to: a.peer, payload: "hi" });
  assert.equal((await a.socket.next("signal")).from, welcome.peer);
});

Deno.test("impersonation: resuming someone else's place fails and leaves them alone", async () => {
  await using h = await startHub();
  const room = newRoomId();
  await using a = await join(h.url(room), "Ada");
  await using b = await join(h.url(room), "Bob");
  await a.socket.roster((m) => m.length === 2);
  const [, bSecret] = b.welcome.token.split(".");
  assert.ok(bSecret, "token is <peer>.<secret>");

  const attempts = [
    `${a.peer}.${randomSecret()}`, // A's id with a made-up secret
    `${a.peer}.${bSecret}`, // A's id with B's own secret
  ];
  for (const resume of attempts) {
    await using m = await connect(h.url(room));
    m.send({ ...JOIN, name: "Mallory", resume });
    const message = await assertFatal(m, "resume-failed");
    assert.match(message, /does not match/);
    assert.equal(m.all("welcome").length, 0);
  }

  // A never noticed: no eviction, still connected, still reachable.
  await h.hub.settle();
  await a.socket.roundTrip();
  assert.deepEqual(a.socket.all("evicted"), []);
  assert.ok(a.socket.isOpen);
  const snapshot = await h.hub.store.snapshot(room);
  assert.deepEqual(snapshot?.members.map((m) => [m.peer, m.connected]), [
    [a.peer, true],
    [b.peer, true],
  ]);
  b.socket.send({ type: "signal", to: a.peer, payload: "still you?" });
  const got = await a.socket.next("signal");
  assert.equal(got.from, b.peer);
  assert.equal(h.hub.metrics.resumes, 0);
});

// ---------------------------------------------------------------------------------------------
// Resume

Deno.test("resume within grace: same peer id, resumed, others see it disconnected then back", async () => {
  await using h = await startHub({ graceMs: 5_000 });
  const room = newRoomId();
  const a = await join(h.url(room), "Ada");
  await using b = await join(h.url(room), "Bob");
  await a.socket.close(); // gone without `leave`
  await b.socket.roster(
    (m) => member(m, a.peer)?.connected === false,
    "a roster with Ada disconnected",
  );

  // The name given on resume is ignored: the stored one is kept.
  await using a2 = await join(h.url(room), "Someone else", { resume: a.welcome.token });
  assert.equal(a2.welcome.resumed, true);
  assert.equal(a2.peer, a.peer);
  // Every resume issues a new token; the old one is spent.
  assert.notEqual(a2.welcome.token, a.welcome.token);
  assert.equal(a2.welcome.token.split(".")[0], a.peer);
  const self = member(a2.welcome.members, a.peer);
  assert.equal(self?.connected, true);
  assert.equal(self?.name, "Ada");
  assert.equal(self?.joinedAt, member(a.welcome.members, a.peer)?.joinedAt, "keeps its place");
  assert.deepEqual(peers(a2.welcome.members), [a.peer, b.peer], "join order kept");
  await b.socket.roster(
    (m) => member(m, a.peer)?.connected === true,
    "a roster with Ada connected again",
  );
  b.socket.send({ type: "signal", to: a.peer, payload: "welcome back" });
  assert.equal((await a2.socket.next("signal")).payload, "welcome back");
  assert.equal(h.hub.metrics.resumes, 1);
  assert.equal(h.hub.metrics.joins, 2);
});

Deno.test("resume after grace: resume-failed, and the member is gone from rosters", async () => {
  const graceMs = 300;
  await using h = await startHub({ graceMs });
  const room = newRoomId();
  const a = await join(h.url(room), "Ada");
  await using b = await join(h.url(room), "Bob");
  await a.socket.close();
  await b.socket.roster((m) => member(m, a.peer)?.connected === false, "Ada disconnected");
  const disconnectedAt = Date.now();
  await b.socket.roster((m) => !member(m, a.peer), "a roster without Ada");
  assert.ok(Date.now() - disconnectedAt >= graceMs - 100, "not removed before the grace period");
  assert.deepEqual(peers(b.socket.view!), [b.peer]);
  assert.equal(h.hub.metrics.evictions["grace-expired"], 1);

  await using late = await connect(h.url(room));
  late.send({ ...JOIN, name: "Ada", resume: a.welcome.token });
  await assertFatal(late, "resume-failed");
  await b.socket.roundTrip();
  assert.deepEqual(peers(b.socket.view!), [b.peer]);
  const snapshot = await h.hub.store.snapshot(room);
  assert.deepEqual(snapshot?.members.map((m) => m.peer), [b.peer]);
});

Deno.test("replaced: resuming on a second socket evicts the first; the member stays", async () => {
  await using h = await startHub();
  const room = newRoomId();
  await using a = await join(h.url(room), "Ada");
  await using b = await join(h.url(room), "Bob");
  await using a2 = await join(h.url(room), "Ada", { resume: a.welcome.token });
  assert.equal(a2.peer, a.peer);
  assert.equal(a2.welcome.resumed, true);

  const evicted = await a.socket.next("evicted");
  assert.equal(evicted.code, "replaced");
  assert.ok(evicted.reason.length > 0);
  assert.equal((await a.socket.closed()).code, EVICTIONS.replaced.closeCode);

  // The old socket's close must not mark the member disconnected.
  await h.hub.settle();
  const snapshot = await h.hub.store.snapshot(room);
  assert.deepEqual(snapshot?.members.map((m) => [m.peer, m.connected]), [
    [a.peer, true],
    [b.peer, true],
  ]);
  await b.socket.roundTrip();
  assert.equal(member(b.socket.view!, a.peer)?.connected, true);
  b.socket.send({ type: "signal", to: a.peer, payload: "which tab?" });
  assert.equal((await a2.socket.next("signal")).payload, "which tab?");
  assert.deepEqual(a2.socket.all("evicted"), []);
});

Deno.test("resume racing the old socket's close: the member stays connected", async () => {
  await using h = await startHub({ graceMs: 10_000 });
  for (let i = 0; i < 20; i++) {
    const room = newRoomId();
    const a = await join(h.url(room), "Ada");
    await using a2 = await connect(h.url(room));
    // A reconnect that reaches the server before it noticed the old socket go: the old close is
    // handled while the resume is in flight, and must not mark the resumed member disconnected.
    a2.send({ ...JOIN, name: "Ada", resume: a.welcome.token });
    await a.socket.close();
    const welcome = await a2.next("welcome");
    assert.equal(welcome.peer, a.peer);
    await h.hub.settle();
    const snapshot = await h.hub.store.snapshot(room);
    assert.equal(member(snapshot?.members ?? [], a.peer)?.connected, true, `attempt ${i}`);
    await a2.roundTrip();
    assert.equal(member(a2.view ?? [], a.peer)?.connected, true, `attempt ${i}: roster`);
  }
});

// ---------------------------------------------------------------------------------------------
// Capacity and leave

Deno.test("capacity: the member past capacity gets room-full and a closed socket", async () => {
  await using h = await startHub({ capacity: 3 });
  const room = newRoomId();
  const joined: Joined[] = [];
  try {
    for (const name of ["A", "B", "C"]) joined.push(await join(h.url(room), name));
    await using d = await connect(h.url(room));
    d.send({ ...JOIN, name: "D" });
    const message = await assertFatal(d, "room-full");
    assert.match(message, /\b3\b/, "the message names the capacity");
    await joined[0].socket.roster((m) => m.length === 3);
    await joined[0].socket.roundTrip();
    assert.equal(joined[0].socket.view?.length, 3, "D never appeared");
  } finally {
    for (const j of joined) await j.socket.close();
  }
});

Deno.test("capacity: 20 concurrent joins to a room of 4 admit exactly 4", async () => {
  await using h = await startHub({ capacity: 4 });
  const room = newRoomId();
  const sockets = await Promise.all(Array.from({ length: 20 }, () => connect(h.url(room))));
  try {
    sockets.forEach((s, i) => s.send({ ...JOIN, name: `p${i}` }));
    await waitFor(
      "every join answered",
      () =>
        sockets.every((s) => s.received.some((m) => m.type === "welcome" || m.type === "error")),
    );
    const admitted = sockets.filter((s) => s.all("welcome").length === 1);
    const refused = sockets.filter((s) => s.all("error").length > 0);
    assert.equal(admitted.length, 4);
    assert.equal(refused.length, 16);
    for (const s of refused) {
      assert.deepEqual(s.all("error").map((e) => e.code), ["room-full"]);
      assert.equal((await s.closed()).code, ERRORS["room-full"].closeCode);
    }
    const ids = admitted.map((s) => s.all("welcome")[0].peer);
    assert.equal(new Set(ids).size, 4);
    const snapshot = await h.hub.store.snapshot(room);
    assert.deepEqual(new Set(snapshot?.members.map((m) => m.peer)), new Set(ids));
    await admitted[0].roster((m) => m.length === 4);
  } finally {
    await Promise.all(sockets.map((s) => s.close()));
  }
});

Deno.test("leave: the member disappears from the others' roster at once", async () => {
  await using h = await startHub({ graceMs: 10_000 });
  const room = newRoomId();
  await using a = await join(h.url(room), "Ada");
  await using b = await join(h.url(room), "Bob");
  await using c = await join(h.url(room), "Cy");
  await a.socket.roster((m) => m.length === 3);
  const started = Date.now();
  b.socket.send({ type: "leave" });
  assert.equal((await b.socket.closed()).code, 1000);
  // Well within the grace period: this is removal, not a disconnect.
  await a.socket.roster((m) => !member(m, b.peer), "a roster without Bob", 2_000);
  await c.socket.roster((m) => !member(m, b.peer), "a roster without Bob", 2_000);
  assert.ok(Date.now() - started < 2_000);
  assert.deepEqual(peers(a.socket.view!), [a.peer, c.peer]);
  assert.ok(
    !a.socket.all("roster").some((r) => member(r.members, b.peer)?.connected === false),
    "Bob was never shown as reconnecting",
  );
  assert.equal(h.hub.metrics.leaves, 1);
  assert.deepEqual(h.hub.metrics.evictions, {});
});

Deno.test("leave: counts even when the socket closes before the server gets to it", async () => {
  await using h = await startHub({ graceMs: 10_000 });
  const room = newRoomId();
  await using a = await join(h.url(room), "Ada");
  for (let i = 0; i < 5; i++) {
    const b = await join(h.url(room), `Bob ${i}`);
    // Messages that await KV queue up the `leave` behind them; the close (as
    // SignalingClient.leave() does it) arrives while they are still being handled.
    for (let k = 0; k < 20; k++) {
      b.socket.send({ type: "links", links: { [a.peer]: k % 2 ? "connected" : "failed" } });
    }
    b.socket.send({ type: "leave" });
    await b.socket.close();
    await a.socket.roster((m) => !member(m, b.peer), `a roster without Bob ${i}`, 2_000);
    await h.hub.settle();
    const snapshot = await h.hub.store.snapshot(room);
    assert.deepEqual(snapshot?.members.map((m) => m.peer), [a.peer], `Bob ${i} is gone`);
  }
  assert.equal(h.hub.metrics.leaves, 5);
});

Deno.test("leave: the host passes to the next member in join order", async () => {
  await using h = await startHub();
  const room = newRoomId();
  const a = await join(h.url(room), "Ada");
  await using b = await join(h.url(room), "Bob");
  await using c = await join(h.url(room), "Cy");
  assert.equal(c.welcome.room.host, a.peer);
  a.socket.send({ type: "leave" });
  await a.socket.closed();
  const roster = await b.socket.next("roster", (r) => !member(r.members, a.peer));
  assert.equal(roster.room.host, b.peer);
});

// ---------------------------------------------------------------------------------------------
// Full-mesh policy through the hub

/**
 * Sends a `links` report and waits until the room holds it (a report alone sends nobody a roster:
 * PROTOCOL.md, "Roster semantics").
 */
async function report(h: TestHub, j: Joined, links: Record<string, string>): Promise<void> {
  j.socket.send({ type: "links", links });
  const stored = async () => {
    const snapshot = await h.hub.store.snapshot(j.welcome.room.id);
    const got = member(snapshot?.members ?? [], j.peer)?.links ?? {};
    return Object.fromEntries(Object.entries(got).map(([peer, link]) => [peer, link.state]));
  };
  await waitFor(
    `the room to hold ${JSON.stringify(links)} from ${j.welcome.members.at(-1)?.name}`,
    async () => JSON.stringify(await stored()) === JSON.stringify(links),
  );
}

Deno.test("links: a report reaches nobody's roster, and one that changes nothing writes nothing", async () => {
  const kv = await Deno.openKv(":memory:");
  // Commits that write a link report (other work, such as heartbeats, may commit meanwhile).
  let commits = 0;
  const counting = hookLinkCommits(kv, () => void commits++);
  try {
    await using h = await startHub({}, { kv: counting });
    const room = newRoomId();
    await using a = await join(h.url(room), "Ada");
    await using b = await join(h.url(room), "Bob");
    await using c = await join(h.url(room), "Cy");
    await a.socket.roster((m) => m.length === 3, "Ada seeing Cy");
    await b.socket.roster((m) => m.length === 3, "Bob seeing Cy");
    await h.hub.settle();
    const rosters = () => [a, b, c].map((j) => j.socket.all("roster").length);
    const before = rosters();
    await report(h, b, { [a.peer]: "connected", [c.peer]: "connecting" });
    await h.hub.settle();
    for (const j of [a, b, c]) await j.socket.roundTrip();
    assert.deepEqual(rosters(), before, "no roster for a report that changes no disputes");
    // The same report again: read, found unchanged, not written.
    const written = commits;
    b.socket.send({ type: "links", links: { [a.peer]: "connected", [c.peer]: "connecting" } });
    await b.socket.roundTrip();
    await h.hub.settle();
    assert.equal(commits, written, "an unchanged report commits nothing");
    assert.deepEqual(rosters(), before);
  } finally {
    kv.close();
  }
});

Deno.test("links: signals sent after a report do not wait for its write", async () => {
  const kv = await Deno.openKv(":memory:");
  // Once armed, every write of a link report waits for the gate.
  const gate = Promise.withResolvers<void>();
  let armed = false, held = 0;
  const gated = hookLinkCommits(kv, async () => {
    if (armed) held++, await gate.promise;
  });
  try {
    await using h = await startHub({}, { kv: gated });
    using _open = { [Symbol.dispose]: () => gate.resolve() };
    const room = newRoomId();
    await using a = await join(h.url(room), "Ada");
    await using b = await join(h.url(room), "Bob");
    await h.hub.settle();
    armed = true;
    a.socket.send({ type: "links", links: { [b.peer]: "connecting" } });
    a.socket.send({ type: "signal", to: b.peer, payload: "offer" });
    assert.equal((await b.socket.next("signal")).payload, "offer");
    await waitFor("the report's write to start", () => held === 1);
    gate.resolve();
    await report(h, a, { [b.peer]: "connecting" });
  } finally {
    kv.close();
  }
});

Deno.test("mesh: a member that never reports its links is evicted; the others stay", async () => {
  const linkDeadlineMs = 400;
  await using h = await startHub({ linkDeadlineMs });
  const room = newRoomId();
  await using a = await join(h.url(room), "Ada");
  await using b = await join(h.url(room), "Bob");
  await using c = await join(h.url(room), "Cy");
  const cJoined = Date.now();
  await report(h, a, { [b.peer]: "connected" });
  await report(h, b, { [a.peer]: "connected" });

  const evicted = await c.socket.next("evicted");
  assert.ok(Date.now() - cJoined >= linkDeadlineMs - 100, "not before the deadline");
  assert.equal(evicted.code, "mesh-incomplete");
  assert.match(evicted.reason, /did not report its connections within 0\.4 s/);
  const unreachable = [a.peer, b.peer].sort();
  assert.deepEqual(evicted.unreachable, unreachable, "the members it could not reach");
  assert.equal(evicted.by, undefined);
  assert.equal((await c.socket.closed()).code, EVICTIONS["mesh-incomplete"].closeCode);

  for (const j of [a, b]) {
    await j.socket.roster((m) => m.length === 2 && !member(m, c.peer), "a roster without Cy");
    assert.deepEqual(peers(j.socket.view!), [a.peer, b.peer]);
    assert.deepEqual(j.socket.all("evicted"), []);
    // Everyone's room view says why Cy went.
    const removals = j.socket.last!.room.removals.map((r) => ({ ...r, at: 0 }));
    assert.deepEqual(removals, [
      { peer: c.peer, code: "mesh-incomplete", by: null, unreachable, at: 0 },
    ]);
  }
  assert.equal(h.hub.metrics.evictions["mesh-incomplete"], 1);
});

Deno.test("mesh: a failed link that recovers within the deadline evicts nobody", async () => {
  const linkDeadlineMs = 500;
  await using h = await startHub({ linkDeadlineMs });
  const room = newRoomId();
  await using a = await join(h.url(room), "Ada");
  await using b = await join(h.url(room), "Bob");
  await report(h, a, { [b.peer]: "connected" });
  await report(h, b, { [a.peer]: "connected" });

  const failedAt = Date.now();
  await report(h, a, { [b.peer]: "failed" });
  await report(h, a, { [b.peer]: "connecting" }); // an ICE restart
  await report(h, a, { [b.peer]: "connected" });
  const recoveredIn = Date.now() - failedAt;
  assert.ok(recoveredIn < linkDeadlineMs / 2, `recovered in ${recoveredIn} ms: test too slow`);

  await elapse(2 * linkDeadlineMs);
  await Promise.all([a.socket.roundTrip(), b.socket.roundTrip()]);
  for (const j of [a, b]) {
    assert.deepEqual(j.socket.all("evicted"), []);
    assert.deepEqual(peers(j.socket.view!), [a.peer, b.peer]);
  }
  assert.deepEqual(h.hub.metrics.evictions, {});
});

Deno.test("mesh: a link both ends report failed past the deadline evicts the non-host side", async () => {
  const linkDeadlineMs = 400;
  await using h = await startHub({ linkDeadlineMs });
  const room = newRoomId();
  await using a = await join(h.url(room), "Ada");
  await using b = await join(h.url(room), "Bob");
  await report(h, a, { [b.peer]: "connected" });
  await report(h, b, { [a.peer]: "connected" });
  const failedAt = Date.now();
  // Both ends agree the link is down (one end alone would be a dispute for the hosts to settle,
  // see host_controls_test.ts); Ada, the host, is never evicted to satisfy Bob.
  await report(h, b, { [a.peer]: "failed" });
  await report(h, a, { [b.peer]: "failed" });

  const evicted = await b.socket.next("evicted");
  assert.ok(Date.now() - failedAt >= linkDeadlineMs - 100, "not before the deadline");
  assert.equal(evicted.code, "mesh-incomplete");
  assert.match(evicted.reason, /could not connect to 1 of 1 participant\b/);
  await a.socket.roster((m) => m.length === 1, "a roster of Ada alone");
  assert.deepEqual(a.socket.all("evicted"), []);
});

Deno.test("mesh: three members reporting full links are never evicted", async () => {
  const linkDeadlineMs = 400;
  await using h = await startHub({ linkDeadlineMs });
  const room = newRoomId();
  await using a = await join(h.url(room), "Ada");
  await using b = await join(h.url(room), "Bob");
  await using c = await join(h.url(room), "Cy");
  await report(h, a, { [b.peer]: "connected", [c.peer]: "connected" });
  await report(h, b, { [a.peer]: "connected", [c.peer]: "connected" });
  await report(h, c, { [a.peer]: "connected", [b.peer]: "connected" });

  await elapse(2 * linkDeadlineMs);
  await Promise.all([a, b, c].map((j) => j.socket.roundTrip()));
  for (const j of [a, b, c]) {
    assert.deepEqual(j.socket.all("evicted"), []);
    assert.deepEqual(peers(j.socket.view!), [a.peer, b.peer, c.peer]);
    assert.ok(j.socket.isOpen);
  }
  assert.deepEqual(h.hub.metrics.evictions, {});
});

Deno.test("mesh: in a room of 18, a member's report of its 17 links is accepted", async () => {
  // MAX_LINKS once was 16 whatever the capacity, so every report in a room of 18 was refused.
  await using h = await startHub({ capacity: 18 });
  const room = newRoomId();
  const members: Joined[] = [];
  try {
    for (let i = 0; i < 18; i++) members.push(await join(h.url(room), `P${i}`));
    const [first, ...others] = members;
    const links = Object.fromEntries(others.map((o) => [o.peer, "connected"]));
    await report(h, first, links);
    await first.socket.roundTrip();
    assert.deepEqual(first.socket.all("error"), []);
    const snapshot = await h.hub.store.snapshot(room);
    const stored = member(snapshot?.members ?? [], first.peer)?.links ?? {};
    assert.equal(Object.keys(stored).length, 17);
  } finally {
    await Promise.all(members.map((m) => m.socket.close()));
  }
});

// ---------------------------------------------------------------------------------------------
// Validation

Deno.test("validation: anything but join first is not-joined (fatal)", async () => {
  await using h = await startHub();
  const room = newRoomId();
  const first = [
    { type: "signal", to: randomPeerId(), payload: 1 },
    { type: "links", links: {} },
    { type: "leave" },
    { type: "ping", t: 1 },
  ];
  for (const message of first) {
    await using s = await connect(h.url(room));
    s.send(message);
    await assertFatal(s, "not-joined");
    assert.equal(s.all("pong").length, 0, `${message.type} before join`);
  }
  assert.equal(await h.hub.store.snapshot(room), null, "nobody joined");
});

Deno.test("validation: malformed frames get their error and the socket stays open", async () => {
  await using h = await startHub();
  const room = newRoomId();
  await using a = await join(h.url(room), "Ada");
  const cases: [string | object, keyof typeof ERRORS][] = [
    ["{not json", "bad-json"],
    ["[1,2]", "bad-message"],
    ['"join"', "bad-message"],
    [{ kind: "join" }, "bad-message"],
    [{ type: "hello" }, "unknown-type"],
    [{ type: "__proto__" }, "unknown-type"],
    [{ type: "signal", to: "short", payload: 1 }, "bad-message"],
    [{ type: "links", links: { "not an id": "connected" } }, "bad-message"],
    [{ ...JOIN, name: "Ada again" }, "already-joined"],
    [{ ...JOIN, v: 2, name: "Future" }, "unsupported-version"],
  ];
  for (const [frame, code] of cases) {
    a.socket.send(frame);
    if (ERRORS[code].fatal) continue;
    await assertNonFatal(a.socket, code);
  }
  // unsupported-version is fatal even after joining.
  await assertFatal(a.socket, "unsupported-version");
});

Deno.test("validation: a binary frame is refused and closes the socket", async () => {
  await using h = await startHub();
  await using a = await join(h.url(newRoomId()), "Ada");
  a.socket.send(new TextEncoder().encode(JSON.stringify({ type: "ping" })));
  await assertFatal(a.socket, "binary-frame");
});

Deno.test("validation: a frame over 64 KiB is too-large and closes; 64 KiB exactly is read", async () => {
  await using h = await startHub();
  const room = newRoomId();
  await using a = await join(h.url(room), "Ada");
  // Exactly at the limit (and not JSON): read and refused as bad JSON, socket open.
  a.socket.send("x".repeat(MAX_FRAME_BYTES));
  await assertNonFatal(a.socket, "bad-json");
  a.socket.send(JSON.stringify({ type: "ping", pad: "x".repeat(MAX_FRAME_BYTES) }));
  await assertFatal(a.socket, "too-large");
  assert.equal(h.hub.metrics.rejected["too-large"], 1);
});

Deno.test("validation: a signal payload over 32 KiB is too-large", async () => {
  await using h = await startHub();
  const room = newRoomId();
  await using a = await join(h.url(room), "Ada");
  await using b = await join(h.url(room), "Bob");
  a.socket.send({ type: "signal", to: b.peer, payload: "x".repeat(33 * 1024) });
  await assertFatal(a.socket, "too-large");
  await b.socket.roundTrip();
  assert.deepEqual(b.socket.all("signal"), []);
});

Deno.test("rate limit: a burst beyond the bucket drops frames with rate-limited, socket open", async () => {
  await using h = await startHub();
  await using a = await join(h.url(newRoomId()), "Ada");
  // 100 fit the bucket; the other 150 are dropped, fewer than the 200 that close the socket.
  for (let t = 0; t < 250; t++) a.socket.send({ type: "ping", t });
  const err = await a.socket.next("error");
  assert.equal(err.code, "rate-limited");
  assert.equal(err.fatal, false);
  await waitFor("the bucket to refill", async () => {
    a.socket.send({ type: "ping", t: -1 });
    await elapse(50);
    return a.socket.all("pong").some((p) => p.t === -1);
  });
  assert.ok(a.socket.isOpen);
  // The bucket held 99 after the join; a few more may have refilled meanwhile.
  const pongs = a.socket.all("pong").filter((p) => p.t !== -1).length;
  assert.ok(pongs >= 99 && pongs < 150, `${pongs} of 250 answered`);
  assert.ok((h.hub.metrics.rejected["rate-limited"] ?? 0) >= 100);
});

Deno.test("rate limit: a sustained flood closes the socket with 1008", async () => {
  await using h = await startHub();
  await using a = await join(h.url(newRoomId()), "Ada");
  // Each frame is sent once the server has dealt with the previous one (answered or dropped),
  // about 1,000 a second: no frame is in flight when the server closes, so the close is clean.
  // (A frame arriving after the server's close makes Deno drop the connection, code 0.)
  const handled = () => a.socket.all("pong").length + (h.hub.metrics.rejected["rate-limited"] ?? 0);
  // A burst first: the bucket (99 tokens after the join) takes ~100, the rest, fewer than 200,
  // are dropped.
  let sent = 0;
  while (sent < 290) a.socket.send({ type: "ping", t: sent++ });
  await waitFor("the burst to be handled", () => handled() >= sent);
  assert.ok(a.socket.isOpen);
  // Then one frame at a time, as fast as the server takes them, until it closes the socket.
  while (a.socket.isOpen && sent < 1_000) {
    a.socket.send({ type: "ping", t: sent++ });
    await waitFor("the frame to be handled", () => handled() >= sent || !a.socket.isOpen, 5_000, 1);
  }
  assert.equal((await a.socket.closed()).code, 1008);
  assert.equal(ERRORS["rate-limited"].closeCode, 1008);
  assert.equal(h.hub.metrics.rejected["rate-limited"], 200, "closed at the 200th dropped frame");
  assert.ok(a.socket.all("error").some((e) => e.code === "rate-limited"));
});

Deno.test("join timeout: a socket that never joins is closed with not-joined", async () => {
  await using h = await startHub({ joinTimeoutMs: 300 });
  await using s = await connect(h.url(newRoomId()));
  const opened = Date.now();
  const message = await assertFatal(s, "not-joined");
  assert.ok(Date.now() - opened >= 250, "not before the timeout");
  assert.match(message, /0\.3 s/);
});

// ---------------------------------------------------------------------------------------------
// Origin

/** The HTTP answer to a WebSocket upgrade request, without completing any upgrade. */
async function upgradeStatus(
  url: string,
  origin: string,
): Promise<{ status: number; body: string }> {
  const res = await fetch(url.replace(/^ws/, "http"), {
    headers: {
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      "sec-websocket-version": "13",
      origin,
    },
  });
  return { status: res.status, body: await res.text() };
}

Deno.test("origin: another site's origin gets 403; the same host is allowed", async () => {
  await using h = await startHub();
  const url = h.url(newRoomId());
  const refused = await upgradeStatus(url, "http://evil.example");
  assert.equal(refused.status, 403);
  assert.equal(JSON.parse(refused.body).error, "bad-origin");
  // Same host name, other port: another origin.
  assert.equal((await upgradeStatus(url, "http://127.0.0.1:1")).status, 403);
  await assert.rejects(connect(url, { origin: "https://evil.example" }));
  assert.equal(h.hub.metrics.rejected["bad-origin"], 3);

  await using a = await join(url, "Ada", { origin: h.origin });
  assert.match(a.peer, PEER_ID_PATTERN);
});

Deno.test("origin: allowedOrigins replaces the same-host rule", async () => {
  await using h = await startHub({ allowedOrigins: ["https://mooz.example"] });
  const url = h.url(newRoomId());
  assert.equal((await upgradeStatus(url, h.origin)).status, 403);
  await using a = await join(url, "Ada", { origin: "https://mooz.example" });
  assert.equal(a.welcome.resumed, false);
  await using b = await join(url, "Bob"); // no Origin: not a browser
  assert.deepEqual(peers(b.welcome.members), [a.peer, b.peer]);
});

// ---------------------------------------------------------------------------------------------
// Two isolates on one KV

Deno.test("two hubs on one KV: signals cross through the bus; a stopped hub's member waits out its grace", async () => {
  const graceMs = 600;
  const config = { heartbeatMs: 100, heartbeatTimeoutMs: 400, inboxPollMs: 50, graceMs };
  await using h1 = await startHub(config);
  const h2 = await startHub(config, { kv: h1.kv });
  try {
    const room = newRoomId();
    await using a = await join(h1.url(room), "Ada");
    const b = await join(h2.url(room), "Bob");
    await a.socket.roster((m) => m.length === 2, "Ada seeing Bob (via the bus)");

    a.socket.send({ type: "signal", to: b.peer, payload: { via: "bus", n: "ü" } });
    assert.deepEqual(await b.socket.next("signal"), {
      type: "signal",
      from: a.peer,
      payload: { via: "bus", n: "ü" },
    });
    b.socket.send({ type: "signal", to: a.peer, payload: "back" });
    assert.equal((await a.socket.next("signal")).from, b.peer);
    // Payloads at the 32 KiB limit cross too, also those that KV would store larger than
    // their JSON (a non-Latin-1 character; numbers).
    const big = [
      "€" + "a".repeat(MAX_PAYLOAD_BYTES - 5),
      Array.from({ length: 8_000 }, () => 0.5),
    ];
    for (const payload of big) {
      a.socket.send({ type: "signal", to: b.peer, payload });
      assert.deepEqual((await b.socket.next("signal")).payload, payload);
    }
    assert.equal(h1.hub.metrics.relayed.bus, 3);
    assert.equal(h2.hub.metrics.relayed.bus, 1);
    assert.equal(h1.hub.metrics.relayed.local, undefined);

    // Hub 2 stops (a deploy) without its member leaving: Bob keeps his place, shown as
    // disconnected at once (his server said it stopped), for the grace period from then.
    await h2.close();
    await b.socket.closed();
    await a.socket.roster((m) => member(m, b.peer)?.connected === false, "Bob disconnected");
    const lostAt = Date.now();
    await a.socket.roster((m) => !member(m, b.peer), "a roster without Bob", 5_000);
    const took = Date.now() - lostAt;
    assert.ok(took >= graceMs - 100, `removed ${took} ms after his server stopped`);
    assert.equal(h1.hub.metrics.evictions["grace-expired"], 1);
    assert.equal(h1.hub.metrics.evictions.heartbeat, undefined);
    assert.deepEqual(peers(a.socket.view!), [a.peer]);
  } finally {
    await h2.close();
  }
});

Deno.test("order: a peer's signal that reaches a newcomer before its welcome is held until after it", async () => {
  const kv = await Deno.openKv(":memory:");
  // Bob's hub reads rooms slowly while the gate is shut, so his welcome (which needs a read of
  // the room) is late while Ada, on the other hub, already knows of him and signals him.
  let gate: PromiseWithResolvers<void> | null = null;
  const gated = new Proxy(kv, {
    get(target, prop) {
      if (prop === "list") {
        return (selector: Deno.KvListSelector, options?: Deno.KvListOptions) => {
          const wait = gate?.promise;
          if (!wait || !("start" in selector)) return target.list(selector, options);
          return (async function* () {
            await wait;
            yield* target.list(selector, options);
          })();
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const config = { inboxPollMs: 50 };
  try {
    await using h1 = await startHub(config, { kv: gated });
    await using h2 = await startHub(config, { kv });
    // Disposed before the hubs, whose stop waits for the gated read.
    using _open = { [Symbol.dispose]: () => gate?.resolve() };
    const room = newRoomId();
    await using a = await join(h2.url(room), "Ada");
    gate = Promise.withResolvers<void>();
    await using bob = await connect(h1.url(room));
    bob.send({ ...JOIN, name: "Bob" });
    let bobPeer = "";
    await waitFor("Bob's membership in KV", async () => {
      const snapshot = await h2.hub.store.snapshot(room);
      bobPeer = snapshot?.members.find((m) => m.peer !== a.peer)?.peer ?? "";
      return bobPeer !== "";
    });
    // Cy joins on Ada's hub, which reads the room, which names Bob: she signals him at once.
    await using _cy = await join(h2.url(room), "Cy");
    await a.socket.roster((m) => member(m, bobPeer) !== undefined, "Ada's roster naming Bob");
    const received = h1.hub.busStats.received;
    a.socket.send({ type: "signal", to: bobPeer, payload: "offer" });
    // The bus hands a message on as it counts it: from here on, Bob's hub has written the
    // signal to his socket or is holding it, and the socket keeps the server's order.
    await waitFor("the signal at Bob's hub", () => h1.hub.busStats.received > received);
    gate.resolve();
    gate = null;
    await bob.next("signal");
    assert.deepEqual(bob.received.slice(0, 2).map((m) => m.type), ["welcome", "signal"]);
    assert.equal(bob.all("welcome")[0].peer, bobPeer);
    assert.deepEqual(bob.all("signal")[0], { type: "signal", from: a.peer, payload: "offer" });
  } finally {
    kv.close();
  }
});

Deno.test("concurrent resumes of one token, 50 rounds on two hubs: one live socket, never a ghost", async () => {
  const config = { heartbeatMs: 100, inboxPollMs: 50 };
  await using h1 = await startHub(config);
  const h2 = await startHub(config, { kv: h1.kv });
  const hubs = [h1, h2];
  try {
    const room = newRoomId();
    const a = await join(h1.url(room), "Ada");
    await using b = await join(h2.url(room), "Bob");
    let live: TestSocket = a.socket;
    let token = a.welcome.token;
    const all: TestSocket[] = [a.socket];
    for (let round = 0; round < 50; round++) {
      // Two sockets with the same token at once, each on a hub picked per round (same or not).
      const pair = await Promise.all([0, 1].map((i) => connect(hubs[(round >> i) & 1].url(room))));
      all.push(...pair);
      for (const s of pair) s.send({ ...JOIN, name: "Ada", resume: token });
      const answer = (s: TestSocket) =>
        s.received.find((m) => m.type === "welcome" || m.type === "error");
      await waitFor(`round ${round}: both answered`, () => pair.every((s) => answer(s)));
      const outcomes = pair.map((s) => {
        const m = answer(s)!;
        return m.type === "welcome" ? { welcome: m } : { error: m.type === "error" ? m.code : "" };
      });
      const winners = outcomes.flatMap((o, i) => "welcome" in o ? [{ i, welcome: o.welcome }] : []);
      assert.equal(winners.length, 1, `round ${round}: ${JSON.stringify(outcomes)}`);
      for (const o of outcomes) if ("error" in o) assert.equal(o.error, "resume-failed");
      const won = winners[0];
      assert.ok(won && won.welcome);
      const winner = pair[won.i];
      assert.equal(won.welcome.peer, a.peer);
      token = won.welcome.token;
      // The previous owner is told it was replaced; the loser was refused: one live socket.
      await live.closed();
      await waitFor(
        `round ${round}: only the winner open`,
        () => all.filter((s) => s.isOpen).length === 1 && winner.isOpen,
      );
      live = winner;
      const seen = await b.socket.roster(
        (m) => member(m, a.peer)?.connected === true,
        "Ada connected",
      );
      assert.equal(seen.length, 2);
    }
    // The roster matches the socket: closing it shows Ada disconnected (no ghost left behind).
    await live.close();
    await b.socket.roster((m) => member(m, a.peer)?.connected === false, "Ada disconnected");
    const stored = await h1.hub.store.snapshot(room);
    assert.equal(member(stored?.members ?? [], a.peer)?.connected, false);
  } finally {
    await h2.close();
  }
});
