import type { Handlers } from "../../../../framework/mod.ts";
import { getHub } from "../../../../signaling/hub_singleton.ts";

/** The signaling socket of one participant; see signaling/PROTOCOL.md. */
export const handler: Handlers = {
  async GET(req, ctx) {
    return (await getHub()).handleUpgrade(req, ctx.params.room);
  },
};
