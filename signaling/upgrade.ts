/**
 * Which requests to `/api/rooms/{room}/ws` are refused before any WebSocket exists: a malformed
 * room id, a request that is not an upgrade, and an origin that may not connect (PROTOCOL.md,
 * "Connection"). Each refusal says what to do instead.
 */
import { isRoomId } from "./room_id.ts";

/** An HTTP answer instead of an upgrade; `code` also labels the `rejected` metric. */
export interface Refusal {
  status: number;
  code: string;
  message: string;
}

/**
 * Why the upgrade request must be refused, or null when it may proceed. `allowedOrigins` is the
 * configured list (`MOOZ_ALLOWED_ORIGINS`), or null for "the request's own host".
 *
 * @example
 * ```ts
 * const refusal = refuseUpgrade(req, room, config.allowedOrigins);
 * if (refusal) return Response.json(refusal, { status: refusal.status });
 * ```
 */
export function refuseUpgrade(
  req: Request,
  room: string,
  allowedOrigins: string[] | null,
): Refusal | null {
  if (!isRoomId(room)) {
    return {
      status: 404,
      code: "bad-room",
      message: "No such meeting: the room id in the URL is malformed.",
    };
  }
  if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return {
      status: 426,
      code: "upgrade-required",
      message: "Connect with a WebSocket to this URL.",
    };
  }
  if (!originAllowed(req, allowedOrigins)) {
    return {
      status: 403,
      code: "bad-origin",
      message: "This origin may not connect. Add it to MOOZ_ALLOWED_ORIGINS on the server.",
    };
  }
  return null;
}

/**
 * Whether the request's `Origin` may open a socket. Browsers always send Origin with WebSockets;
 * only non-browser clients omit it, and they are not the cross-site threat this check exists for.
 */
function originAllowed(req: Request, allowed: string[] | null): boolean {
  const origin = req.headers.get("origin");
  if (origin === null) return true;
  if (allowed) return allowed.includes(origin);
  try {
    return new URL(origin).host === (req.headers.get("host") ?? new URL(req.url).host);
  } catch {
    return false;
  }
}
