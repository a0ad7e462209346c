/**
 * Host controls end to end (PROTOCOL.md, "Roles" and "Lobby"): a real hub on a real in-memory
 * Deno KV behind a real HTTP server, driven by raw WebSocket clients (signaling/testing.ts).
 * Every host action is tried by a non-host first: it must be refused and change nothing.
 */
import assert from "node:assert/strict";
import {
  type ErrorCode,
  ERRORS,
  EVICTIONS,
  type HostAction,
  type RosterMessage,
  type WelcomeMessage,
} from "./protocol.ts";
import { MAX_LOBBY } from "./limits.ts";
import { newRoomId } from "./room_id.ts";
import {
  connect,
  elapse,
  join,
  type Joined,
  joinMessage,
  knock,
  newSecret,
  peers,
  startHub,
  type TestHub,
  type TestSocket,
} from "./testing.ts";

/** Asserts the next error is the fatal `code` and the socket closes with its close code. */
async function assertFatal(socket: TestSocket, code: ErrorCode): Promise<string> {
  const err = await socket.next("error");
  assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
  assert.equal(err.fatal, true);
  assert.equal((await socket.closed()).code, ERRORS[code].closeCode);
  return err.message;
}

/** Asserts the next error is the non-fatal `code` and the socket still answers afterwards. */
async function assertNonFatal(socket: TestSocket, code: ErrorCode): Promise<string> {
  const err = await socket.next("error");
  assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
  assert.equal(err.fatal, false);
  await socket.roundTrip();
  assert.ok(socket.isOpen);
  return err.message;
}

/** Asserts the socket is evicted with `code` by `by` and closed with the eviction's code. */
async function assertEvicted(socket: TestSocket, code: "kicked" | "ended", by: string) {
  const evicted = await socket.next("evicted");
  assert.equal(evicted.code, code);
  assert.equal(evicted.by, by);
  assert.ok(evicted.reason.length > 0);
  assert.equal((await socket.closed()).code, EVICTIONS[code].closeCode);
}

/** A peer id nobody has. */
function randomPeerId(): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(12))))
    .replace(/\+/g, "-").replace(/\//g, "_");
}

type State = WelcomeMessage | RosterMessage;

/** Peer ids, in order, of members as the store or a roster lists them. */
const ids = (members: { peer: string }[]) => members.map((m) => m.peer);

/** The room as the store has it (the state of record), for "nothing changed" checks. */
async function stored(h: TestHub, room: string) {
  const s = await h.hub.store.snapshot(room);
  assert.ok(s, "the room exists");
  return s;
}

/** A room whose creator (Ada, with a secret) is its host. */
async function hostedRoom(h: TestHub, room = newRoomId()) {
  const secret = newSecret();
  const ada = await join(h.url(room), "Ada", { secret });
  assert.deepEqual(ada.welcome.room.hosts, [ada.peer], "the creator is host");
  return { room, ada, secret };
}

/** Joins and waits until `host` sees the newcomer (so rosters are in step). */
async function joinSeen(h: TestHub, room: string, name: string, host: Joined, secret?: string) {
  const joined = await join(h.url(room), name, { secret: secret ?? newSecret() });
  await host.socket.roster((m) => m.some((x) => x.peer === joined.peer), `${name} in the roster`);
  return joined;
}

/** Sends a host action and waits for the roster that shows its effect (or fails). */
async function act(host: Joined, action: HostAction, shows: (m: State) => boolean, what: string) {
  host.socket.send(action);
  return await host.socket.state(shows, what);
}

// ---------------------------------------------------------------------------------------------
// Only hosts

