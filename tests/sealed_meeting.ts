/**
 * Helpers for the end-to-end sealing tests (e2ee_test.ts, mitm_test.ts): what a page's meeting
 * core knows of the others (verified or not, link, safety code), the signals it dropped, and
 * joining pages through the man-in-the-middle proxy (ws_proxy.ts).
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { meetingLink } from "../mesh/meeting_key.ts";
import type { MeetingCore } from "../mesh/meeting.ts";
import { join, type MeetingWorld, type Participant, selfId } from "./meeting_harness.ts";
import type { WsProxy } from "./ws_proxy.ts";

/** Another participant as a page's meeting core sees it. */
export interface PeerSeen {
  peer: string;
  name: string;
  verified: boolean;
  link: string;
  /** The safety code's symbol names, or null before the link connected. */
  code: string | null;
}

/** The other participants as the page's meeting core sees them (`__mooz.meeting.peers`). */
export async function peersSeen(page: Page): Promise<PeerSeen[]> {
  return await page.evaluate(() => {
    const core = (globalThis as unknown as { __mooz?: { meeting: MeetingCore } }).__mooz?.meeting;
    return (core?.peers.value ?? []).map((p) => ({
      peer: p.peer,
      name: p.name,
      verified: p.verified,
      link: p.link,
      code: p.safetyCode ? p.safetyCode.map((s) => s.name).join(" ") : null,
    }));
  });
}

/** Signals the page dropped because they did not open, by reason (`signalsDropped`). */
export async function signalsDropped(page: Page): Promise<Record<string, number>> {
  return await page.evaluate(() =>
    ({
      ...(globalThis as unknown as { __mooz: { meeting: MeetingCore } }).__mooz.meeting
        .signalsDropped,
    }) as Record<string, number>
  );
}

/**
 * Opens `names` one after another and joins them, without devices, through `proxy` (pages load
 * from its origin, so their signaling goes through it); returns them with their peer ids.
 */
export async function joinThrough(
  w: MeetingWorld,
  proxy: WsProxy,
  names: string[],
): Promise<{ p: Participant; id: string }[]> {
  const link = meetingLink(proxy.origin, w.room, w.key);
  const out: { p: Participant; id: string }[] = [];
  for (const name of names) {
    const p = await w.open(name);
    // Loopback candidates need the device permission, now for the proxy's origin.
    await p.context.grantPermissions(["camera", "microphone"], { origin: proxy.origin });
    await join(p.page, proxy.origin, link, name, { mic: false, camera: false });
    const id = await selfId(p.page);
    assert.ok(id, `${name}'s peer id`);
    out.push({ p, id });
  }
  return out;
}
