import assert from "node:assert/strict";
import { KvHealth } from "./kv_health.ts";

Deno.test("KvHealth counts every failure but logs only when the state changes", () => {
  const lines: string[] = [];
  const clock = { t: 0 };
  const health = new KvHealth({ log: (line) => lines.push(line), now: () => clock.t });
  assert.equal(health.ok, true);
  health.writeSucceeded("heartbeat");
  assert.deepEqual(lines, [], "working and still working: nothing to say");

  const full = new TypeError("database or disk is full");
  for (let i = 0; i < 100; i++) health.failed(i % 2 ? "join" : "heartbeat", full);
  assert.equal(health.ok, false);
  assert.deepEqual(health.errors, { heartbeat: 50, join: 50 });
  assert.equal(lines.length, 1, "one line for 100 failures");
  assert.match(lines[0], /KV is failing: heartbeat failed with "database or disk is full"/);
  assert.match(lines[0], /disk space/);
  assert.ok(health.reported(full));
  assert.equal(health.reported(new Error("other")), false);

  clock.t += 12_300;
  health.writeSucceeded("health write");
  health.writeSucceeded("heartbeat");
  assert.equal(health.ok, true);
  assert.equal(lines.length, 2);
  assert.match(
    lines[1],
    /KV works again \(health write succeeded\) after 100 failed operation\(s\) in 12\.3 s/,
  );

  health.failed("join", full);
  assert.equal(lines.length, 3, "failing again is a new change");
  assert.match(lines[2], /KV is failing: join/);
});