Deno.test("roles: every host action from a non-host is forbidden and changes nothing", async () => {
  await using h = await startHub();
  const { room, ada } = await hostedRoom(h);
  await using _ada = ada;
  await using bob = await joinSeen(h, room, "Bob", ada);
  await using cy = await joinSeen(h, room, "Cy", ada);
  const before = await stored(h, room);
  const attempts: HostAction[] = [
    { type: "lock", locked: true },
    { type: "lobby", on: true },
    { type: "admit", knock: randomPeerId(), allow: true },
    { type: "remove", peer: cy.peer },
    { type: "remove", peer: ada.peer },
    { type: "role", peer: bob.peer, host: true },
    { type: "role", peer: ada.peer, host: false },
    { type: "mute", peer: cy.peer, what: "audio" },
    { type: "mute", peer: "all", what: "video" },
    { type: "end" },
  ];
  for (const action of attempts) {
    bob.socket.send(action);
    const message = await assertNonFatal(bob.socket, "forbidden");
    assert.match(message, /host/i, `the refusal of ${action.type} names the rule: ${message}`);
  }
  const after = await stored(h, room);
  assert.deepEqual(after.meta, before.meta, "the room is unchanged");
  assert.deepEqual(ids(after.members), [ada.peer, bob.peer, cy.peer]);
  // Nobody was told anything: no mute, no eviction.
  await Promise.all([ada, cy].map((j) => j.socket.roundTrip()));
  for (const j of [ada, bob, cy]) {
    assert.deepEqual(j.socket.all("muted"), []);
    assert.deepEqual(j.socket.all("evicted"), []);
    assert.ok(j.socket.isOpen);
  }
  assert.equal(h.hub.metrics.rejected.forbidden, attempts.length);
  // Non-hosts never see the hosts' fields.
  assert.equal(bob.socket.last && "knocks" in bob.socket.last, false);
  assert.equal(bob.socket.last && "disputes" in bob.socket.last, false);
  assert.ok(ada.socket.last && "knocks" in ada.socket.last, "the host gets knocks");
});

Deno.test("roles: a host may not remove a host or itself, nor demote the last host", async () => {
  await using h = await startHub();
  const { room, ada } = await hostedRoom(h);
  await using _ada = ada;
  await using bob = await joinSeen(h, room, "Bob", ada);
  ada.socket.send({ type: "remove", peer: ada.peer });
  await assertNonFatal(ada.socket, "forbidden");
  ada.socket.send({ type: "role", peer: ada.peer, host: false });
  assert.match(await assertNonFatal(ada.socket, "forbidden"), /host/);
  await act(
    ada,
    { type: "role", peer: bob.peer, host: true },
    (m) => m.room.hosts.includes(bob.peer),
    "Bob a host",
  );
  ada.socket.send({ type: "remove", peer: bob.peer });
  assert.match(await assertNonFatal(ada.socket, "forbidden"), /host role/);
  ada.socket.send({ type: "remove", peer: randomPeerId() });
  await assertNonFatal(ada.socket, "unknown-peer");
  const s = await stored(h, room);
  assert.deepEqual(s.meta.hosts, [ada.peer, bob.peer]);
  assert.deepEqual(ids(s.members), [ada.peer, bob.peer]);
});

Deno.test("roles: a member sending knock, or a socket sending host actions before joining, is refused", async () => {
  await using h = await startHub();
  const { room, ada } = await hostedRoom(h);
  await using _ada = ada;
  ada.socket.send({ type: "knock", payload: "hello" });
  await assertNonFatal(ada.socket, "forbidden");
  await using stranger = await connect(h.url(room));
  stranger.send({ type: "end" });
  await assertFatal(stranger, "not-joined");
  assert.ok(await h.hub.store.snapshot(room));
});

// ---------------------------------------------------------------------------------------------
// Remove

