import assert from "node:assert/strict";
import { clientKey, ClientLimits, type ClientLimitsOptions } from "./client_limits.ts";
import { CLIENT_MESSAGE_BURST_S, CLIENT_TABLE_MAX_IDLE } from "./limits.ts";

/** A table on a clock the test moves. */
function table(opts: Partial<ClientLimitsOptions> = {}) {
  const clock = { now: 1_000_000 };
  const limits = new ClientLimits({
    maxSockets: 3,
    joinsPerMin: 4,
    roomsPerMin: 2,
    messagesPerS: 10,
    ...opts,
    now: () => clock.now,
  });
  return { limits, clock };
}

Deno.test("ClientLimits: an address gets maxSockets sockets, another address its own", () => {
  const { limits } = table();
  const leases = [1, 2, 3].map(() => limits.open("203.0.113.7"));
  assert.ok(leases.every((l) => l !== null));
  assert.equal(limits.open("203.0.113.7"), null);
  assert.equal(limits.sockets("203.0.113.7"), 3);
  assert.ok(limits.open("198.51.100.1"), "another address is not affected");
  // A closed socket frees its place; a second release of the same lease frees nothing more.
  leases[0]!.release();
  leases[0]!.release();
  assert.equal(limits.sockets("203.0.113.7"), 2);
  assert.ok(limits.open("203.0.113.7"));
  assert.equal(limits.open("203.0.113.7"), null);
});

Deno.test("ClientLimits: joins per minute, shared by the address's sockets, refill over time", () => {
  const { limits, clock } = table();
  const a = limits.open("203.0.113.7")!;
  const b = limits.open("203.0.113.7")!;
  for (let i = 0; i < 4; i++) assert.equal((i % 2 ? a : b).takeJoin(), 0, `join ${i}`);
  // Empty: the next join is 15 s away (4 a minute).
  assert.equal(a.takeJoin(), 15_000);
  assert.equal(b.takeJoin(), 15_000);
  clock.now += 14_999;
  assert.equal(a.takeJoin(), 1);
  clock.now += 1;
  assert.equal(a.takeJoin(), 0);
  assert.equal(a.takeJoin(), 15_000);
  // Another address is untouched.
  assert.equal(limits.open("198.51.100.1")!.takeJoin(), 0);
});

Deno.test("ClientLimits: room creations are checked before and counted after, with debt", () => {
  const { limits, clock } = table();
  const a = limits.open("203.0.113.7")!;
  const b = limits.open("203.0.113.7")!;
  // Two joins check at once (both may create), then both create: the budget goes into debt...
  assert.equal(a.roomWaitMs(), 0);
  assert.equal(b.roomWaitMs(), 0);
  a.roomCreated();
  b.roomCreated();
  assert.equal(a.roomWaitMs(), 30_000);
  // ...and a third concurrent creation is paid back before the next one is allowed.
  a.roomCreated();
  assert.equal(a.roomWaitMs(), 60_000);
  clock.now += 59_999;
  assert.ok(b.roomWaitMs() > 0);
  clock.now += 1;
  assert.equal(b.roomWaitMs(), 0);
  // Checking alone takes nothing: joining existing rooms does not use creations up.
  for (let i = 0; i < 10; i++) assert.equal(a.roomWaitMs(), 0);
});

Deno.test("ClientLimits: the message budget is shared by all of an address's sockets", () => {
  const { limits, clock } = table();
  const burst = 10 * CLIENT_MESSAGE_BURST_S;
  const leases = [limits.open("203.0.113.7")!, limits.open("203.0.113.7")!];
  let passed = 0;
  for (let i = 0; i < burst * 2; i++) if (leases[i % 2].takeMessage()) passed++;
  assert.equal(passed, burst);
  assert.ok(limits.open("198.51.100.1")!.takeMessage(), "another address has its own budget");
  clock.now += 1_000; // 10 a second come back
  passed = 0;
  for (let i = 0; i < 20; i++) if (leases[i % 2].takeMessage()) passed++;
  assert.equal(passed, 10);
});

