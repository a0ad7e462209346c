/**
 * The per-client-address limits (signaling/client_limits.ts) against real server processes and
 * real WebSockets: for each limit, one client floods and is refused with its typed error, while a
 * healthy room on the same server (other client addresses, through a trusted proxy's
 * X-Forwarded-For) and one on another server process get every signal through. A client just
 * under every limit, and an office of 50 behind one address on the default limits, are never
 * refused.
 */
import assert from "node:assert/strict";
import { newRoomId } from "../signaling/room_id.ts";
import { type LiveServer, RawWebSocket, startLiveServer, waitFor } from "./live_server.ts";

/** Low limits, so floods are short; the server trusts one proxy hop to tell addresses apart. */
const LIMITS = {
  MOOZ_CLIENT_MAX_SOCKETS: "4",
  MOOZ_CLIENT_JOINS_PER_MIN: "10",
  MOOZ_CLIENT_ROOMS_PER_MIN: "3",
  MOOZ_CLIENT_MESSAGES_PER_S: "50",
  MOOZ_TRUST_PROXY: "1",
};

type Json = Record<string, unknown>;

async function open(server: LiveServer, room: string, address?: string): Promise<RawWebSocket> {
  const headers: Record<string, string> = address ? { "X-Forwarded-For": address } : {};
  const res = await RawWebSocket.open(server.port, `/api/rooms/${room}/ws`, { headers });
  if (!res.ok) throw new Error(`upgrade refused: ${res.status} ${res.body}`);
  return res.socket;
}

/** Sends `join` and returns the answer: a welcome or an error. */
async function join(ws: RawWebSocket, name: string): Promise<Json> {
  await ws.sendJson({ type: "join", v: 1, name });
  return await ws.waitFor((m) => m.type === "welcome" || m.type === "error");
}

async function joined(server: LiveServer, room: string, address: string | undefined, name: string) {
  const ws = await open(server, room, address);
  const answer = await join(ws, name);
  assert.equal(answer.type, "welcome", `${name} joins: ${JSON.stringify(answer)}`);
  return { ws, peer: answer.peer as string };
}

/**
 * Two members that report their link and signal each other every 50 ms (well under every
 * limit) until stopped; then every signal must have arrived, and neither got an error.
 */
class HealthyRoom {
  sent = 0;
  received = 0;
  #timer?: ReturnType<typeof setInterval>;

  private constructor(
    readonly label: string,
    readonly a: { ws: RawWebSocket; peer: string },
    readonly b: { ws: RawWebSocket; peer: string },
  ) {
    for (const [me, other] of [[a, b], [b, a]]) {
      me.ws.onMessage((m) => {
        const msg = m.text === undefined ? null : JSON.parse(m.text);
        if (msg?.type === "signal" && msg.from === other.peer) this.received++;
      });
    }
  }

  static async start(server: LiveServer, label: string, addresses: [string?, string?] = []) {
    const room = newRoomId();
    const a = await joined(server, room, addresses[0], `${label} A`);
    const b = await joined(server, room, addresses[1], `${label} B`);
    // The full-mesh guarantee removes members that do not report their links.
    await a.ws.sendJson({ type: "links", links: { [b.peer]: "connected" } });
    await b.ws.sendJson({ type: "links", links: { [a.peer]: "connected" } });
    const healthy = new HealthyRoom(label, a, b);
    healthy.#run();
    return healthy;
  }