Deno.test("remove: the member is evicted with kicked and by; its token and secret are refused; relay stops", async () => {
  await using h = await startHub();
  const { room, ada } = await hostedRoom(h);
  await using _ada = ada;
  const bobSecret = newSecret();
  const bob = await joinSeen(h, room, "Bob", ada, bobSecret);
  await using cy = await joinSeen(h, room, "Cy", ada);
  await bob.socket.roster((m) => m.length === 3, "Bob sees everyone");
  const state = await act(
    ada,
    { type: "remove", peer: bob.peer },
    (m) => !m.members.some((x) => x.peer === bob.peer),
    "a roster without Bob",
  );
  await assertEvicted(bob.socket, "kicked", ada.peer);
  const [removal] = state.room.removals;
  assert.deepEqual({ ...removal, at: 0 }, {
    peer: bob.peer,
    code: "kicked",
    by: ada.peer,
    unreachable: [],
    at: 0,
  });
  const cyState = await cy.socket.state((m) => m.room.removals.length === 1, "Cy sees the removal");
  assert.deepEqual(peers(cyState.members), [ada.peer, cy.peer]);
  assert.equal(h.hub.metrics.evictions.kicked, 1);

  // Relay to it stops: it is no longer a member.
  cy.socket.send({ type: "signal", to: bob.peer, payload: "still there?" });
  const err = await cy.socket.next("error");
  assert.equal(err.code, "unknown-peer");
  assert.equal(err.to, bob.peer);

  // Its token is dead, and its secret is banned from this room.
  await using resumed = await connect(h.url(room));
  resumed.send(joinMessage("Bob", { resume: bob.welcome.token, secret: bobSecret }));
  await assertFatal(resumed, "resume-failed");
  await using again = await connect(h.url(room));
  again.send(joinMessage("Bob", { secret: bobSecret }));
  await assertFatal(again, "removed");
  const s = await stored(h, room);
  assert.deepEqual(ids(s.members), [ada.peer, cy.peer]);
  assert.equal(s.meta.removals.length, 1);
  // Someone else (another secret) may still join.
  await using dan = await join(h.url(room), "Dan", { secret: newSecret() });
  assert.equal(dan.welcome.members.length, 3);
});

Deno.test("remove: a removed member's signals in flight are not relayed once it is out", async () => {
  await using h = await startHub();
  const { room, ada } = await hostedRoom(h);
  await using _ada = ada;
  const bob = await joinSeen(h, room, "Bob", ada);
  await using cy = await joinSeen(h, room, "Cy", ada);
  ada.socket.send({ type: "remove", peer: bob.peer });
  await bob.socket.next("evicted");
  // Whatever Bob sends after his eviction reaches nobody.
  try {
    bob.socket.send({ type: "signal", to: cy.peer, payload: "late" });
  } catch {
    // Closed already.
  }
  await bob.socket.closed();
  await cy.socket.roundTrip();
  await h.hub.settle();
  assert.deepEqual(cy.socket.all("signal"), []);
});

// ---------------------------------------------------------------------------------------------
// Roles: reclaim, hand-over, fallback

Deno.test("reclaim: a host who reloads (a fresh join with its secret) is host again, through lock and lobby", async () => {
  await using h = await startHub({ graceMs: 10_000 });
  const { room, ada, secret } = await hostedRoom(h);
  await using bob = await joinSeen(h, room, "Bob", ada);
  await act(ada, { type: "lock", locked: true }, (m) => m.room.locked, "locked");
  await act(ada, { type: "lobby", on: true }, (m) => m.room.lobby, "lobby on");
  // A reload: the socket drops and the page joins again without its token.
  await ada.socket.close();
  await bob.socket.roster(
    (m) => m.find((x) => x.peer === ada.peer)?.connected === false,
    "Ada away",
  );
  await using ada2 = await join(h.url(room), "Ada", { secret });
  assert.notEqual(ada2.peer, ada.peer);
  assert.ok(ada2.welcome.room.hosts.includes(ada2.peer), "host again");
  assert.ok("knocks" in ada2.welcome, "a host's welcome carries the lobby");
  // And acts as one.
  await act(ada2, { type: "lock", locked: false }, (m) => !m.room.locked, "unlocked");
  // Bob, who has no host secret, cannot.
  bob.socket.send({ type: "lock", locked: true });
  await assertNonFatal(bob.socket, "forbidden");
});

