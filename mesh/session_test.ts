/**
 * The meeting's signaling session against a scripted server (real WebSockets, real sealing): the
 * lobby knock a host can open (and one with another key it cannot), the end kinds of a host's
 * decisions with the host's name from its sealed hello, names in a mesh eviction, mute requests,
 * the browser secret in joins, and a key switch that keeps members who have not switched yet.
 */
import assert from "node:assert/strict";
import {
  ERRORS,
  EVICTIONS,
  PROTOCOL_VERSION,
  type ServerMessage,
  serverMessage,
  type WelcomeMessage,
} from "../signaling/protocol.ts";
import { waitFor } from "../signaling/testing.ts";
import { SealRing } from "./key_ring.ts";
import { newMeetingKey, parseMeetingKey } from "./meeting_key.ts";
import { Session } from "./session.ts";
import type { PeerId } from "./types.ts";

const ROOM = "k3fq-9xmp-2hdw-7rtc-a4ze";
const ADA = "AAAAAAAAAAAAAAAA";
const HOST = "HHHHHHHHHHHHHHHH";
const CAROL = "CCCCCCCCCCCCCCCC";
const KNOCK = "KKKKKKKKKKKKKKKK";
const SECRET = "s".repeat(43);

function bytesOf(key: string): Uint8Array {
  const parsed = parseMeetingKey(key);
  if (!parsed.ok) throw new Error("not a key");
  return parsed.bytes;
}
const KEY = bytesOf(newMeetingKey());

interface Connection {
  send(message: ServerMessage): void;
  close(code: number): void;
}

/** A server that hands every client frame to `onMessage`; `received` keeps them all. */
function startScriptedServer(
  onMessage: (message: Record<string, unknown>, conn: Connection) => void,
) {
  const sockets = new Set<WebSocket>();
  const received: Record<string, unknown>[] = [];
  let last: Connection | null = null;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    const conn: Connection = {
      send: (m) => socket.readyState === WebSocket.OPEN && socket.send(serverMessage(m)),
      close: (code) => socket.close(code),
    };
    last = conn;
    sockets.add(socket);
    socket.onclose = () => sockets.delete(socket);
    socket.onmessage = (e) => {
      const message = JSON.parse(e.data);
      received.push(message);
      onMessage(message, conn);
    };
    return response;
  });
  return {
    url: `ws://127.0.0.1:${server.addr.port}/api/rooms/${ROOM}/ws`,
    received,
    get conn(): Connection {
      if (!last) throw new Error("no connection yet");
      return last;
    },
    async [Symbol.asyncDispose]() {
      await Promise.all([...sockets].map((ws) =>
        new Promise((r) => {
          ws.addEventListener("close", r);
          ws.close();
        })
      ));
      await server.shutdown();
    },
  };
}

function welcome(peer: PeerId, others: PeerId[] = [], host = HOST): WelcomeMessage {
  return {
    type: "welcome",
    v: PROTOCOL_VERSION,
    peer,
    token: "token",
    resumed: false,
    room: {
      id: ROOM,
      capacity: 8,
      locked: false,
      host,
      hosts: [host],
      lobby: false,
      removals: [],
    },
    members: [peer, ...others].map((p, i) => ({
      peer: p,
      name: "",
      joinedAt: i,
      connected: true,
      links: {},
    })),
    config: { linkDeadlineMs: 20_000, graceMs: 30_000, heartbeatMs: 5_000 },
  };
}

/** A session as the meeting makes one, with what it reports. */
function startSession(url: string, opts: { key?: Uint8Array; name?: string } = {}) {
  const signals: { from: PeerId; payload: unknown }[] = [];
  const errors: string[] = [];
  const muted: unknown[] = [];
  const unverified: PeerId[] = [];
  const session = new Session({
    url,
    name: opts.name ?? "Ada",
    room: ROOM,
    key: opts.key ?? KEY,
    secret: SECRET,
    onSignal: (from, payload) => signals.push({ from, payload }),
    onError: (message) => errors.push(message),
    onMuted: (m) => muted.push(m),
    onUnverified: (peer) => unverified.push(peer),
  });
  return {
    session,
    signals,
    errors,
    muted,
    unverified,
    [Symbol.dispose]: () => session.close(),
  };
}

/** Another member's sealing, to talk to the session under test as the server would relay it. */
async function member(peer: PeerId, key = KEY) {
  const ring = await SealRing.create({ key, room: ROOM });
  const sealing = ring.session(peer);
  return {
    ring,
    /** A `signal` delivery from this member to `to`, sealed. */
    signal: async (to: PeerId, payload: unknown): Promise<ServerMessage> => ({
      type: "signal",
      from: peer,
      payload: JSON.parse(JSON.stringify(await sealing.seal(to, payload))),
    }),
    open: (from: PeerId, payload: unknown) => sealing.open(from, payload),
  };
}

