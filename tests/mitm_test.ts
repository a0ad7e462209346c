/**
 * A man in the middle between real Chromium pages and the real server (tests/ws_proxy.ts), as a
 * server that was broken into would be: it rewrites a byte of sealed payloads, replays an
 * earlier signal, swaps sender and recipient, and invents a participant whose signals it makes
 * up. None of it opens with the meeting key: forged parties are shown as "could not verify" and
 * never connected, replays and reflections are dropped and counted, and the honest links connect.
 * Data-only meetings (no devices).
 */
import assert from "node:assert/strict";
import type { MemberView } from "../signaling/protocol.ts";
import { control, meetingTest, until } from "./meeting_harness.ts";
import { joinThrough, peersSeen, signalsDropped } from "./sealed_meeting.ts";
import { startWsProxy } from "./ws_proxy.ts";

const FILE = "tests/mitm_test.ts";
/** A peer id the server never issued: the participant the man in the middle invents. */
const INVENTED = "FakeFakeFakeFake";

/** A well-formed envelope that opens with no key: random bytes where the secrets go. */
function madeUpEnvelope(n: number): Record<string, unknown> {
  const b64 = (bytes: number) =>
    crypto.getRandomValues(new Uint8Array(bytes)).toBase64({
      alphabet: "base64url",
      omitPadding: true,
    });
  return { v: 1, s: b64(12), n, iv: b64(12), ct: b64(200) };
}

/** Flips one character of the ciphertext: still base64url, no longer what was sealed. */
function tamper(payload: { ct: string }): { ct: string } {
  const i = Math.floor(payload.ct.length / 2);
  const c = payload.ct[i] === "A" ? "B" : "A";
  return { ...payload, ct: payload.ct.slice(0, i) + c + payload.ct.slice(i + 1) };
}

meetingTest(
  "MITM: tampered payloads and an invented participant are never connected and shown unverified",
  {
    devices: "none",
    timeoutMs: 180_000,
    // Nobody is evicted for the links the attack keeps from forming.
    env: { MOOZ_LINK_DEADLINE_MS: "600000" },
  },
  async (w) => {
    const proxy = startWsProxy(w.origin);
    try {
      /** Which member each proxied socket speaks for, from the welcome it got. */
      const owner = new Map<number, string>();
      let order: string[] = [];
      let injected = false;
      proxy.onClientFrame = (text, conn) => {
        const m = JSON.parse(text);
        if (m.type === "welcome") owner.set(conn.id, m.peer);
        if (m.type === "welcome" || m.type === "roster") {
          order = m.members.map((x: MemberView) => x.peer);
        }
        const to = owner.get(conn.id);
        const [ada, bob] = order;
        // (a) Every signal from Bob to Ada has a byte rewritten.
        if (m.type === "signal" && to === ada && m.from === bob) {
          return JSON.stringify({ ...m, payload: tamper(m.payload) });
        }
        // (d) Ada's rosters name an extra member, whose made-up signals follow.
        if (m.type === "roster" && to === ada && bob) {
          const fake: MemberView = {
            peer: INVENTED,
            name: "",
            joinedAt: Date.now(),
            connected: true,
            links: {},
          };
          const out = [JSON.stringify({ ...m, members: [...m.members, fake] })];
          if (!injected) {
            injected = true;
            for (let n = 1; n <= 4; n++) {
              out.push(
                JSON.stringify({ type: "signal", from: INVENTED, payload: madeUpEnvelope(n) }),
              );
            }
          }
          return out;
        }
        return text;
      };

      const [ada, bob, cy] = await joinThrough(w, proxy, ["Ada", "Bob", "Cy"]);
      await until(
        "Ada: Cy connected; Bob and the invented member unverified and not connected",
        async () => {
          const seen = await peersSeen(ada.p.page);
          const by = (id: string) => seen.find((s) => s.peer === id);
          return by(cy.id)?.link === "connected" && by(cy.id)!.verified &&
            by(bob.id)?.verified === false && by(bob.id)!.link !== "connected" &&
            by(INVENTED)?.verified === false && by(INVENTED)!.link !== "connected";
        },
        { timeoutMs: 45_000, describe: () => peersSeen(ada.p.page) },
      );
      await until(
        "Bob and Cy connected to each other",
        async () =>
          (await peersSeen(bob.p.page)).some((s) => s.peer === cy.id && s.link === "connected") &&
          (await peersSeen(cy.p.page)).some((s) => s.peer === bob.id && s.link === "connected"),
        {
          timeoutMs: 45_000,
          describe: async () => [await peersSeen(bob.p.page), await peersSeen(cy.p.page)],
        },
      );
      assert.ok((await signalsDropped(ada.p.page)).failed >= 3, "the forgeries were counted");
      // The page says so where people look: both unverified rows in the participants panel.
      await control(ada.p.page, "Participants").click();
      await until(
        "two 'Could not verify' rows on Ada's participants panel",
        async () =>
          (await ada.p.page.getByText("Could not verify: their link's key differs").count()) === 2,
        {
          timeoutMs: 10_000,
          describe: () => ada.p.page.getByText(/Could not verify/).allTextContents(),
        },
      );
      // Bob's link to Ada never connected: Ada never answered what she could not open.
      const bobSees = await peersSeen(bob.p.page);
      assert.notEqual(bobSees.find((s) => s.peer === ada.id)?.link, "connected");
    } finally {
      await proxy.close();
    }
  },
  FILE,
);