  #run(): void {
    const { a, b } = this;
    this.#timer = setInterval(() => {
      for (const [from, to] of [[a, b], [b, a]]) {
        this.sent++;
        from.ws.sendJson({ type: "signal", to: to.peer, payload: { n: this.sent } });
      }
    }, 50);
  }

  /** Stops sending; waits until everything sent has arrived. */
  async check(): Promise<void> {
    clearInterval(this.#timer);
    await waitFor(`${this.label}: all ${this.sent} signals to arrive`, () => {
      return this.received === this.sent;
    }, { describe: () => ({ sent: this.sent, received: this.received }) });
    for (const { ws } of [this.a, this.b]) {
      assert.deepEqual(ws.json().filter((m) => m.type === "error"), [], this.label);
      assert.equal(ws.isClosed, false, `${this.label}: a member's socket closed`);
    }
  }

  /** Keeps the room up across steps, checking each. */
  async checkAndGoOn(): Promise<void> {
    await this.check();
    this.#run();
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

Deno.test("client limits: each flood is refused with its typed error, healthy rooms go on", async (t) => {
  const [server, other] = await Promise.all([
    startLiveServer({ parallel: false, env: LIMITS }),
    // Default limits. Through a trusted proxy header, so that the office below is one address:
    // without a proxy trusted, the server does not count clients on its own machine.
    startLiveServer({ parallel: false, env: { MOOZ_TRUST_PROXY: "1" } }),
  ]);
  let here: HealthyRoom | undefined, there: HealthyRoom | undefined;
  try {
    // Members from their own addresses on the flooded server, and a room on another process.
    here = await HealthyRoom.start(server, "room on the flooded server", [
      "198.51.100.1",
      "198.51.100.2",
    ]);
    there = await HealthyRoom.start(other, "room on another server", ["192.0.2.1", "192.0.2.2"]);

    await t.step("sockets: the 5th from one address gets 429 too-many-sockets", async () => {
      const flooder = "203.0.113.1";
      const room = newRoomId();
      const held = [];
      for (let i = 0; i < 4; i++) held.push(await open(server, room, flooder));
      const refusals = await Promise.all(
        Array.from({ length: 20 }, () =>
          RawWebSocket.open(server.port, `/api/rooms/${room}/ws`, {
            headers: { "X-Forwarded-For": flooder },
          })),
      );
      for (const res of refusals) {
        assert.equal(res.ok, false);
        if (res.ok) continue;
        assert.equal(res.status, 429);
        assert.match(res.head, /\r\nretry-after: 10\r\n/i);
        const body = JSON.parse(res.body);
        assert.equal(body.error, "too-many-sockets");
        assert.match(body.message, /at most 4 at once/);
      }
      // Another address is not affected, and a closed socket gives its place back (also when
      // the handshake never completed: the client dropped the connection right away).
      (await open(server, room, "203.0.113.2")).abort();
      held.pop()!.abort();
      for (let i = 0; i < 5; i++) {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
        await conn.write(new TextEncoder().encode(
          `GET /api/rooms/${room}/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n` +
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
            `Sec-WebSocket-Version: 13\r\nX-Forwarded-For: ${flooder}\r\n\r\n`,
        ));
        conn.close();
      }
      await waitFor("the freed place to be usable", async () => {
        const res = await RawWebSocket.open(server.port, `/api/rooms/${room}/ws`, {
          headers: { "X-Forwarded-For": flooder },
        });
        if (res.ok) held.push(res.socket);
        return res.ok;
      }, { intervalMs: 100 });
      const metrics = await server.metrics();
      assert.ok(metrics.sum("mooz_inputs_rejected_total", { code: "too-many-sockets" }) >= 20);
      for (const ws of held) ws.abort();
      await here!.checkAndGoOn();
      await there!.checkAndGoOn();
    });

    await t.step("joins: beyond 10 a minute, join-limited (fatal, 4012, says when)", async () => {
      const flooder = "203.0.113.3";
      const room = newRoomId();
      // The first stays, to resume later; nine more join and leave.
      const first = await open(server, room, flooder);
      const welcome = await join(first, "J0");
      assert.equal(welcome.type, "welcome");
      for (let i = 1; i < 10; i++) {
        const ws = await open(server, room, flooder);
        assert.equal((await join(ws, `J${i}`)).type, "welcome", `join ${i}`);
        await ws.sendJson({ type: "leave" });
        await ws.closed;
      }
      for (let i = 0; i < 15; i++) {
        const ws = await open(server, room, flooder);
        const answer = await join(ws, `J${10 + i}`);
        assert.equal(answer.code, "join-limited", JSON.stringify(answer));
        assert.equal(answer.fatal, true);
        assert.match(answer.message as string, /at most 10 a minute\)\. Try again in \d+ s\./);
        await ws.closed;
        assert.equal(ws.closeCode, 4012);
      }
      // A resume takes no new place and is not counted: the first one's connection drops and
      // it takes its place back. Another address joins as usual.
      first.abort();
      const back = await open(server, room, flooder);
      await back.sendJson({ type: "join", v: 1, name: "J0", resume: welcome.token });
      const resumed = await back.waitFor((m) => m.type === "welcome" || m.type === "error");
      assert.equal(resumed.resumed, true, JSON.stringify(resumed));
      const neighbour = await joined(server, room, "203.0.113.4", "Neighbour");
      neighbour.ws.abort();
      back.abort();
      await here!.checkAndGoOn();
      await there!.checkAndGoOn();
    });

    await t.step("rooms: beyond 3 new rooms a minute, create-limited (4013)", async () => {
      const flooder = "203.0.113.5";
      for (let i = 0; i < 3; i++) {
        const room = newRoomId();
        const { ws } = await joined(server, room, flooder, `R${i}`);
        await ws.sendJson({ type: "leave" });
        await ws.closed;
      }
      for (let i = 0; i < 5; i++) {
        const ws = await open(server, newRoomId(), flooder);
        const answer = await join(ws, `R${3 + i}`);
        assert.equal(answer.code, "create-limited", JSON.stringify(answer));
        assert.equal(answer.fatal, true);
        assert.match(answer.message as string, /at most 3 a minute\)\. Try again in \d+ s/);
        await ws.closed;
        assert.equal(ws.closeCode, 4013);
      }
      // A meeting that exists may still be joined.
      const room = newRoomId();
      const host = await joined(server, room, "203.0.113.6", "Host");
      const guest = await joined(server, room, flooder, "Guest");
      host.ws.abort();
      guest.ws.abort();
      await here!.checkAndGoOn();
      await there!.checkAndGoOn();
    });

    await t.step(
      "messages: four sockets within their own limits, over the address's budget",
      async () => {
        const flooder = "203.0.113.7";
        const room = newRoomId();
        const sockets: RawWebSocket[] = [];
        for (let i = 0; i < 4; i++) sockets.push((await joined(server, room, flooder, `M${i}`)).ws);
        // Each socket stays within its own bucket (burst 100, 50 a second): 95 at once, then 40
        // a second for 3 s. Together that is 4 times the address's 50 a second.
        let sent = 0;
        const ping = (ws: RawWebSocket) => {
          sent++;
          return ws.sendJson({ type: "ping", t: sent });
        };
        await Promise.all(sockets.map(async (ws) => {
          for (let i = 0; i < 95; i++) await ping(ws);
        }));
        const started = Date.now();
        while (Date.now() - started < 3_000) {
          await Promise.all(sockets.map(ping));
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
        const errors = () => sockets.flatMap((ws) => ws.json().filter((m) => m.type === "error"));
        await waitFor("an address rate-limited error", () => errors().length > 0);
        for (const error of errors()) {
          assert.equal(error.code, "rate-limited");
          assert.equal(error.fatal, false);
          assert.match(error.message as string, /from your network address: at most 50 a second/);
        }
        const pongs = () =>
          sockets.reduce((n, ws) => n + ws.json().filter((m) => m.type === "pong").length, 0);
        const elapsedS = (Date.now() - started) / 1000 + 1;
        // What passed is the budget (250) and its refill, far less than what was sent.
        await waitFor("the last pongs", async () => {
          const before = pongs();
          await new Promise((resolve) => setTimeout(resolve, 200));
          return pongs() === before;
        });
        assert.ok(pongs() <= 250 + 50 * (elapsedS + 1), `${pongs()} of ${sent} passed`);
        for (const ws of sockets) assert.equal(ws.isClosed, false, "rate-limited is not fatal");
        for (const ws of sockets) ws.abort();
        await here!.checkAndGoOn();
        await there!.checkAndGoOn();
      },
    );

    await t.step("a client just under every limit is never refused", async () => {
      const client = "203.0.113.8";
      const sockets: RawWebSocket[] = [];
      // Three rooms of its own (the limit), its fourth socket in one of them: 4 sockets.
      const rooms = [newRoomId(), newRoomId(), newRoomId()];
      for (const room of rooms) sockets.push((await joined(server, room, client, "U")).ws);
      sockets.push((await joined(server, rooms[0], client, "U2")).ws);
      // 45 frames a second across them for 2 s, just under the address's 50.
      let sent = 0;
      const started = Date.now();
      while (Date.now() - started < 2_000) {
        await sockets[sent % 4].sendJson({ type: "ping", t: sent++ });
        await new Promise((resolve) => setTimeout(resolve, 1000 / 45));
      }
      const pongs = () =>
        sockets.reduce((n, ws) => n + ws.json().filter((m) => m.type === "pong").length, 0);
      await waitFor(`all ${sent} pongs`, () => pongs() === sent, {
        describe: () => sockets.map((ws) => ws.json().filter((m) => m.type === "error")),
      });
      for (const ws of sockets) {
        assert.deepEqual(ws.json().filter((m) => m.type === "error"), []);
        ws.abort();
      }
      await here!.checkAndGoOn();
      await there!.checkAndGoOn();
    });

    await t.step("the default limits: an office of 50 behind one address", async () => {
      // 50 people in 7 meetings at once from one address (the other server has the default
      // limits), each sending a burst of 15 frames as its negotiation would.
      const rooms = Array.from({ length: 7 }, () => newRoomId());
      const people = await Promise.all(
        Array.from({ length: 50 }, (_, i) => joined(other, rooms[i % 7], "192.0.2.50", `P${i}`)),
      );
      await Promise.all(people.map(async ({ ws }) => {
        for (let i = 0; i < 15; i++) await ws.sendJson({ type: "ping", t: i });
      }));
      await waitFor(
        "every pong",
        () => people.every(({ ws }) => ws.json().filter((m) => m.type === "pong").length === 15),
        {
          describe: () => people.flatMap(({ ws }) => ws.json().filter((m) => m.type === "error")),
        },
      );
      for (const { ws } of people) {
        assert.deepEqual(ws.json().filter((m) => m.type === "error"), []);
        ws.abort();
      }
      await here!.check();
      await there!.check();
      // Both rooms signalled all along (every 50 ms, both ways, for the whole test).
      for (const room of [here!, there!]) {
        assert.ok(room.sent >= 200, `${room.label}: ${room.sent}`);
      }
    });
  } finally {
    here?.stop();
    there?.stop();
    await RawWebSocket.closeAll();
    await Promise.all([server.stop(), other.stop()]);
  }
});