Deno.test("session: lobby -> a knock only a host with the key can open -> joined", async () => {
  await using server = startScriptedServer((m, conn) => {
    if (m.type === "join") conn.send({ type: "waiting", knock: KNOCK });
  });
  using s = startSession(server.url, { name: "Dan" });
  await waitFor("waiting", () => s.session.state.value === "waiting");
  await waitFor("the knock", () => server.received.some((m) => m.type === "knock"));
  const knock = server.received.find((m) => m.type === "knock")!;
  const join = server.received.find((m) => m.type === "join")!;
  assert.equal(join.secret, SECRET);
  assert.equal(join.name, undefined, "no name for the server");
  // A host of the meeting opens it; a host with another key cannot.
  const host = await member(HOST);
  assert.deepEqual(await host.ring.openKnock(KNOCK, knock.payload), {
    name: "Dan",
    verified: true,
  });
  const stranger = await member(HOST, bytesOf(newMeetingKey()));
  assert.deepEqual(await stranger.ring.openKnock(KNOCK, knock.payload), {
    name: "",
    verified: false,
  });
  assert.equal(JSON.stringify(knock.payload).includes("Dan"), false, "sealed");

  server.conn.send(welcome(KNOCK, [HOST]));
  await waitFor("joined", () => s.session.state.value === "joined");
  assert.equal(s.session.self.value, KNOCK);
});

Deno.test("session: a host's knock view opens through openKnock, once per payload", async () => {
  const newcomer = await member(KNOCK);
  const payload = JSON.parse(JSON.stringify(await newcomer.ring.sealKnock(KNOCK, "Dan")));
  await using server = startScriptedServer((m, conn) => {
    if (m.type !== "join") return;
    conn.send({ ...welcome(HOST), knocks: [{ id: KNOCK, payload, at: 1 }], disputes: [] });
  });
  using s = startSession(server.url);
  await waitFor("joined", () => s.session.state.value === "joined");
  assert.deepEqual(s.session.knocks.value, [{ id: KNOCK, payload, at: 1 }]);
  const first = s.session.openKnock(KNOCK, payload);
  assert.equal(s.session.openKnock(KNOCK, payload), first, "kept");
  assert.deepEqual(await first, { name: "Dan", verified: true });
  assert.equal(s.session.room.value?.hosts[0], HOST);
});

Deno.test("session: removed by a host -> end `removed` with the host's name from its hello", async () => {
  const host = await member(HOST);
  await using server = startScriptedServer((m, conn) => {
    if (m.type === "join") conn.send(welcome(ADA, [HOST]));
  });
  using s = startSession(server.url);
  await waitFor("joined", () => s.session.state.value === "joined");
  server.conn.send(await host.signal(ADA, { hello: { name: "Hana" } }));
  await waitFor("Hana's name", () => s.session.names.value.get(HOST) === "Hana");
  // Our own hello went out sealed, and opens for the host.
  const hello = server.received.find((m) => m.type === "signal" && m.to === HOST)!;
  assert.deepEqual(await host.open(ADA, hello.payload), {
    ok: true,
    payload: { hello: { name: "Ada" } },
  });

  server.conn.send({ type: "evicted", code: "kicked", reason: EVICTIONS.kicked.hint, by: HOST });
  server.conn.close(EVICTIONS.kicked.closeCode);
  await waitFor("the end", () => s.session.end.value !== null);
  assert.deepEqual(s.session.end.value, {
    kind: "removed",
    message: "Hana removed you from the meeting, so you cannot rejoin it.",
    by: HOST,
    byName: "Hana",
  });
  assert.equal(s.session.state.value, "ended");
});

Deno.test("session: ended by a host whose name never came -> `ended`, by without a name", async () => {
  await using server = startScriptedServer((m, conn) => {
    if (m.type !== "join") return;
    conn.send(welcome(ADA, [HOST]));
    conn.send({ type: "evicted", code: "ended", reason: EVICTIONS.ended.hint, by: HOST });
    conn.close(EVICTIONS.ended.closeCode);
  });
  using s = startSession(server.url);
  await waitFor("the end", () => s.session.end.value !== null);
  assert.deepEqual(s.session.end.value, {
    kind: "ended",
    message: "A host ended the meeting for everyone.",
    by: HOST,
  });
});

