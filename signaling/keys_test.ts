import assert from "node:assert/strict";
import { busKeys, isRoomMetaKey, metricsKey, roomKeys, roomRange, ROOMS_PREFIX } from "./keys.ts";

Deno.test("a room's range holds exactly its keys, meta first, whatever other rooms exist", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    // "r" is a prefix of "r1" and "r\u0000" as a string: neither room's keys may leak into its range.
    for (const room of ["q", "r", "r1", "r\u0000", "s"]) {
      await kv.set(roomKeys.room(room), room);
      for (const peer of ["AAAAAAAAAAAAAAAA", "zzzzzzzzzzzzzzzz"]) {
        await kv.set(roomKeys.member(room, peer), 1);
        await kv.set(roomKeys.beat(room, peer), 1);
        await kv.set(roomKeys.links(room, peer), 1);
      }
    }
    await kv.set(busKeys.bell("r"), 1);
    await kv.set(metricsKey("r"), 1);
    const keys = (await Array.fromAsync(kv.list(roomRange("r")))).map((e) => e.key);
    assert.deepEqual(keys[0], roomKeys.room("r"));
    assert.equal(keys.length, 1 + 3 * 2);
    for (const key of keys) assert.equal(key[1], "r");

    const listed = await Array.fromAsync(kv.list({ prefix: ROOMS_PREFIX }));
    const metas = listed.filter((e) => isRoomMetaKey(e.key)).map((e) => e.value);
    assert.deepEqual(metas, ["q", "r", "r\u0000", "r1", "s"]);
  } finally {
    kv.close();
  }
});

Deno.test("bus message keys sort by time, then sender, then sequence", () => {
  const a = busKeys.message("iso", 5, "sender", 9);
  assert.deepEqual(a.slice(0, 2), busKeys.inbox("iso"));
  assert.deepEqual(a, ["inbox", "iso", 5, "sender", 9]);
});