Deno.test("hand-over: promote someone, demote yourself, leave: the new host keeps the room", async () => {
  await using h = await startHub();
  const { room, ada } = await hostedRoom(h);
  await using bob = await joinSeen(h, room, "Bob", ada);
  await using cy = await joinSeen(h, room, "Cy", ada);
  await act(
    ada,
    { type: "role", peer: bob.peer, host: true },
    (m) => m.room.hosts.join() === [ada.peer, bob.peer].join(),
    "two hosts",
  );
  const bobState = await bob.socket.state((m) => m.room.hosts.includes(bob.peer), "Bob host");
  assert.ok("knocks" in bobState && "disputes" in bobState, "Bob now gets the hosts' fields");
  await act(
    ada,
    { type: "role", peer: ada.peer, host: false },
    (m) => m.room.hosts.join() === bob.peer,
    "Bob the only host",
  );
  const adaState = await ada.socket.state((m) => !m.room.hosts.includes(ada.peer), "Ada not host");
  assert.equal("knocks" in adaState, false, "Ada no longer gets the hosts' fields");
  ada.socket.send({ type: "lock", locked: true });
  await assertNonFatal(ada.socket, "forbidden");
  ada.socket.send({ type: "leave" });
  await ada.socket.closed();
  const s = await cy.socket.state((m) => m.members.length === 2, "Ada gone");
  assert.deepEqual(s.room.hosts, [bob.peer]);
  assert.equal(s.room.host, bob.peer);
  assert.equal((await stored(h, room)).meta.locked, false);
});

Deno.test("fallback oldest: when the last host leaves, the longest-present connected member becomes host", async () => {
  await using h = await startHub({ hostFallback: "oldest", graceMs: 10_000 });
  const { room, ada } = await hostedRoom(h);
  const bob = await joinSeen(h, room, "Bob", ada);
  await using cy = await joinSeen(h, room, "Cy", ada);
  await using dan = await joinSeen(h, room, "Dan", ada);
  // Bob, present longer than Cy, is away (grace period): he is passed over.
  await bob.socket.close();
  await cy.socket.roster(
    (m) => m.find((x) => x.peer === bob.peer)?.connected === false,
    "Bob away",
  );
  ada.socket.send({ type: "leave" });
  const s = await dan.socket.state((m) => m.members.length === 3, "Ada gone");
  assert.deepEqual(s.room.hosts, [cy.peer]);
  assert.equal(s.room.locked, false);
  const cyState = await cy.socket.state((m) => m.room.hosts.includes(cy.peer), "Cy host");
  assert.ok("knocks" in cyState);
  await act(cy, { type: "lock", locked: true }, (m) => m.room.locked, "Cy locks");
});

Deno.test("fallback lock: when the last host leaves, the room locks; lobby knocks are denied; the host reclaims", async () => {
  await using h = await startHub({ hostFallback: "lock" });
  const { room, ada, secret } = await hostedRoom(h);
  await using bob = await joinSeen(h, room, "Bob", ada);
  await act(ada, { type: "lobby", on: true }, (m) => m.room.lobby, "lobby on");
  await using waiting = await knock(h.url(room), "Cy");
  await ada.socket.state((m) => m.knocks?.length === 1, "Ada sees Cy knock");
  ada.socket.send({ type: "leave" });
  await ada.socket.closed();
  const s = await bob.socket.state((m) => m.members.length === 1, "Ada gone");
  assert.deepEqual(s.room.hosts, []);
  assert.equal(s.room.host, null);
  assert.equal(s.room.locked, true);
  // Nobody can open the lobby: the waiting newcomer is turned away, not left waiting.
  await assertFatal(waiting.socket, "denied");
  await using dan = await connect(h.url(room));
  dan.send(joinMessage("Dan", { secret: newSecret() }));
  await assertFatal(dan, "room-locked");
  // The host comes back with the secret: host again, past the lock.
  await using ada2 = await join(h.url(room), "Ada", { secret });
  assert.deepEqual(ada2.welcome.room.hosts, [ada2.peer]);
  await act(ada2, { type: "lock", locked: false }, (m) => !m.room.locked, "unlocked");
});

// ---------------------------------------------------------------------------------------------
// Lock