Deno.test("session: mesh eviction names whom we could not reach", async () => {
  const carol = await member(CAROL);
  const host = await member(HOST);
  await using server = startScriptedServer((m, conn) => {
    if (m.type === "join") conn.send(welcome(ADA, [HOST, CAROL]));
  });
  using s = startSession(server.url);
  await waitFor("joined", () => s.session.state.value === "joined");
  server.conn.send(await carol.signal(ADA, { hello: { name: "Carol" } }));
  server.conn.send(await host.signal(ADA, { hello: { name: "Dan" } }));
  await waitFor("names", () => s.session.names.value.size === 2);
  server.conn.send({
    type: "evicted",
    code: "mesh-incomplete",
    reason: EVICTIONS["mesh-incomplete"].hint,
    unreachable: [CAROL, HOST],
  });
  await waitFor("the end", () => s.session.end.value !== null);
  const end = s.session.end.value!;
  assert.equal(end.kind, "evicted");
  assert.deepEqual(end.unreachable, [CAROL, HOST]);
  assert.deepEqual(end.unreachableNames, ["Carol", "Dan"]);
  assert.match(end.message, /could not connect directly to Carol and Dan in time/);
});

for (
  const [code, kind] of [["denied", "denied"], ["removed", "removed"], [
    "room-ended",
    "ended",
  ]] as const
) {
  Deno.test(`session: refused with ${code} -> end \`${kind}\``, async () => {
    await using server = startScriptedServer((m, conn) => {
      if (m.type !== "join") return;
      conn.send({ type: "error", code, message: ERRORS[code].hint, fatal: true });
      conn.close(ERRORS[code].closeCode);
    });
    using s = startSession(server.url);
    await waitFor("the end", () => s.session.end.value !== null);
    assert.deepEqual(s.session.end.value, { kind, message: ERRORS[code].hint });
  });
}

Deno.test("session: a mute request reaches onMuted; forbidden is a toast", async () => {
  await using server = startScriptedServer((m, conn) => {
    if (m.type === "join") conn.send(welcome(ADA, [HOST]));
    if (m.type === "end") {
      conn.send({
        type: "error",
        code: "forbidden",
        message: "Only a host can end it.",
        fatal: false,
      });
      conn.send({ type: "muted", what: "audio", by: HOST });
    }
  });
  using s = startSession(server.url);
  await waitFor("joined", () => s.session.state.value === "joined");
  assert.equal(s.session.send({ type: "end" }), true);
  await waitFor("muted", () => s.muted.length === 1);
  assert.deepEqual(s.muted, [{ type: "muted", what: "audio", by: HOST }]);
  assert.deepEqual(s.errors, ["Only a host can end it."]);
});

Deno.test("session: after useKey, a member on the old key opens, a newcomer on it does not; we seal with the new", async () => {
  const host = await member(HOST);
  await using server = startScriptedServer((m, conn) => {
    if (m.type === "join") conn.send(welcome(ADA, [HOST]));
  });
  using s = startSession(server.url);
  await waitFor("joined", () => s.session.state.value === "joined");
  // The host was a member before the switch: its hello opened here.
  server.conn.send(await host.signal(ADA, { hello: { name: "Hana" } }));
  await waitFor("Hana's name", () => s.session.names.value.get(HOST) === "Hana");
  const next = bytesOf(newMeetingKey());
  await s.session.useKey(next);
  assert.deepEqual(s.session.key, next);
  // The host has not switched: several signals, all open, nobody unverified.
  for (let i = 0; i < 5; i++) server.conn.send(await host.signal(ADA, { i }));
  await waitFor("5 signals", () => s.signals.length === 5);
  assert.deepEqual(s.signals.map((x) => x.payload), [0, 1, 2, 3, 4].map((i) => ({ i })));
  assert.deepEqual(s.unverified, []);
  // Someone new sealing with the old key (the old link, after the switch) is refused.
  const carol = await member(CAROL);
  for (let i = 0; i < 3; i++) server.conn.send(await carol.signal(ADA, { i }));
  await waitFor("Carol unverified", () => s.unverified.includes(CAROL));
  assert.equal(s.signals.length, 5);
  // What we send now is sealed with the new key: the host opens it once it has switched too.
  const sent = server.received.length;
  s.session.signal(HOST, "new key");
  await waitFor("our signal", () => server.received.length > sent);
  const envelope = server.received.at(-1)!.payload;
  assert.deepEqual(await host.open(ADA, envelope), { ok: false, reason: "failed" });
  await host.ring.useKey(next);
  assert.deepEqual(await host.open(ADA, envelope), { ok: true, payload: "new key" });
});
