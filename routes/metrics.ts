import type { Handlers } from "$fresh/server.ts";
import { getHub } from "../signaling/hub_singleton.ts";
import type { SignalingHub } from "../signaling/hub.ts";
import { messageOf } from "../signaling/kv_health.ts";

/**
 * Prometheus metrics of every live isolate (label `isolate`), rendered at most once a second per
 * isolate (`MetricsPage`). When KV fails the page still answers, with this isolate's numbers;
 * when the room store cannot even be opened there are none: 503, and `/healthz` says why.
 */
export const handler: Handlers = {
  async GET() {
    let hub: SignalingHub;
    try {
      hub = await getHub();
    } catch (error) {
      return new Response(
        `# The room store cannot be opened (${messageOf(error)}); see /healthz.\n`,
        { status: 503, headers: { "Content-Type": "text/plain; charset=utf-8", ...NO_STORE } },
      );
    }
    return new Response(await hub.metricsText(), {
      headers: { "Content-Type": "text/plain; version=0.0.4; charset=utf-8", ...NO_STORE },
    });
  },
};

const NO_STORE = { "Cache-Control": "no-store" };