meetingTest(
  "MITM: a replayed signal and swapped sender and recipient are dropped; the mesh connects",
  { devices: "none", timeoutMs: 180_000 },
  async (w) => {
    const proxy = startWsProxy(w.origin);
    try {
      const owner = new Map<number, string>();
      const conns = new Map<string, { toClient(text: string): void }>();
      /** Genuine signals passed on, by `from>to`. */
      const passed = new Map<string, number>();
      let order: string[] = [];
      let first: string | null = null;
      const bobToCy: { from: string; payload: unknown }[] = [];
      proxy.onClientFrame = (text, conn) => {
        const m = JSON.parse(text);
        if (m.type === "welcome") {
          owner.set(conn.id, m.peer);
          conns.set(m.peer, conn);
        }
        if (m.type === "welcome" || m.type === "roster") {
          order = m.members.map((x: MemberView) => x.peer);
        }
        if (m.type !== "signal") return text;
        const to = owner.get(conn.id)!;
        const pair = `${m.from}>${to}`;
        passed.set(pair, (passed.get(pair) ?? 0) + 1);
        const [ada, bob, cy] = order;
        const out = [text];
        // (b) Every signal to Ada comes twice, and every fifth also the first one she got.
        if (to === ada) {
          first ??= text;
          out.push(text);
          if (passed.get(pair)! % 5 === 0) out.push(first);
        }
        // (c) Signals from Bob to Cy are kept, to be handed to Bob later as if Cy had sent them.
        if (to === cy && m.from === bob) bobToCy.push(m);
        return out;
      };

      const people = await joinThrough(w, proxy, ["Ada", "Bob", "Cy"]);
      const ids = people.map((x) => x.id);
      await until(
        "the full mesh, everyone verified",
        async () => {
          for (const { p, id } of people) {
            const seen = await peersSeen(p.page);
            const others = ids.filter((x) => x !== id);
            const up = others.every((o) =>
              seen.some((s) => s.peer === o && s.verified && s.link === "connected")
            );
            if (!up) return false;
          }
          return true;
        },
        {
          timeoutMs: 45_000,
          describe: () => Promise.all(people.map(({ p }) => peersSeen(p.page))),
        },
      );
      // (c) Now that Cy is verified at Bob, Bob gets his own envelopes to Cy back, sender and
      // recipient swapped. (Before that, a flood of envelopes that do not open could make Cy
      // unverified at Bob: a relay can always deny service; this test is about forging.)
      assert.ok(bobToCy.length > 0, "Bob signalled Cy");
      const bobConn = conns.get(ids[1]);
      for (const m of bobToCy.slice(0, 5)) {
        bobConn?.toClient(JSON.stringify({ ...m, type: "signal", from: ids[2] }));
      }
      await until(
        "replays dropped at Ada and reflections dropped at Bob",
        async () =>
          (await signalsDropped(people[0].p.page)).replayed > 0 &&
          (await signalsDropped(people[1].p.page)).failed > 0,
        {
          timeoutMs: 30_000,
          describe: () => Promise.all(people.map(({ p }) => signalsDropped(p.page))),
        },
      );
      for (const { p } of people) {
        assert.ok((await peersSeen(p.page)).every((s) => s.verified), `${p.name}: all verified`);
      }
    } finally {
      await proxy.close();
    }
  },
  FILE,
);