Deno.test("lock: a new joiner is refused with room-locked; a resume still gets in", async () => {
  await using h = await startHub({ graceMs: 10_000 });
  const { room, ada } = await hostedRoom(h);
  await using _ada = ada;
  const bob = await joinSeen(h, room, "Bob", ada);
  await act(ada, { type: "lock", locked: true }, (m) => m.room.locked, "locked");
  await using cy = await connect(h.url(room));
  cy.send(joinMessage("Cy", { secret: newSecret() }));
  await assertFatal(cy, "room-locked");
  await bob.socket.close();
  await using back = await join(h.url(room), "Bob", { resume: bob.welcome.token });
  assert.equal(back.peer, bob.peer);
  assert.equal(back.welcome.resumed, true);
  assert.equal(back.welcome.room.locked, true);
  await act(ada, { type: "lock", locked: false }, (m) => !m.room.locked, "unlocked");
  await using dan = await join(h.url(room), "Dan", { secret: newSecret() });
  assert.equal(dan.welcome.members.length, 3);
});

// ---------------------------------------------------------------------------------------------
// Lobby

Deno.test("lobby: a newcomer waits and can do nothing but knock, ping and leave; the host admits it", async () => {
  await using h = await startHub();
  const { room, ada } = await hostedRoom(h);
  await using _ada = ada;
  await using bob = await joinSeen(h, room, "Bob", ada);
  await act(ada, { type: "lobby", on: true }, (m) => m.room.lobby, "lobby on");
  await using cy = await knock(h.url(room), "Cy", { secret: newSecret() });
  const seen = await ada.socket.state((m) => m.knocks?.length === 1, "Ada sees the knock");
  assert.equal(seen.knocks![0].id, cy.knock);
  assert.equal(seen.knocks![0].payload, null, "no payload before the knock message");
  assert.deepEqual(peers(seen.members), [ada.peer, bob.peer], "a waiting socket is no member");
  const before = await stored(h, room);

  // Everything but knock, ping and leave is refused and changes nothing.
  const refused: unknown[] = [
    { type: "signal", to: ada.peer, payload: { offer: "sneaky" } },
    { type: "links", links: { [ada.peer]: "connected" } },
    { type: "lock", locked: true },
    { type: "lobby", on: false },
    { type: "admit", knock: cy.knock, allow: true },
    { type: "remove", peer: bob.peer },
    { type: "role", peer: cy.knock, host: true },
    { type: "mute", peer: "all", what: "audio" },
    { type: "end" },
    joinMessage("Cy again", { secret: newSecret() }),
  ];
  for (const message of refused) {
    cy.socket.send(message);
    await assertNonFatal(cy.socket, "forbidden");
  }
  const after = await stored(h, room);
  assert.deepEqual(after.meta, before.meta);
  assert.deepEqual(after.knocks.map((k) => k.peer), [cy.knock]);
  await ada.socket.roundTrip();
  assert.deepEqual(ada.socket.all("signal"), [], "nothing was relayed from the lobby");
  assert.deepEqual(cy.socket.all("roster"), [], "no roster in the lobby");

  // The knock carries the sealed payload to hosts only, once.
  const sealed = { v: 1, iv: "abc", ct: "sealed name" };
  cy.socket.send({ type: "knock", payload: sealed });
  const knocked = await ada.socket.state(
    (m) => m.knocks?.[0]?.payload !== null,
    "Ada sees the knock's payload",
  );
  assert.deepEqual(knocked.knocks![0].payload, sealed);
  cy.socket.send({ type: "knock", payload: "again" });
  await assertNonFatal(cy.socket, "forbidden");
  await bob.socket.roundTrip();
  assert.ok(bob.socket.all("roster").every((r) => !("knocks" in r)), "Bob never sees knocks");

  // Admitted: the reserved id, a welcome, and then it is a member like any other.
  const admitted = await act(
    ada,
    { type: "admit", knock: cy.knock, allow: true },
    (m) => m.members.length === 3,
    "Cy in",
  );
  assert.deepEqual(admitted.knocks, []);
  const welcome = await cy.socket.next("welcome");
  assert.equal(welcome.peer, cy.knock);
  assert.deepEqual(peers(welcome.members), [ada.peer, bob.peer, cy.knock]);
  cy.socket.send({ type: "signal", to: ada.peer, payload: "hi" });
  assert.equal((await ada.socket.next("signal")).from, cy.knock);
  assert.equal((await stored(h, room)).knocks.length, 0);
  assert.equal(h.hub.metrics.joins, 3);
});

