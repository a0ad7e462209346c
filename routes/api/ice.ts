import type { Handlers } from "$fresh/server.ts";
import { type IceConfig, iceConfigFromEnv, iceServersFor } from "../../signaling/ice.ts";

/** Read once per isolate, on the first request; a malformed setting is kept as the error. */
let config: { ok: true; value: IceConfig } | { ok: false; error: Error } | undefined;

function iceConfig(): IceConfig | Error {
  if (!config) {
    try {
      config = { ok: true, value: iceConfigFromEnv() };
    } catch (err) {
      config = { ok: false, error: err as Error };
      console.error("ICE configuration is invalid:", (err as Error).message);
    }
  }
  return config.ok ? config.value : config.error;
}

/**
 * `GET /api/ice`: the ICE servers a browser passes to RTCPeerConnection, with fresh time-limited
 * TURN credentials on every call (never cached: `Cache-Control: no-store`).
 */
export const handler: Handlers = {
  async GET() {
    const headers = { "Cache-Control": "no-store" };
    const value = iceConfig();
    if (value instanceof Error) {
      return Response.json(
        { error: "The server's ICE configuration is invalid; its log says which setting." },
        { status: 500, headers },
      );
    }
    return Response.json(await iceServersFor(value), { headers });
  },
};
