import type { Handlers } from "$fresh/server.ts";
import { newRoomId } from "../signaling/room_id.ts";

/**
 * "New meeting": a POST, so that prefetchers and crawlers never create rooms.
 *
 * The server picks the room but must never know the meeting key, so it sends the browser to
 * `/<room>#new`: the meeting page (islands/Meeting.tsx), seeing `#new`, makes the key in the
 * browser and replaces the fragment with it before anything else happens. Without JavaScript the
 * page only says that meetings need it, so this POST stays harmless.
 */
export const handler: Handlers = {
  POST() {
    return new Response(null, { status: 303, headers: { Location: `/${newRoomId()}#new` } });
  },
};
