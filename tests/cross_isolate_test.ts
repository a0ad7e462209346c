/**
 * The real server with `deno serve --parallel` (2 isolates sharing one sqlite KV): members of one
 * room whose sockets sit on different isolates see each other, exchange signals through the bus
 * (exactly once, in order, with the right sender), see joins, leaves, drops and resumes on the
 * other isolate, and can resume through whichever isolate their new socket lands on. Between the
 * isolates of this one process, signals take the channel and write nothing to KV.
 */
import assert from "node:assert/strict";
import { SignalingClient } from "../signaling/client.ts";
import type { Member } from "../signaling/types.ts";
import { newRoomId } from "../signaling/room_id.ts";
import { busKeys, roomKeys } from "../signaling/keys.ts";
import {
  type LiveServer,
  type Metrics,
  RawWebSocket,
  trackedWebSocket,
  waitFor,
  withLiveServer,
} from "./live_server.ts";

const ROOMS = 8;
const PER_ROOM = 4;
/** Signals each member sends to each other member of its room. */
const SIGNALS_PER_PAIR = 5;
/** Rooms added (4 members each) when the kernel put every socket on one isolate. */
const MAX_EXTRA_ROOMS = 8;
/** Drop/resume cycles tried until the member has resumed on both isolates. */
const MAX_RESUMES = 24;

interface Received {
  from: string;
  payload: { seq: number; sender: string; to: string; tag: string };
}

interface Participant {
  room: string;
  client: SignalingClient;
  received: Received[];
  errors: string[];
  states: string[];
  evictions: string[];
}

Deno.test("cross-isolate: signals, rosters, leaves, drops and resumes across 2 isolates", async () => {
  const started = performance.now();
  await withLiveServer({
    parallel: true,
    env: {
      DENO_JOBS: "2",
      // Fresh per-isolate metrics in /metrics (each isolate publishes on its heartbeat).
      MOOZ_HEARTBEAT_MS: "250",
      // These clients make no WebRTC links: keep the full-mesh policy out of this test.
      MOOZ_LINK_DEADLINE_MS: "600000",
    },
  }, async (server) => {
    const ws = trackedWebSocket();
    const kv = await Deno.openKv(server.kvPath);
    const participants: Participant[] = [];
    const rooms = new Map<string, Participant[]>();
    try {
      await run(server, kv, ws.WebSocket, participants, rooms);
    } finally {
      for (const p of participants) p.client.close();
      await ws.closeAll();
      await RawWebSocket.closeAll();
      kv.close();
    }
  });
  console.log(`cross-isolate test took ${Math.round(performance.now() - started)} ms`);
});

