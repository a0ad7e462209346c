import type { Handlers } from "../framework/mod.ts";
import { getHub } from "../signaling/hub_singleton.ts";

/** Prometheus metrics of every live isolate (label `isolate`). */
export const handler: Handlers = {
  async GET() {
    const text = await (await getHub()).metricsText();
    return new Response(text, {
      headers: {
        "Content-Type": "text/plain; version=0.0.4; charset=utf-8",
        "Cache-Control": "no-store",
      },
    });
  },
};
