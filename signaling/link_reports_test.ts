import assert from "node:assert/strict";
import { nextLinkReport, sameLinks } from "./link_reports.ts";
import type { Links } from "./types.ts";

const room = { self: "A", members: ["A", "B", "C"], now: 50 };

Deno.test("nextLinkReport keeps members other than the sender, with known states only", () => {
  const next = nextLinkReport({}, {
    A: "connected",
    B: "connecting",
    C: "open" as never,
    X: "connected",
  }, room);
  assert.deepEqual(next, { B: { state: "connecting", since: 50 } });
});

Deno.test("nextLinkReport: connecting and failed are one state for the clock; connected is another", () => {
  const previous: Links = {
    B: { state: "connecting", since: 10 },
    C: { state: "connected", since: 20 },
  };
  // An ICE restart (connecting -> failed) keeps the clock; a break (connected -> failed) restarts it.
  assert.deepEqual(nextLinkReport(previous, { B: "failed", C: "failed" }, room), {
    B: { state: "failed", since: 10 },
    C: { state: "failed", since: 50 },
  });
  assert.deepEqual(nextLinkReport(previous, { B: "connected", C: "connected" }, room), {
    B: { state: "connected", since: 50 },
    C: { state: "connected", since: 20 },
  });
});

Deno.test("sameLinks compares states and times, and a dropped entry is a change", () => {
  const a: Links = { B: { state: "connected", since: 1 } };
  assert.ok(sameLinks(a, { B: { state: "connected", since: 1 } }));
  assert.ok(!sameLinks(a, { B: { state: "connected", since: 2 } }));
  assert.ok(!sameLinks(a, { B: { state: "failed", since: 1 } }));
  assert.ok(!sameLinks(a, {}));
  assert.ok(!sameLinks(a, { C: { state: "connected", since: 1 } }));
  assert.ok(sameLinks({}, {}));
});
