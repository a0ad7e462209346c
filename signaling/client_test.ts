/**
 * The browser's SignalingClient, run in Deno against a real hub (signaling/testing.ts). Drops are
 * real: a WebSocket proxy between client and hub cuts the connections, or refuses them while the
 * "server" is down; servers that misbehave (accept and never answer, answer and fall silent) are
 * small real WebSocket servers here.
 */
import assert from "node:assert/strict";
import { type ClientOptions, type ClientState, SignalingClient } from "./client.ts";
import {
  ERRORS,
  EVICTIONS,
  PEER_ID_PATTERN,
  PROTOCOL_VERSION,
  type RoomView,
  type ServerMessage,
  serverMessage,
  type WelcomeMessage,
} from "./protocol.ts";
import { newRoomId } from "./room_id.ts";
import { elapse, join, startHub, startProxy, waitFor } from "./testing.ts";

/**
 * Real WebSockets that the test can watch: the client opens them through its `WebSocket`
 * option; `opened` counts them, `sent` holds every frame the client sent (parsed), and
 * `closed()` resolves once every one of them has closed (test sanitizers).
 */
function trackedWebSocket(): {
  WebSocket: typeof WebSocket;
  readonly opened: number;
  sent: Record<string, unknown>[];
  closed(): Promise<void>;
} {
  const sockets: Promise<void>[] = [];
  const sent: Record<string, unknown>[] = [];
  class Tracked extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      sockets.push(new Promise((resolve) => this.addEventListener("close", () => resolve())));
    }
    override send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
      if (typeof data === "string") sent.push(JSON.parse(data));
      super.send(data);
    }
  }
  return {
    WebSocket: Tracked,
    get opened() {
      return sockets.length;
    },
    sent,
    closed: () => Promise.all(sockets).then(() => {}),
  };
}

interface TestClient extends AsyncDisposable {
  client: SignalingClient;
  /** Every state the client went through, starting with its initial one. */
  states: ClientState[];
  /** Sockets the client opened so far (attempts). */
  readonly attempts: number;
  /** Every frame the client sent, parsed, in order. */
  sent: Record<string, unknown>[];
  /** Resolves when the client reaches `state` (now or later). */
  reach(state: ClientState, what?: string, timeoutMs?: number): Promise<void>;
}

function startClient(
  url: string,
  name: string,
  opts: Partial<Omit<ClientOptions, "url" | "name" | "WebSocket">> = {},
): TestClient {
  const sockets = trackedWebSocket();
  const client = new SignalingClient({
    url,
    name,
    backoffMs: [20, 40],
    ...opts,
    WebSocket: sockets.WebSocket,
  });
  const states: ClientState[] = [client.state];
  client.on("state", (s) => states.push(s));
  return {
    client,
    states,
    get attempts() {
      return sockets.opened;
    },
    sent: sockets.sent,
    reach: (state, what = `state ${state}`, timeoutMs) =>
      waitFor(
        `${name}: ${what} (states: ${states.join(" -> ")})`,
        () => client.state === state,
        timeoutMs,
      ),
    async [Symbol.asyncDispose]() {
      client.close();
      await sockets.closed();
    },
  };
}

/** The `resume` token of every `join` the client sent, in order (null: a fresh join). */
function joinTokens(c: TestClient): (string | null)[] {
  return c.sent.filter((m) => m.type === "join").map((m) => (m.resume as string) ?? null);
}

/**
 * A WebSocket server that plays the signaling server badly: `onJoin` gets each connection's
 * `join` and its number (0, 1, ...) and may answer through `send`; nothing else is ever answered
 * (pings included).
 */
function startFakeServer(
  onJoin: (join: Record<string, unknown>, n: number, send: (text: string) => void) => void,
): AsyncDisposable & { url: string; readonly connections: number } {
  const sockets = new Set<WebSocket>();
  let connections = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    const n = connections++;
    sockets.add(socket);
    socket.onclose = () => sockets.delete(socket);
    socket.onmessage = (e) => {
      const message = JSON.parse(e.data);
      if (message.type === "join") onJoin(message, n, (text) => socket.send(text));
    };
    return response;
  });
  return {
    url: `ws://127.0.0.1:${server.addr.port}/api/rooms/x/ws`,
    get connections() {
      return connections;
    },
    async [Symbol.asyncDispose]() {
      const closed = [...sockets].map((ws) =>
        new Promise((r) => {
          ws.addEventListener("close", r);
          ws.close();
        })
      );
      await Promise.all(closed);
      await server.shutdown();
    },
  };
}