Deno.test("lobby: deny closes with denied; leave and a closed socket withdraw the knock", async () => {
  await using h = await startHub();
  const { room, ada } = await hostedRoom(h);
  await using _ada = ada;
  await act(ada, { type: "lobby", on: true }, (m) => m.room.lobby, "lobby on");
  await using cy = await knock(h.url(room), "Cy");
  await using dan = await knock(h.url(room), "Dan");
  await using eve = await knock(h.url(room), "Eve");
  await ada.socket.state((m) => m.knocks?.length === 3, "three knocks");
  ada.socket.send({ type: "admit", knock: cy.knock, allow: false });
  await assertFatal(cy.socket, "denied");
  dan.socket.send({ type: "leave" });
  assert.equal((await dan.socket.closed()).code, 1000);
  await eve.socket.close();
  const s = await ada.socket.state((m) => m.knocks?.length === 0, "no knocks left");
  assert.deepEqual(ids(s.members), [ada.peer]);
  assert.equal((await stored(h, room)).knocks.length, 0);
  // A decision about a knock that is gone.
  ada.socket.send({ type: "admit", knock: dan.knock, allow: true });
  const err = await ada.socket.next("error");
  assert.equal(err.fatal, false);
  assert.ok(err.code === "unknown-peer", `got ${err.code}`);
});

Deno.test("lobby: turning it off admits everyone waiting", async () => {
  await using h = await startHub();
  const { room, ada } = await hostedRoom(h);
  await using _ada = ada;
  await act(ada, { type: "lobby", on: true }, (m) => m.room.lobby, "lobby on");
  await using cy = await knock(h.url(room), "Cy");
  await using dan = await knock(h.url(room), "Dan");
  await ada.socket.state((m) => m.knocks?.length === 2, "two knocks");
  await act(
    ada,
    { type: "lobby", on: false },
    (m) => m.members.length === 3 && !m.room.lobby,
    "both in",
  );
  assert.equal((await cy.socket.next("welcome")).peer, cy.knock);
  assert.equal((await dan.socket.next("welcome")).peer, dan.knock);
});

Deno.test("lobby: at most MAX_LOBBY wait; a waiting socket is not closed by the join timeout", async () => {
  const joinTimeoutMs = 200;
  await using h = await startHub({ joinTimeoutMs });
  const { room, ada } = await hostedRoom(h);
  await using _ada = ada;
  await act(ada, { type: "lobby", on: true }, (m) => m.room.lobby, "lobby on");
  // One after another: each knock is then handled well within its own join timeout, also on a
  // busy machine (16 at once queue behind each other's KV commits for longer than 200 ms).
  // `MAX_LOBBY` under concurrency is room_roles_test's business.
  const waiting: Awaited<ReturnType<typeof knock>>[] = [];
  for (let i = 0; i < MAX_LOBBY; i++) waiting.push(await knock(h.url(room), `Guest ${i}`));
  try {
    await using extra = await connect(h.url(room));
    extra.send(joinMessage("One too many"));
    assert.match(await assertFatal(extra, "room-full"), /waiting/);
    await ada.socket.state((m) => m.knocks?.length === MAX_LOBBY, "every knock shown");
    // Past the join timeout, the waiting are still there (an absence: wall-clock time must pass).
    await elapse(joinTimeoutMs * 2);
    assert.ok(waiting.every((w) => w.socket.isOpen));
    ada.socket.send({ type: "admit", knock: waiting[0].knock, allow: true });
    assert.equal((await waiting[0].socket.next("welcome")).peer, waiting[0].knock);
  } finally {
    await Promise.all(waiting.map((w) => w.socket.close()));
  }
});