async function run(
  server: LiveServer,
  kv: Deno.Kv,
  WebSocketClass: typeof WebSocket,
  participants: Participant[],
  rooms: Map<string, Participant[]>,
): Promise<void> {
  /**
   * One member at a time: a burst of connections tends to be accepted by whichever isolate wakes
   * first, while one by one they spread over both (as independent browsers' would).
   */
  const addRoom = async () => {
    const room = newRoomId();
    const members: Participant[] = [];
    rooms.set(room, members);
    for (let i = 0; i < PER_ROOM; i++) {
      const client = new SignalingClient({
        url: server.wsUrl(room),
        name: `member ${rooms.size}.${i}`,
        WebSocket: WebSocketClass,
      });
      const p: Participant = { room, client, received: [], errors: [], states: [], evictions: [] };
      client.on("signal", (s) => p.received.push(s as Received));
      client.on("error", (e) => p.errors.push(`${e.code}: ${e.message}`));
      client.on("state", (s) => p.states.push(s));
      client.on("evicted", (e) => p.evictions.push(e.code));
      members.push(p);
      participants.push(p);
      await waitFor("a member to be welcomed", () => client.state !== "connecting");
    }
  };
  /** Which isolate holds each member's socket, from the store (its member record). */
  const isolateOf = async (room: string, peer: string): Promise<string> => {
    const entry = await kv.get<Member>(roomKeys.member(room, peer));
    assert.ok(entry.value, `member ${peer} of ${room} is in the store`);
    return entry.value.isolate;
  };
  const allJoined = async () => {
    await waitFor(
      "every client to be welcomed",
      () => participants.every((p) => p.client.state === "joined"),
      {
        describe: () => participants.map((p) => `${p.client.state} ${p.client.closeReason}`),
      },
    );
    await waitFor(
      "every roster to show the whole room, connected",
      () =>
        participants.every((p) => {
          const peers = rooms.get(p.room)!.map((o) => o.client.peer);
          return p.client.members.length === PER_ROOM &&
            p.client.members.every((m) => m.connected && peers.includes(m.peer));
        }),
    );
  };

  // ---- Connect until both isolates hold sockets and some room spans both.
  for (let i = 0; i < ROOMS; i++) await addRoom();
  await allJoined();
  const isolates = new Map<Participant, string>();
  const spread = async () => {
    for (const p of participants) {
      if (!isolates.has(p)) isolates.set(p, await isolateOf(p.room, p.client.peer!));
    }
    const used = new Set(isolates.values());
    const split = [...rooms.values()].filter((ms) =>
      new Set(ms.map((m) => isolates.get(m))).size > 1
    );
    return { used, split };
  };
  let layout = await spread();
  for (let extra = 0; extra < MAX_EXTRA_ROOMS && layout.split.length === 0; extra++) {
    await addRoom();
    await allJoined();
    layout = await spread();
  }
  assert.equal(layout.used.size, 2, "sockets landed on both isolates");
  assert.ok(layout.split.length > 0, "at least one room has members on both isolates");

  // /metrics agrees: per isolate, the sockets the store says it holds.
  const perIsolate = new Map<string, number>();
  for (const isolate of isolates.values()) {
    perIsolate.set(isolate, (perIsolate.get(isolate) ?? 0) + 1);
  }
  let metrics: Metrics | undefined;
  await waitFor("/metrics to show the connections of both isolates", async () => {
    metrics = await server.metrics();
    const shown = metrics.by("mooz_isolate_connections", "isolate");
    return [...perIsolate].every(([isolate, n]) => shown.get(isolate) === n) &&
      [...shown.values()].filter((n) => n > 0).length >= 2;
  }, { describe: () => ({ expected: perIsolate, metrics: metrics?.text }) });
  console.log(
    `${participants.length} members in ${rooms.size} rooms, ${layout.split.length} rooms on ` +
      `both isolates; sockets per isolate: ${[...perIsolate.values()].join(" + ")}`,
  );

  // ---- Every member signals every other member of its room, with sequence numbers.
  const before = await server.metrics();
  let expectLocal = 0, expectBus = 0;
  for (const members of rooms.values()) {
    for (let seq = 0; seq < SIGNALS_PER_PAIR; seq++) {
      for (const sender of members) {
        for (const receiver of members) {
          if (sender === receiver) continue;
          const payload = {
            seq,
            sender: sender.client.peer!,
            to: receiver.client.peer!,
            tag: "mesh",
          };
          assert.ok(sender.client.signal(receiver.client.peer!, payload), "signal sent");
          if (isolates.get(sender) === isolates.get(receiver)) expectLocal++;
          else expectBus++;
        }
      }
    }
  }
  assert.ok(expectBus > 0, "some signals have to cross isolates");
  const pairsDone = () =>
    participants.every((p) =>
      // At least: a duplicate then fails the exact check below, not this wait.
      p.received.filter((r) => r.payload.tag === "mesh").length >=
        SIGNALS_PER_PAIR * (PER_ROOM - 1)
    );
  await waitFor("every signal to arrive", pairsDone, {
    describe: () => participants.map((p) => p.received.length),
  });
  // The relay counters match the layout exactly: each signal relayed once, on the right path.
  let after: Metrics | undefined;
  const relayed = (m: Metrics, path: string) => m.sum("mooz_messages_relayed_total", { path });
  await waitFor("/metrics to count every relayed signal", async () => {
    after = await server.metrics();
    return relayed(after, "local") - relayed(before, "local") === expectLocal &&
      relayed(after, "bus") - relayed(before, "bus") === expectBus;
  }, { describe: () => ({ expectLocal, expectBus, metrics: after?.text }) });
  assert.ok(relayed(after!, "bus") > 0, 'mooz_messages_relayed_total{path="bus"} > 0');
  for (const p of participants) {
    const me = p.client.peer!;
    for (const sender of rooms.get(p.room)!) {
      if (sender === p) continue;
      const from = sender.client.peer!;
      const got = p.received.filter((r) => r.from === from && r.payload.tag === "mesh");
      assert.deepEqual(
        got.map((r) => r.payload.seq),
        [...Array(SIGNALS_PER_PAIR).keys()],
        `signals ${from} -> ${me} (${isolates.get(sender)} -> ${isolates.get(p)}) arrive ` +
          "exactly once and in order",
      );
      for (const r of got) assert.equal(r.payload.sender, from, "from names the sender");
      for (const r of got) assert.equal(r.payload.to, me, "delivered to its addressee");
    }
    assert.equal(p.received.length, SIGNALS_PER_PAIR * (PER_ROOM - 1), "nothing else arrived");
  }
  console.log(`signals: ${expectLocal} within an isolate, ${expectBus} across isolates`);

  // ---- The isolates of one process reach each other over their channel, not through KV: every
  // write to an isolate's inbox rings its doorbell key, so the bells must stay as they are.
  const bells = async () => {
    const entries = await Promise.all([...layout.used].map((i) => kv.get(busKeys.bell(i))));
    return entries.map((e) => e.versionstamp).join();
  };
  const across = [...rooms.values()].flatMap((ms) =>
    ms.flatMap((s) => ms.filter((r) => isolates.get(r) !== isolates.get(s)).map((r) => [s, r]))
  );
  const [probeFrom, probeTo] = across[0];
  let probes = 0;
  // The isolates found each other when they started; a probe confirms it before counting.
  await waitFor("a signal across the isolates that leaves the inbox bells alone", async () => {
    const before = await bells();
    const seq = probes++;
    const payload = { seq, sender: probeFrom.client.peer!, to: probeTo.client.peer!, tag: "probe" };
    probeFrom.client.signal(probeTo.client.peer!, payload);
    await waitFor(
      "the probe",
      () => probeTo.received.some((r) => r.payload.tag === "probe" && r.payload.seq === seq),
    );
    return before === await bells();
  });
  const bellsBefore = await bells();
  for (let seq = 0; seq < SIGNALS_PER_PAIR; seq++) {
    for (const [s, r] of across) {
      const payload = { seq, sender: s.client.peer!, to: r.client.peer!, tag: "direct" };
      assert.ok(s.client.signal(r.client.peer!, payload), "signal sent");
    }
  }
  const direct = (p: Participant, from: Participant) =>
    p.received.filter((r) => r.payload.tag === "direct" && r.from === from.client.peer);
  await waitFor(
    "every signal across the isolates to arrive",
    () => across.every(([s, r]) => direct(r, s).length >= SIGNALS_PER_PAIR),
  );
  for (const [s, r] of across) {
    assert.deepEqual(direct(r, s).map((m) => m.payload.seq), [...Array(SIGNALS_PER_PAIR).keys()]);
  }
  assert.equal(await bells(), bellsBefore, "no signal went through an inbox in KV");
  console.log(`${across.length * SIGNALS_PER_PAIR} signals across the isolates, none through KV`);

  // ---- A join on one isolate shows on the other; a leave disappears everywhere.
  const [roomId, roomMembers] = [...rooms].find(([, ms]) => layout.split.includes(ms))!;
  const observers = () => roomMembers.map((p) => p.client);
  const joiner = new SignalingClient({
    url: server.wsUrl(roomId),
    name: "late joiner",
    WebSocket: WebSocketClass,
  });
  participants.push({
    room: roomId,
    client: joiner,
    received: [],
    errors: [],
    states: [],
    evictions: [],
  });
  await waitFor("the late joiner to be welcomed", () => joiner.state === "joined");
  const joinerIsolate = await isolateOf(roomId, joiner.peer!);
  const otherSide = roomMembers.filter((p) => isolates.get(p) !== joinerIsolate);
  assert.ok(otherSide.length > 0, "some members are on the other isolate");
  await waitFor(
    "every roster, on both isolates, to show the joiner",
    () => observers().every((c) => c.members.some((m) => m.peer === joiner.peer && m.connected)),
  );
  assert.equal(joiner.members.length, PER_ROOM + 1, "the joiner's welcome lists everyone");
  const joinerPeer = joiner.peer!;
  joiner.leave();
  await waitFor(
    "every roster to drop the member who left",
    () =>
      observers().every((c) =>
        c.members.length === PER_ROOM && !c.members.some((m) => m.peer === joinerPeer)
      ),
    {
      describe: () => observers().map((c) => c.members.map((m) => [m.peer, m.connected])),
    },
  );
  assert.equal(
    (await kv.get(roomKeys.member(roomId, joinerPeer))).value,
    null,
    "gone from the store",
  );

  // ---- An abrupt drop shows as connected:false everywhere; resume works on either isolate.
  const opened = await RawWebSocket.open(server.port, `/api/rooms/${roomId}/ws`);
  assert.ok(opened.ok, "raw socket opened");
  let raw = opened.socket;
  await raw.sendJson({ type: "join", v: 1, name: "dropper" });
  const welcome = await raw.waitFor((m) => m.type === "welcome");
  const peer = welcome.peer as string;
  // Every resume issues a new token: keep the newest, as the browser does.
  let token = welcome.token as string;
  await waitFor(
    "every roster to show the new member",
    () => observers().every((c) => c.members.some((m) => m.peer === peer && m.connected)),
  );
  let isolate = await isolateOf(roomId, peer);
  const moves = { same: 0, other: 0 };
  for (let cycle = 0; cycle < MAX_RESUMES && !(moves.same > 0 && moves.other > 0); cycle++) {
    raw.abort(); // no close frame: the TCP connection just ends
    await raw.closed;
    await waitFor(
      `every roster to show the dropped member as connected:false (cycle ${cycle})`,
      () => observers().every((c) => c.members.some((m) => m.peer === peer && !m.connected)),
    );
    const entry = await kv.get<Member>(roomKeys.member(roomId, peer));
    assert.equal(entry.value?.connected, false, "the store keeps the place, disconnected");

    const again = await RawWebSocket.open(server.port, `/api/rooms/${roomId}/ws`);
    assert.ok(again.ok, "raw socket reopened");
    raw = again.socket;
    await raw.sendJson({ type: "join", v: 1, name: "dropper", resume: token });
    const resumed = await raw.waitFor((m) => m.type === "welcome" || m.type === "error");
    assert.equal(resumed.type, "welcome", `resume answered ${JSON.stringify(resumed)}`);
    assert.equal(resumed.resumed, true);
    assert.equal(resumed.peer, peer, "same peer id after resuming");
    assert.notEqual(resumed.token, token, "a new token on every resume");
    token = resumed.token as string;
    await waitFor(
      `every roster to show the member connected again (cycle ${cycle})`,
      () => observers().every((c) => c.members.some((m) => m.peer === peer && m.connected)),
    );
    const now = await isolateOf(roomId, peer);
    if (now === isolate) moves.same++;
    else moves.other++;
    isolate = now;

    // Signals flow both ways through the resumed socket, whichever isolate holds it.
    const tag = `resume-${cycle}`;
    for (const p of roomMembers) {
      p.client.signal(peer, { seq: cycle, sender: p.client.peer!, to: peer, tag });
      await raw.sendJson({
        type: "signal",
        to: p.client.peer,
        payload: { seq: cycle, sender: peer, to: p.client.peer, tag },
      });
    }
    await waitFor(
      `signals to and from the resumed member (cycle ${cycle})`,
      () =>
        raw.json().filter((m) => m.type === "signal").length === roomMembers.length &&
        roomMembers.every((p) => p.received.some((r) => r.payload.tag === tag)),
    );
    for (const p of roomMembers) {
      const got = p.received.filter((r) => r.payload.tag === tag);
      assert.equal(got.length, 1, "one signal from the resumed member");
      assert.equal(got[0].from, peer);
      const back = raw.json().filter((m) => m.type === "signal" && m.from === p.client.peer);
      assert.equal(back.length, 1, "one signal to the resumed member");
      assert.deepEqual(back[0].payload, { seq: cycle, sender: p.client.peer, to: peer, tag });
    }
  }
  console.log(`resumes: ${moves.same} on the same isolate, ${moves.other} on the other one`);
  assert.ok(moves.other > 0, "resumed through the other isolate at least once");
  assert.ok(moves.same > 0, "resumed through the same isolate at least once");

  await raw.sendJson({ type: "leave" });
  await raw.closed;
  assert.equal(raw.closeCode, 1000, "leave closes with 1000");
  await waitFor(
    "every roster to drop the member who left after resuming",
    () => observers().every((c) => !c.members.some((m) => m.peer === peer)),
  );

  // Nobody else was disturbed by any of this.
  for (const p of participants) {
    assert.deepEqual(p.errors, [], `no errors for ${p.client.peer}`);
    assert.deepEqual(p.evictions, [], `no evictions for ${p.client.peer}`);
  }
  for (const p of participants.filter((p) => p.client !== joiner)) {
    assert.deepEqual(p.states, ["joined"], `${p.client.peer} stayed joined`);
  }
}
