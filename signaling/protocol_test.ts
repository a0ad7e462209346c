/** The protocol's tables and the browser's check of server messages. */
import assert from "node:assert/strict";
import {
  describeCloseCode,
  ERROR_CODES,
  errorMessage,
  ERRORS,
  EVICTION_CODES,
  EVICTIONS,
  type MemberView,
  parseServerMessage,
  PEER_ID_PATTERN,
  PROTOCOL_VERSION,
  type RoomView,
  type ServerMessage,
  serverMessage,
} from "./protocol.ts";

const A = "AAAAAAAAAAAAAAAA";
const B = "bbbbbbbbbbbbbbb_";
const C = "cccccccccccccc-9";

Deno.test("parseServerMessage round-trips every server message type", () => {
  const room: RoomView = {
    id: "k3fq-9xmp-2hdw-7rtc-a4ze",
    capacity: 8,
    locked: false,
    host: A,
    hosts: [A],
    lobby: false,
    removals: [{ peer: C, code: "kicked", by: A, unreachable: [], at: 1_700_000_000_900 }],
  };
  const members: MemberView[] = [
    {
      peer: A,
      name: "Ada",
      joinedAt: 1_700_000_000_000,
      connected: true,
      links: { [B]: "connected" },
    },
    { peer: B, name: "Bo", joinedAt: 1_700_000_000_500, connected: false, links: {} },
  ];
  const messages: ServerMessage[] = [
    {
      type: "welcome",
      v: PROTOCOL_VERSION,
      peer: B,
      token: "t0k.en",
      resumed: true,
      room,
      members,
      config: { linkDeadlineMs: 20_000, graceMs: 30_000, heartbeatMs: 5_000 },
    },
    { type: "roster", room: { ...room, host: null, hosts: [], locked: true }, members },
    {
      type: "roster",
      room: { ...room, lobby: true },
      members,
      knocks: [{ id: C, payload: { v: 1, ct: "x" }, at: 1_700_000_001_000 }, {
        id: B,
        payload: null,
        at: 1_700_000_001_500,
      }],
      disputes: [[A, B]],
    },
    { type: "waiting", knock: C },
    { type: "muted", what: "audio", by: A },
    { type: "evicted", code: "kicked", reason: EVICTIONS.kicked.hint, by: A },
    { type: "evicted", code: "ended", reason: EVICTIONS.ended.hint, by: A },
    {
      type: "evicted",
      code: "mesh-incomplete",
      reason: "could not connect to 1 of 2",
      unreachable: [B],
    },
    { type: "roster", room, members: [] },
    { type: "signal", from: A, payload: { candidate: "candidate:1 1 udp", sdpMLineIndex: 0 } },
    { type: "signal", from: A, payload: null },
    { type: "pong", t: 42 },
    { type: "pong" },
    errorMessage("room-full", "The meeting is full (capacity 8)."),
    errorMessage("unknown-peer"),
    errorMessage("relay-busy", "Your signal was not sent.", B),
    { type: "evicted", code: "mesh-incomplete", reason: "could not connect to 2 of 5" },
    { type: "evicted", code: "replaced", reason: EVICTIONS.replaced.hint },
  ];
  for (const message of messages) {
    assert.deepEqual(parseServerMessage(serverMessage(message)), message);
  }
});

Deno.test("parseServerMessage returns null for garbage and incomplete messages", () => {
  const garbage = [
    "",
    "nope",
    "null",
    "[]",
    "7",
    "{}",
    '{"type":"hello"}',
    '{"type":"welcome"}',
    `{"type":"welcome","v":2,"peer":"${A}","token":"t","resumed":false,"room":{"id":"r","capacity":8,"locked":false,"host":null},"members":[],"config":{"linkDeadlineMs":1,"graceMs":1,"heartbeatMs":1}}`,
    '{"type":"roster","room":{"id":"r","capacity":8,"locked":false,"host":null},"members":[{}]}',
    '{"type":"roster","room":{"id":"r","capacity":"8","locked":false,"host":null},"members":[]}',
    `{"type":"roster","room":{"id":"r","capacity":8,"locked":false,"host":null},"members":[{"peer":"${A}","name":"a","joinedAt":1,"connected":true,"links":{"${B}":"up"}}]}`,
    '{"type":"signal","from":"x"}',
    '{"type":"signal","payload":1}',
    '{"type":"pong","t":"1"}',
    '{"type":"error","code":"nope","message":"m","fatal":true}',
    '{"type":"error","code":"internal","message":"m"}',
    '{"type":"error","code":"relay-busy","message":"m","fatal":false,"to":7}',
    '{"type":"evicted","code":"left","reason":"r"}',
    '{"type":"constructor"}',
  ];
  for (const text of garbage) assert.equal(parseServerMessage(text), null, text);
});

Deno.test("ERRORS covers every code with a consistent close code and a hint", () => {
  assert.deepEqual(Object.keys(ERRORS).sort(), [...ERROR_CODES].sort());
  const closeCodes = new Set<number>();
  for (const code of ERROR_CODES) {
    const { fatal, closeCode, hint } = ERRORS[code];
    assert.equal(typeof fatal, "boolean");
    assert.ok(
      (closeCode >= 4000 && closeCode <= 4099) ||
        [1003, 1008, 1009, 1011, 1013].includes(closeCode),
      `${code}: ${closeCode}`,
    );
    assert.ok(!closeCodes.has(closeCode), `${code}: close code ${closeCode} used twice`);
    closeCodes.add(closeCode);
    assert.match(hint, /^[A-Z].*\.$/, code);
    assert.deepEqual(describeCloseCode(closeCode), { kind: "error", code });
    assert.equal(errorMessage(code).fatal, fatal);
  }
  assert.equal(ERRORS["too-large"].closeCode, 1009);
  assert.equal(ERRORS["rate-limited"].closeCode, 1008);
  assert.equal(ERRORS["slow-consumer"].closeCode, 1013);
  assert.equal(ERRORS["room-full"].fatal, true);
  assert.equal(ERRORS["bad-message"].fatal, false);
  for (const code of EVICTION_CODES) {
    const { closeCode } = EVICTIONS[code];
    assert.ok(closeCode >= 4100 && closeCode <= 4199 && !closeCodes.has(closeCode), code);
    closeCodes.add(closeCode);
    assert.deepEqual(describeCloseCode(closeCode), { kind: "evicted", code });
  }
  assert.equal(describeCloseCode(1000), null);
  assert.equal(describeCloseCode(4999), null);
});

Deno.test("PEER_ID_PATTERN accepts exactly 16 base64url characters", () => {
  assert.ok(PEER_ID_PATTERN.test(A) && PEER_ID_PATTERN.test(B) && PEER_ID_PATTERN.test(C));
  for (const bad of ["", "A".repeat(15), "A".repeat(17), "AAAAAAAAAAAAAAA+", "AAAAAAAAAAAAAAA\n"]) {
    assert.ok(!PEER_ID_PATTERN.test(bad), JSON.stringify(bad));
  }
});