Deno.test("ClientLimits: an address keeps its budgets across its sockets' lives", () => {
  const { limits, clock } = table();
  const first = limits.open("203.0.113.7")!;
  for (let i = 0; i < 4; i++) first.takeJoin();
  first.release();
  // Reconnecting right away does not give a fresh budget...
  const second = limits.open("203.0.113.7")!;
  assert.ok(second.takeJoin() > 0);
  second.release();
  assert.deepEqual(limits.size, { busy: 0, idle: 1 });
  // ...but a minute idle fills it up, and the address is forgotten (nothing is lost then).
  clock.now += 60_000;
  limits.open("198.51.100.1")!.release();
  assert.deepEqual(limits.size, { busy: 0, idle: 1 }, "only the newer address is left");
  assert.equal(limits.open("203.0.113.7")!.takeJoin(), 0);
});

Deno.test("ClientLimits: a flood of addresses leaves at most maxIdle idle entries", () => {
  const { limits } = table({ maxIdle: 100 });
  const held = limits.open("192.0.2.1")!; // an address with an open socket is never forgotten
  for (const _ of [1, 2, 3]) held.takeJoin();
  for (let i = 0; i < 10_000; i++) {
    limits.open(`10.${i >> 16 & 255}.${i >> 8 & 255}.${i & 255}`)!.release();
  }
  assert.deepEqual(limits.size, { busy: 1, idle: 100 });
  assert.equal(limits.sockets("192.0.2.1"), 1);
  assert.equal(held.takeJoin(), 0);
  assert.ok(held.takeJoin() > 0, "the held address kept its spent budget");
  assert.equal(
    new ClientLimits({ maxSockets: 1, joinsPerMin: 1, roomsPerMin: 1, messagesPerS: 1 }).options
      .maxIdle,
    CLIENT_TABLE_MAX_IDLE,
  );
});

Deno.test("ClientLimits: nonsense limits are refused", () => {
  for (const bad of [{ maxSockets: 0 }, { messagesPerS: Number.NaN }, { joinsPerMin: -1 }]) {
    assert.throws(() => table(bad), RangeError, JSON.stringify(bad));
  }
});

Deno.test("clientKey: one key per IPv4 address and per IPv6 /64 network", () => {
  const cases: [string, string][] = [
    ["203.0.113.7", "203.0.113.7"],
    [" 203.0.113.7:5123 ", "203.0.113.7"],
    ["::ffff:203.0.113.7", "203.0.113.7"],
    ["[::FFFF:203.0.113.7]:443", "203.0.113.7"],
    ["2001:db8:0:1:aaaa:bbbb:cccc:dddd", "2001:db8:0:1::/64"],
    ["2001:DB8:0:1::7", "2001:db8:0:1::/64"],
    ["[2001:db8:0:1::7%eth0]:80", "2001:db8:0:1::/64"],
    ["2001:db8::", "2001:db8:0:0::/64"],
    ["::1", "0:0:0:0::/64"],
    ["64:ff9b::203.0.113.7", "64:ff9b:0:0::/64"],
    ['"unknown"', "unknown"],
    ["_Hidden", "_hidden"],
    ["1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8:9"], // not an address: as text
    ["x".repeat(500), "x".repeat(64)],
  ];
  for (const [address, key] of cases) assert.equal(clientKey(address), key, address);
  // Every address of one /64 is one client; the next /64 is another.
  const { limits } = table({ maxSockets: 2 });
  assert.ok(limits.open("2001:db8:0:1::1"));
  assert.ok(limits.open("2001:db8:0:1:ffff:ffff:ffff:ffff"));
  assert.equal(limits.open("2001:db8:0:1::abcd"), null);
  assert.ok(limits.open("2001:db8:0:2::1"));
});