/** A room view with `host` its only host. */
function fakeRoom(host: string, extra: Partial<RoomView> = {}): RoomView {
  return {
    id: "x",
    capacity: 8,
    locked: false,
    host,
    hosts: [host],
    lobby: false,
    removals: [],
    ...extra,
  };
}

/** A well-formed welcome for `startFakeServer`. */
function fakeWelcome(peer: string, token: string, resumed: boolean): string {
  const welcome: WelcomeMessage = {
    type: "welcome",
    v: PROTOCOL_VERSION,
    peer,
    token,
    resumed,
    room: fakeRoom(peer),
    members: [{ peer, name: "Ada", joinedAt: 1, connected: true, links: {} }],
    config: { linkDeadlineMs: 20_000, graceMs: 30_000, heartbeatMs: 20 },
  };
  return serverMessage(welcome);
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
  await waitFor("the room holding Ada's link report", async () => {
    const snapshot = await h.hub.store.snapshot(room);
    const ada = snapshot?.members.find((m) => m.peer === a.client.peer);
    return ada?.links[b.client.peer!]?.state === "connected";
  });

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

Deno.test("client: every resume uses the token of the latest welcome", async () => {
  await using h = await startHub();
  await using proxy = startProxy(h.origin.replace(/^http/, "ws"));
  const room = newRoomId();
  await using a = startClient(proxy.url(`/api/rooms/${room}/ws`), "Ada");
  const tokens: string[] = [];
  a.client.on("welcome", (w) => tokens.push(w.token));
  await a.reach("joined");
  const peer = a.client.peer;
  for (let drop = 1; drop <= 3; drop++) {
    await proxy.cut();
    await waitFor(`welcome number ${drop + 1}`, () => tokens.length === drop + 1);
    assert.equal(a.client.peer, peer, `the same peer id after drop ${drop}`);
  }
  // Whether or not the server issues a new token on each resume, the client never reuses one
  // older than the last welcome's.
  assert.deepEqual(joinTokens(a), [null, ...tokens.slice(0, 3)]);
  assert.equal(h.hub.metrics.resumes, 3);
});

Deno.test("client: the server gone for longer than the grace period -> keeps trying, then joins afresh", async () => {
  await using h = await startHub({ graceMs: 300 });
  await using proxy = startProxy(h.origin.replace(/^http/, "ws"));
  const room = newRoomId();
  await using a = startClient(proxy.url(`/api/rooms/${room}/ws`), "Ada", { backoffMs: [20, 50] });
  await using b = startClient(h.url(room), "Bob");
  await a.reach("joined");
  await b.reach("joined");
  await waitFor("Bob seeing Ada", () => b.client.members.length === 2);
  const oldPeer = a.client.peer;
  const welcomes: boolean[] = [];
  a.client.on("welcome", (w) => welcomes.push(w.resumed));

  proxy.down = true;
  await proxy.cut();
  await a.reach("reconnecting");
  assert.equal(a.client.reachable, false);
  // The hub ends Ada's place after its grace period; Ada, unable to reach it, never gives up.
  await waitFor("Bob's roster without Ada", () => b.client.members.length === 1);
  const before = a.attempts;
  await waitFor("Ada to try 5 more times", () => a.attempts >= before + 5);
  assert.equal(a.client.state, "reconnecting");

  proxy.down = false;
  await a.reach("joined", "joined afresh");
  assert.deepEqual(a.states, ["connecting", "joined", "reconnecting", "joined"]);
  assert.equal(a.client.reachable, true);
  // Its place was gone (resume-failed), so it joined as a new member.
  assert.deepEqual(welcomes, [false]);
  assert.match(a.client.peer ?? "", PEER_ID_PATTERN);
  assert.notEqual(a.client.peer, oldPeer);
  await waitFor(
    "Bob seeing the new Ada",
    () => b.client.members.some((m) => m.peer === a.client.peer && m.connected),
  );
  const tokens = joinTokens(a);
  assert.equal(tokens.at(-1), null, "the last join is a fresh one");
  assert.ok(tokens.slice(1, -1).every((t) => t !== null), "every attempt before it resumed");
});

Deno.test("client: before the first welcome, 3 retries without an answer -> unreachable", async () => {
  // Accepts every connection and never answers: each attempt times out.
  await using server = startFakeServer(() => {});
  await using a = startClient(server.url, "Ada", { attemptTimeoutMs: 100 });
  await a.reach("closed");
  assert.deepEqual(a.states, ["connecting", "closed"]);
  assert.equal(a.client.closeKind, "unreachable");
  assert.match(a.client.closeReason, /Cannot reach the meeting server/);
  assert.equal(a.attempts, 4, "the first attempt and 3 retries");
  await elapse(200);
  assert.equal(a.attempts, 4, "nothing after closing");
});

Deno.test("client: a joined connection that falls silent is given up and resumed", async () => {
  const peer = "AAAAAAAAAAAAAAAA";
  // The first connection answers the join and then never again (pings included), as a
  // half-open connection would; the second one resumes.
  await using server = startFakeServer((_join, n, send) => {
    send(fakeWelcome(peer, `token-${n}`, n > 0));
  });
  await using a = startClient(server.url, "Ada", { silenceMs: 150 });
  await waitFor(`a drop and a resume (states: ${a.states})`, () => a.states.length === 4);
  assert.deepEqual(a.states, ["connecting", "joined", "reconnecting", "joined"]);
  assert.equal(a.client.peer, peer);
  assert.deepEqual(joinTokens(a).slice(0, 2), [null, "token-0"]);
  assert.ok(a.sent.some((m) => m.type === "ping"), "it pinged the silent server");
});

Deno.test("client: a live server is pinged and never taken for a silent one", async () => {
  await using h = await startHub({ heartbeatMs: 20 });
  const room = newRoomId();
  await using a = startClient(h.url(room), "Ada", { silenceMs: 500 });
  await a.reach("joined");
  // Four times as long as the silence that would count as dead.
  await waitFor("100 pings", () => a.sent.filter((m) => m.type === "ping").length >= 100);
  assert.deepEqual(a.states, ["connecting", "joined"]);
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

// ---------------------------------------------------------------------------------------------
// Host controls: the lobby, mute requests, a host's refusals and evictions (a scripted server,
// so each message arrives exactly as the protocol allows, whatever the hub does today).

/** One connection of `startScriptedServer`. */
interface ScriptedConnection {
  /** 0 for the first connection, then 1, ... */
  n: number;
  send(message: ServerMessage): void;
  /** Closes with `code` (a fatal error's or eviction's). */
  close(code: number): void;
}

/**
 * A WebSocket server whose every client frame (pings included) goes to `onMessage` with its
 * connection; it answers only what the test sends.
 */
function startScriptedServer(
  onMessage: (message: Record<string, unknown>, conn: ScriptedConnection) => void,
): AsyncDisposable & { url: string; readonly connections: number } {
  const sockets = new Set<WebSocket>();
  let connections = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    const conn: ScriptedConnection = {
      n: connections++,
      send: (m) => socket.readyState === WebSocket.OPEN && socket.send(serverMessage(m)),
      close: (code) => socket.close(code),
    };
    sockets.add(socket);
    socket.onclose = () => sockets.delete(socket);
    socket.onmessage = (e) => onMessage(JSON.parse(e.data), conn);
    return response;
  });
  return {
    url: `ws://127.0.0.1:${server.addr.port}/api/rooms/x/ws`,
    get connections() {
      return connections;
    },
    async [Symbol.asyncDispose]() {
      const closed = [...sockets].map((ws) =>
        new Promise((r) => {
          ws.addEventListener("close", r);
          ws.close();
        })
      );
      await Promise.all(closed);
      await server.shutdown();
    },
  };
}

function welcomeOf(peer: string, token: string, extra: Partial<WelcomeMessage> = {}) {
  return { ...JSON.parse(fakeWelcome(peer, token, false)), ...extra } as WelcomeMessage;
}

const SECRET = "s".repeat(43);
const ADA = "AAAAAAAAAAAAAAAA";
const HOST = "HHHHHHHHHHHHHHHH";

Deno.test("client: the secret goes in every join, fresh and resuming", async () => {
  await using server = startScriptedServer((m, conn) => {
    if (m.type !== "join") return;
    conn.send(welcomeOf(ADA, `token-${conn.n}`));
    // The first connection drops right after its welcome: the client resumes.
    if (conn.n === 0) setTimeout(() => conn.close(1001), 10);
  });
  await using a = startClient(server.url, "Ada", { secret: SECRET });
  await waitFor(`a resume (states: ${a.states})`, () => a.states.length === 4);
  const joins = a.sent.filter((m) => m.type === "join");
  assert.equal(joins.length, 2);
  assert.deepEqual(joins.map((j) => [j.secret, j.resume ?? null]), [
    [SECRET, null],
    [SECRET, "token-0"],
  ]);
});

Deno.test("client: waiting -> knock -> welcome, with pings and no attempt timeout meanwhile", async () => {
  let admit: (() => void) | null = null;
  await using server = startScriptedServer((m, conn) => {
    if (m.type === "join") conn.send({ type: "waiting", knock: ADA });
    if (m.type === "ping") conn.send({ type: "pong" });
    if (m.type === "knock") admit = () => conn.send(welcomeOf(ADA, "token"));
  });
  // The attempt timeout is far shorter than the wait: waiting must not count as an attempt.
  await using a = startClient(server.url, "Ada", { attemptTimeoutMs: 100, secret: SECRET });
  const waits: string[] = [];
  a.client.on("waiting", (w) => waits.push(w.knock));
  await a.reach("waiting");
  assert.deepEqual(waits, [ADA]);
  assert.equal(a.client.knock, ADA);
  assert.equal(a.client.peer, null, "not a member yet");
  // While waiting: a knock goes, a host action does not, a signal does not.
  assert.equal(a.client.send({ type: "lock", locked: true }), false);
  assert.equal(a.client.signal(HOST, "hello"), false);
  assert.equal(a.client.send({ type: "knock", payload: { sealed: "Ada" } }), true);
  await elapse(300);
  assert.equal(a.client.state, "waiting", "still waiting after 3 attempt timeouts");
  assert.equal(a.attempts, 1);
  await waitFor("admit", () => admit !== null);
  admit!();
  await a.reach("joined");
  assert.deepEqual(a.states, ["connecting", "waiting", "joined"]);
  assert.equal(a.client.peer, ADA);
  assert.equal(a.client.knock, null);
  assert.equal(a.client.send({ type: "knock", payload: null }), false, "no knock once in");
  assert.deepEqual(a.sent.filter((m) => m.type === "knock"), [{
    type: "knock",
    payload: { sealed: "Ada" },
  }]);
});

Deno.test("client: pings while waiting, and a silent lobby is given up and knocked anew", async () => {
  let knocks = 0;
  await using server = startScriptedServer((m, conn) => {
    // Answers the join, never a ping: a dead connection.
    if (m.type === "join") {
      conn.send({ type: "waiting", knock: `KNOCK${++knocks}`.padEnd(16, "K") });
    }
  });
  await using a = startClient(server.url, "Ada", { silenceMs: 100 });
  await waitFor("a second waiting", () => knocks === 2);
  await a.reach("waiting");
  assert.ok(a.sent.some((m) => m.type === "ping"), "it pinged while waiting");
  assert.equal(a.client.knock, "KNOCK2".padEnd(16, "K"));
  assert.equal(a.states.filter((s) => s === "waiting").length, 1, "waiting throughout");
});

Deno.test("client: leave while waiting withdraws the knock", async () => {
  await using server = startScriptedServer((m, conn) => {
    if (m.type === "join") conn.send({ type: "waiting", knock: ADA });
  });
  await using a = startClient(server.url, "Ada");
  await a.reach("waiting");
  a.client.leave();
  assert.equal(a.client.state, "closed");
  assert.equal(a.client.closeKind, "left");
  assert.deepEqual(a.sent.at(-1), { type: "leave" });
});

for (const code of ["denied", "removed", "room-ended"] as const) {
  Deno.test(`client: ${code} -> closed with that kind, and never tries again`, async () => {
    await using server = startScriptedServer((m, conn) => {
      if (m.type !== "join") return;
      if (code === "denied") conn.send({ type: "waiting", knock: ADA });
      conn.send({ type: "error", code, message: ERRORS[code].hint, fatal: true });
      conn.close(ERRORS[code].closeCode);
    });
    await using a = startClient(server.url, "Ada", { secret: SECRET });
    await a.reach("closed");
    assert.equal(a.client.closeKind, code);
    assert.equal(a.client.closeReason, ERRORS[code].hint);
    await elapse(100);
    assert.equal(server.connections, 1, "no second attempt");
  });

  Deno.test(`client: ${code} from the close code alone (frame lost) is the same`, async () => {
    await using server = startScriptedServer((m, conn) => {
      if (m.type === "join") conn.close(ERRORS[code].closeCode);
    });
    await using a = startClient(server.url, "Ada");
    await a.reach("closed");
    assert.equal(a.client.closeKind, code);
    await elapse(100);
    assert.equal(server.connections, 1);
  });
}

Deno.test("client: a refusal while reconnecting (removed meanwhile) ends it too", async () => {
  await using server = startScriptedServer((m, conn) => {
    if (m.type !== "join") return;
    if (conn.n === 0) {
      conn.send(welcomeOf(ADA, "token"));
      setTimeout(() => conn.close(1001), 10);
    } else {
      // Our place is gone and our secret is banned: resume-failed, then the fresh join refused.
      if (m.resume) {
        conn.send({ type: "error", code: "resume-failed", message: "gone", fatal: true });
        conn.close(ERRORS["resume-failed"].closeCode);
      } else conn.close(ERRORS.removed.closeCode);
    }
  });
  await using a = startClient(server.url, "Ada", { secret: SECRET });
  await a.reach("closed");
  assert.equal(a.client.closeKind, "removed");
  await elapse(100);
  assert.equal(server.connections, 3);
});

for (const code of ["kicked", "ended"] as const) {
  Deno.test(`client: evicted ${code} keeps the eviction with its host, no reconnect`, async () => {
    await using server = startScriptedServer((m, conn) => {
      if (m.type !== "join") return;
      conn.send(welcomeOf(ADA, "token"));
      setTimeout(() => {
        conn.send({ type: "evicted", code, reason: EVICTIONS[code].hint, by: HOST });
        conn.close(EVICTIONS[code].closeCode);
      }, 10);
    });
    await using a = startClient(server.url, "Ada");
    const evictions: unknown[] = [];
    a.client.on("evicted", (e) => evictions.push(e));
    await a.reach("closed");
    const expected = { type: "evicted", code, reason: EVICTIONS[code].hint, by: HOST };
    assert.equal(a.client.closeKind, "evicted");
    assert.deepEqual(a.client.evicted, expected);
    assert.deepEqual(evictions, [expected]);
    await elapse(100);
    assert.equal(server.connections, 1);
  });
}

Deno.test("client: an eviction known only by its close code is kept too (no `by`)", async () => {
  await using server = startScriptedServer((m, conn) => {
    if (m.type !== "join") return;
    conn.send(welcomeOf(ADA, "token"));
    setTimeout(() => conn.close(EVICTIONS.kicked.closeCode), 10);
  });
  await using a = startClient(server.url, "Ada");
  await a.reach("closed");
  assert.equal(a.client.closeKind, "evicted");
  assert.deepEqual(a.client.evicted, {
    type: "evicted",
    code: "kicked",
    reason: EVICTIONS.kicked.hint,
  });
  await elapse(100);
  assert.equal(server.connections, 1);
});

Deno.test("client: mesh-incomplete keeps `unreachable`", async () => {
  await using server = startScriptedServer((m, conn) => {
    if (m.type !== "join") return;
    conn.send(welcomeOf(ADA, "token"));
    setTimeout(() => {
      conn.send({
        type: "evicted",
        code: "mesh-incomplete",
        reason: "no",
        unreachable: [HOST],
      });
      conn.close(EVICTIONS["mesh-incomplete"].closeCode);
    }, 10);
  });
  await using a = startClient(server.url, "Ada");
  await a.reach("closed");
  assert.deepEqual(a.client.evicted?.unreachable, [HOST]);
});

Deno.test("client: muted reaches its event; host actions go out while joined", async () => {
  await using server = startScriptedServer((m, conn) => {
    if (m.type === "join") conn.send(welcomeOf(ADA, "token"));
    if (m.type === "lock") conn.send({ type: "muted", what: "video", by: HOST });
    if (m.type === "remove") {
      conn.send({
        type: "error",
        code: "forbidden",
        message: "remove their host role first",
        fatal: false,
      });
    }
  });
  await using a = startClient(server.url, "Ada");
  const muted: unknown[] = [];
  const errors: unknown[] = [];
  a.client.on("muted", (m) => muted.push(m));
  a.client.on("error", (e) => errors.push(e));
  await a.reach("joined");
  assert.equal(a.client.send({ type: "lock", locked: true }), true);
  assert.equal(a.client.send({ type: "remove", peer: HOST }), true);
  await waitFor("muted and forbidden", () => muted.length === 1 && errors.length === 1);
  assert.deepEqual(muted, [{ type: "muted", what: "video", by: HOST }]);
  assert.deepEqual(errors, [{ code: "forbidden", message: "remove their host role first" }]);
  assert.equal(a.client.state, "joined", "forbidden is not fatal");
  assert.deepEqual(a.sent.filter((m) => m.type === "lock" || m.type === "remove"), [
    { type: "lock", locked: true },
    { type: "remove", peer: HOST },
  ]);
});

Deno.test("client: knocks, disputes and the room view come through on welcome and roster", async () => {
  const knocks = [{ id: HOST.replace(/H/g, "K"), payload: null, at: 5 }];
  const disputes: [string, string][] = [["BBBBBBBBBBBBBBBB", "CCCCCCCCCCCCCCCC"]];
  await using server = startScriptedServer((m, conn) => {
    if (m.type !== "join") return;
    conn.send(welcomeOf(ADA, "token", { knocks, disputes }));
    const room = fakeRoom(ADA, {
      lobby: true,
      removals: [{ peer: "BBBBBBBBBBBBBBBB", code: "kicked", by: ADA, unreachable: [], at: 9 }],
    });
    conn.send({ type: "roster", room, members: [], knocks: [], disputes: [] });
  });
  await using a = startClient(server.url, "Ada");
  const welcomes: WelcomeMessage[] = [];
  const rosters: unknown[] = [];
  a.client.on("welcome", (w) => welcomes.push(w));
  a.client.on("roster", (r) => rosters.push(r));
  await waitFor("the roster", () => rosters.length === 1);
  assert.deepEqual(welcomes[0].knocks, knocks);
  assert.deepEqual(welcomes[0].disputes, disputes);
  assert.deepEqual(rosters[0], {
    type: "roster",
    room: a.client.room,
    members: [],
    knocks: [],
    disputes: [],
  });
  assert.equal(a.client.room?.lobby, true);
  assert.equal(a.client.room?.removals[0].by, ADA);
});

Deno.test("client: a waiting frame to a member, or a muted one to a waiting socket, is ignored", async () => {
  await using server = startScriptedServer((m, conn) => {
    if (m.type !== "join") return;
    if (conn.n === 0) {
      conn.send({ type: "waiting", knock: ADA });
      conn.send({ type: "muted", what: "audio", by: HOST });
      conn.send({ type: "roster", room: fakeRoom(HOST), members: [] });
      conn.send(welcomeOf(ADA, "token"));
      conn.send({ type: "waiting", knock: HOST });
    }
  });
  await using a = startClient(server.url, "Ada");
  const muted: unknown[] = [];
  const rosters: unknown[] = [];
  a.client.on("muted", (m) => muted.push(m));
  a.client.on("roster", (r) => rosters.push(r));
  await a.reach("joined");
  await elapse(50);
  assert.deepEqual(a.states, ["connecting", "waiting", "joined"]);
  assert.deepEqual(muted, []);
  assert.deepEqual(rosters, []);
  assert.equal(a.client.knock, null);
});