Deno.test("lobby: when everyone leaves, the waiting are told denied", async () => {
  await using h = await startHub();
  const { room, ada } = await hostedRoom(h);
  await act(ada, { type: "lobby", on: true }, (m) => m.room.lobby, "lobby on");
  await using cy = await knock(h.url(room), "Cy");
  ada.socket.send({ type: "leave" });
  const message = await assertFatal(cy.socket, "denied");
  assert.match(message, /left/);
});

// ---------------------------------------------------------------------------------------------
// Mute

Deno.test("mute: the target is told with by; all means every member but the hosts", async () => {
  await using h = await startHub();
  const { room, ada } = await hostedRoom(h);
  await using _ada = ada;
  await using bob = await joinSeen(h, room, "Bob", ada);
  await using cy = await joinSeen(h, room, "Cy", ada);
  ada.socket.send({ type: "mute", peer: bob.peer, what: "audio" });
  assert.deepEqual(await bob.socket.next("muted"), { type: "muted", what: "audio", by: ada.peer });
  await act(
    ada,
    { type: "role", peer: cy.peer, host: true },
    (m) => m.room.hosts.includes(cy.peer),
    "Cy host",
  );
  cy.socket.send({ type: "mute", peer: "all", what: "screen" });
  assert.deepEqual(await bob.socket.next("muted"), { type: "muted", what: "screen", by: cy.peer });
  await Promise.all([ada, cy].map((j) => j.socket.roundTrip()));
  assert.deepEqual(ada.socket.all("muted"), [], "hosts are not muted by `all`");
  assert.deepEqual(cy.socket.all("muted"), []);
  assert.equal(bob.socket.all("muted").length, 2);
});

// ---------------------------------------------------------------------------------------------
// End

Deno.test("end: every member is evicted with ended, the waiting get room-ended, a later join room-ended", async () => {
  await using h = await startHub();
  const { room, ada, secret } = await hostedRoom(h);
  const bob = await joinSeen(h, room, "Bob", ada);
  await act(ada, { type: "lobby", on: true }, (m) => m.room.lobby, "lobby on");
  const cy = await knock(h.url(room), "Cy");
  await ada.socket.state((m) => m.knocks?.length === 1, "Cy knocks");
  ada.socket.send({ type: "end" });
  await assertEvicted(bob.socket, "ended", ada.peer);
  await assertEvicted(ada.socket, "ended", ada.peer);
  await assertFatal(cy.socket, "room-ended");
  assert.equal(await h.hub.store.snapshot(room), null, "the room is gone");
  for (const opts of [{ secret: newSecret() }, { secret }]) {
    await using late = await connect(h.url(room));
    late.send(joinMessage("Late", opts));
    await assertFatal(late, "room-ended");
  }
  await using resumed = await connect(h.url(room));
  resumed.send(joinMessage("Bob", { resume: bob.welcome.token }));
  await assertFatal(resumed, "resume-failed");
  assert.equal(h.hub.metrics.evictions.ended, 2);
});

// ---------------------------------------------------------------------------------------------
// Two isolates

Deno.test("two hubs on one KV: admit, mute, remove and end reach sockets on the other isolate", async () => {
  const config = { heartbeatMs: 100, inboxPollMs: 50 };
  await using h1 = await startHub(config);
  const h2 = await startHub(config, { kv: h1.kv });
  try {
    const { room, ada } = await hostedRoom(h1);
    await using _ada = ada;
    const bob = await join(h2.url(room), "Bob", { secret: newSecret() });
    await ada.socket.roster((m) => m.length === 2, "Ada sees Bob (via the bus)");
    await act(ada, { type: "lobby", on: true }, (m) => m.room.lobby, "lobby on");
    const cy = await knock(h2.url(room), "Cy");
    await ada.socket.state((m) => m.knocks?.length === 1, "Ada sees Cy's knock from hub 2");
    cy.socket.send({ type: "knock", payload: "sealed" });
    await ada.socket.state((m) => m.knocks?.[0]?.payload === "sealed", "and its payload");

    // Admit: hub 2 carries the decision out.
    ada.socket.send({ type: "admit", knock: cy.knock, allow: true });
    const welcome = await cy.socket.next("welcome");
    assert.equal(welcome.peer, cy.knock);
    await ada.socket.roster((m) => m.length === 3, "Ada sees Cy");

    // Mute: delivered over the bus.
    ada.socket.send({ type: "mute", peer: cy.knock, what: "video" });
    assert.deepEqual(await cy.socket.next("muted"), { type: "muted", what: "video", by: ada.peer });

    // Remove: hub 2 evicts its socket.
    ada.socket.send({ type: "remove", peer: bob.peer });
    await assertEvicted(bob.socket, "kicked", ada.peer);
    await cy.socket.state((m) => m.room.removals.length === 1 && m.members.length === 2, "Cy");

    // End: hub 2's members and waiting sockets are told.
    const dan = await knock(h2.url(room), "Dan");
    await ada.socket.state((m) => m.knocks?.length === 1, "Dan knocks");
    ada.socket.send({ type: "end" });
    await assertEvicted(cy.socket, "ended", ada.peer);
    await assertFatal(dan.socket, "room-ended");
    await assertEvicted(ada.socket, "ended", ada.peer);
  } finally {
    await h2.close();
  }
});

