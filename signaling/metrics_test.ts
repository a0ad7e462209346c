import assert from "node:assert/strict";
import { emptyMetrics, renderMetrics } from "./metrics.ts";
import { RoomStore } from "./store.ts";

Deno.test("renderMetrics counts rooms and participants from the room metas only", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const store = new RoomStore({ kv });
    for (const name of ["A", "B", "C"]) await store.join("r1", { name, isolate: "i" });
    await store.join("r2", { name: "D", isolate: "i" });
    const text = await renderMetrics(kv, emptyMetrics("i"));
    // Each member has three keys below its room's: they count neither as rooms nor as members.
    assert.match(text, /^mooz_rooms 2$/m);
    assert.match(text, /^mooz_participants 4$/m);
  } finally {
    kv.close();
  }
});
