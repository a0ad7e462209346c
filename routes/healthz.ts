import type { Handlers } from "../framework/mod.ts";
import { getHub } from "../signaling/hub_singleton.ts";

/** Liveness and readiness: this isolate answers and can reach the room store. */
export const handler: Handlers = {
  async GET() {
    const started = performance.now();
    try {
      const hub = await getHub();
      await hub.store.ping();
      const kvMs = Math.round((performance.now() - started) * 10) / 10;
      return Response.json({ ok: true, isolate: hub.isolate, kvMs }, {
        headers: { "Cache-Control": "no-store" },
      });
    } catch (err) {
      console.error("Health check failed:", err);
      return Response.json({ ok: false, error: "The room store is unreachable." }, {
        status: 503,
        headers: { "Cache-Control": "no-store" },
      });
    }
  },
};