Deno.test("two hubs on one KV: a decision whose bus note is lost is carried out by the next heartbeat", async () => {
  const config = { heartbeatMs: 100, inboxPollMs: 50 };
  await using h1 = await startHub(config);
  const h2 = await startHub(config, { kv: h1.kv });
  try {
    const { room, ada } = await hostedRoom(h1);
    await using _ada = ada;
    await act(ada, { type: "lobby", on: true }, (m) => m.room.lobby, "lobby on");
    await using cy = await knock(h2.url(room), "Cy");
    await using dan = await knock(h2.url(room), "Dan");
    await ada.socket.state((m) => m.knocks?.length === 2, "two knocks");
    // Decided in the store directly, as if the host's isolate died before its notes went out.
    const admit = await h1.hub.store.hostAction(room, ada.peer, {
      type: "admit",
      knock: cy.knock,
      allow: true,
    });
    assert.ok(admit.ok);
    const deny = await h1.hub.store.hostAction(room, ada.peer, {
      type: "admit",
      knock: dan.knock,
      allow: false,
    });
    assert.ok(deny.ok);
    assert.equal((await cy.socket.next("welcome")).peer, cy.knock);
    await assertFatal(dan.socket, "denied");
    await ada.socket.roster((m) => m.length === 2, "Ada sees Cy");
  } finally {
    await h2.close();
  }
});

// ---------------------------------------------------------------------------------------------
// Disputes

Deno.test("disputes: a link whose ends disagree is shown to hosts only, and evicts nobody", async () => {
  const linkDeadlineMs = 300;
  await using h = await startHub({ linkDeadlineMs });
  const { room, ada } = await hostedRoom(h);
  await using _ada = ada;
  await using bob = await joinSeen(h, room, "Bob", ada);
  await using cy = await joinSeen(h, room, "Cy", ada);
  // Everyone reaches everyone, except that Bob says his link to Cy is still connecting while
  // Cy says it is connected: one of them is wrong, and the server cannot tell which.
  ada.socket.send({ type: "links", links: { [bob.peer]: "connected", [cy.peer]: "connected" } });
  bob.socket.send({ type: "links", links: { [ada.peer]: "connected", [cy.peer]: "connecting" } });
  cy.socket.send({ type: "links", links: { [ada.peer]: "connected", [bob.peer]: "connected" } });
  const pair = [bob.peer, cy.peer].sort();
  const seen = await ada.socket.state(
    (m) => (m.disputes ?? []).length > 0,
    "Ada sees the disputed link",
    linkDeadlineMs + 5_000,
  );
  assert.deepEqual(seen.disputes, [pair]);
  assert.equal(seen.members.length, 3, "nobody evicted");
  await Promise.all([bob, cy].map((j) => j.socket.roundTrip()));
  for (const j of [bob, cy]) {
    assert.ok(j.socket.all("roster").every((r) => !("disputes" in r)), "non-hosts never see it");
    assert.deepEqual(j.socket.all("evicted"), []);
  }
});
