import type { Handlers } from "$fresh/server.ts";
import { getHub } from "../../../../signaling/hub_singleton.ts";

/**
 * The signaling socket of one participant; see signaling/PROTOCOL.md. The remote address is
 * the client's for the per-client limits (or the proxy's, see MOOZ_TRUST_PROXY).
 */
export const handler: Handlers = {
  async GET(req, ctx) {
    return (await getHub()).handleUpgrade(req, ctx.params.room, ctx.remoteAddr);
  },
};
