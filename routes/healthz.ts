import type { Handlers } from "$fresh/server.ts";
import { type HealthReport, openFailed } from "../signaling/health.ts";
import { getHub } from "../signaling/hub_singleton.ts";

const NO_STORE = { "Cache-Control": "no-store" };

/**
 * Liveness and readiness: this isolate answers and can write and read the room store, within
 * `HEALTH_TIMEOUT_MS`. 200 `{ ok: true, isolate, kvMs }`; otherwise 503
 * `{ ok: false, error, reason, step }`, `reason` saying what failed and what to check. Failures
 * are logged once per change (kv_health.ts), not per check.
 */
export const handler: Handlers = {
  async GET() {
    let report: HealthReport;
    let isolate: string | undefined;
    try {
      const hub = await getHub();
      isolate = hub.isolate;
      report = await hub.health.check();
    } catch (error) {
      report = openFailed(error);
    }
    if (report.ok) {
      return Response.json({ ok: true, isolate, kvMs: report.kvMs }, { headers: NO_STORE });
    }
    const { error, reason, step } = report;
    return Response.json({ ok: false, error, reason, step, isolate }, {
      status: 503,
      headers: NO_STORE,
    });
  },
};
