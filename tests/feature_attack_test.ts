/**
 * A modified client against the feature API, in real Chromium. Ada and Bob are the real app
 * (data-only: no devices). Mallory is not: her page (same origin, so the server takes her socket)
 * runs the signaling client and `PeerLink` bundled on their own, joins the room, links to
 * everyone as mesh/links.ts does, reports her links so the full-mesh policy keeps her, and then
 * writes raw frames on the core data channel — exactly what a browser with a patched app could
 * send. The app must attribute everything to the link it came on, show nothing invalid, drop
 * floods, ignore unsolicited snapshots and unknown topics, and keep working.
 *
 * Runs only inside a loopback-only network namespace (see tests/meeting_harness.ts):
 * `CHROME_PATH=/usr/bin/chromium unshare -rn sh -c 'ip link set lo up && deno test -A
 * tests/feature_attack_test.ts'`.
 */
import assert from "node:assert/strict";
import { pageBundle } from "./page_bundle.ts";
import type { Page } from "playwright-core";
import { type Reactions, RECEIVE_RATE } from "../features/reactions/reactions.ts";
import type { FeatureDefinition } from "../mesh/feature.ts";
import type { DropReason } from "../mesh/feature_host.ts";
import type { MeetingCore } from "../mesh/meeting.ts";
import type { parseSignalPayload, PeerLink } from "../mesh/peer_link.ts";
import type { SignalingClient, socketUrl } from "../signaling/client.ts";
import type { Sealer } from "../mesh/seal.ts";
import type { parseMeetingKey } from "../mesh/meeting_key.ts";
import {
  type ChatEntry,
  chatLog,
  control,
  meetingTest,
  type MeetingWorld,
  openChat,
  type Participant,
  sendChat,
  tileOf,
  tiles,
  until,
  videoRegion,
  waitForRemoteTiles,
} from "./meeting_harness.ts";

const FILE = "tests/feature_attack_test.ts";
const OFF = { mic: false, camera: false };

// ---------------------------------------------------------------------------------------------
// Mallory: the signaling client and PeerLink, without the app

/** What the bundle puts on Mallory's `globalThis.moozAttack`. */
interface AttackKit {
  SignalingClient: typeof SignalingClient;
  socketUrl: typeof socketUrl;
  PeerLink: typeof PeerLink;
  parseSignalPayload: typeof parseSignalPayload;
  Sealer: typeof Sealer;
  parseMeetingKey: typeof parseMeetingKey;
}

/** Mallory's handle in her page (`globalThis.mallory`). */
interface MalloryApi {
  client: SignalingClient;
  links: Map<string, PeerLink>;
  /** Signals that failed to apply, and other trouble worth showing when the test fails. */
  errors: string[];
  /** Frames that arrived on Mallory's core channels (the app's presence, hand…). */
  received: number;
  /** Sends every frame on every open core channel; returns to how many links each went. */
  sendAll(frames: (string | number[])[]): number[];
}

interface MalloryState {
  peer: string | null;
  client: string;
  closeReason: string;
  links: Record<string, { state: string; open: boolean; polite: boolean }>;
  errors: string[];
  received: number;
}

/** An IIFE that exposes the signaling client and PeerLink as `globalThis.moozAttack`. */
function attackKit(): Promise<string> {
  return pageBundle(`
    import { SignalingClient, socketUrl } from "./signaling/client.ts";
    import { parseSignalPayload, PeerLink } from "./mesh/peer_link.ts";
    import { Sealer } from "./mesh/seal.ts";
    import { parseMeetingKey } from "./mesh/meeting_key.ts";
    globalThis.moozAttack = {
      SignalingClient, socketUrl, PeerLink, parseSignalPayload, Sealer, parseMeetingKey,
    };
  `);
}

/**
 * Runs in Mallory's page (serialized by Playwright; it sees only the page's globals): joins
 * `room` as "Mallory" and keeps one PeerLink per other member, as mesh/links.ts and
 * mesh/meeting.ts do, reporting every change of her links to the server. She has the meeting's
 * link, so she seals and opens signals with its key and says her name in a sealed hello, as
 * mesh/session.ts does: an insider, whose attacks go through the feature API.
 */
function startMallory(args: { room: string; key: string }): void {
  const { room } = args;
  const g = globalThis as unknown as { moozAttack: AttackKit; mallory: MalloryApi };
  const { SignalingClient, socketUrl, PeerLink, parseSignalPayload, Sealer, parseMeetingKey } =
    g.moozAttack;
  const key = parseMeetingKey(args.key);
  if (!key.ok) throw new Error(`the test's meeting key is ${key.reason}`);
  const sealer = Sealer.create({ key: key.bytes, room });
  const client = new SignalingClient({ url: socketUrl(location.origin, room) });
  let sealing: ReturnType<Awaited<typeof sealer>["session"]> | null = null;
  const greeted = new Set<string>();
  const sealAndSend = (peer: string, payload: unknown) => {
    const session = sealing;
    if (!session) return;
    void session.seal(peer, payload).then((envelope) => client.signal(peer, envelope));
  };
  const links = new Map<string, PeerLink>();
  // No devices: the links carry the data channel only (their transceivers send nothing).
  const local = { stream: new MediaStream(), audio: null, video: null };
  const api: MalloryApi = {
    client,
    links,
    errors: [],
    received: 0,
    sendAll(frames) {
      return frames.map((frame) => {
        // A number array stands for binary data; PeerLink.send passes whatever it gets on.
        const data = typeof frame === "string" ? frame : new Uint8Array(frame).buffer;
        let sent = 0;
        for (const link of links.values()) {
          if (link.channelOpen && link.send(data as string)) sent++;
        }
        return sent;
      });
    },
  };
  g.mallory = api;
  // Without reports the server's full-mesh policy would evict her after the link deadline.
  const report = () => {
    client.reportLinks(Object.fromEntries([...links].map(([peer, link]) => [peer, link.state])));
  };
  const add = (peer: string): PeerLink => {
    const link = new PeerLink({
      self: client.peer!,
      remote: peer,
      rtc: {},
      local,
      channels: [],
      send: (payload) => sealAndSend(peer, payload),
      onState: report,
      onStream: () => {},
      onMessage: () => void api.received++,
      onChannelOpen: report,
    });
    links.set(peer, link);
    return link;
  };
  const sync = (members: { peer: string }[]) => {
    const present = new Set(members.map((m) => m.peer).filter((p) => p !== client.peer));
    let changed = false;
    for (const peer of present) {
      if (!links.has(peer)) {
        add(peer);
        changed = true;
      }
    }
    for (const [peer, link] of links) {
      if (!present.has(peer)) {
        link.close();
        links.delete(peer);
        changed = true;
      }
    }
    if (changed) report();
  };
  const greet = (members: { peer: string }[]) => {
    for (const { peer } of members) {
      if (peer === client.peer || greeted.has(peer)) continue;
      greeted.add(peer);
      sealAndSend(peer, { hello: { name: "Mallory" } });
    }
  };
  client.on("welcome", (w) => {
    void sealer.then((s) => {
      sealing ??= s.session(w.peer);
      sync(w.members);
      greet(w.members);
    });
  });
  client.on("roster", (r) => {
    void sealer.then(() => {
      sync(r.members);
      greet(r.members);
    });
  });
  client.on("signal", ({ from, payload }) => {
    if (from === client.peer) return;
    void sealer.then(async () => {
      const opened = await sealing?.open(from, payload);
      if (!opened?.ok) return api.errors.push(`a signal from ${from} did not open`);
      const parsed = parseSignalPayload(opened.payload);
      if (!parsed) return; // a hello, or something else Mallory does not need
      let link = links.get(from);
      if (!link) {
        link = add(from);
        report();
      }
      link.receive(parsed).catch((err) => api.errors.push(`signal from ${from}: ${err}`));
    });
  });
}

async function malloryState(page: Page): Promise<MalloryState> {
  return await page.evaluate(() => {
    const m = (globalThis as unknown as { mallory?: MalloryApi }).mallory;
    if (!m) throw new Error("Mallory's client is not running");
    return {
      peer: m.client.peer,
      client: m.client.state,
      closeReason: m.client.closeReason,
      links: Object.fromEntries(
        [...m.links].map((
          [peer, l],
        ) => [peer, { state: l.state, open: l.channelOpen, polite: l.polite }]),
      ),
      errors: m.errors,
      received: m.received,
    };
  });
}

/** Mallory sends `frames` (JSON text, or bytes as a number array) to everyone she links to. */
async function malloryBroadcast(page: Page, frames: (string | number[])[]): Promise<void> {
  const sent = await page.evaluate(
    (f) => (globalThis as unknown as { mallory: MalloryApi }).mallory.sendAll(f),
    frames,
  );
  assert.deepEqual(sent, frames.map(() => 2), "each frame went to both Ada and Bob");
}

const frame = (t: string, b: unknown) => JSON.stringify({ t, b });

// ---------------------------------------------------------------------------------------------
// What the victims' pages show and count

type Dropped = Record<DropReason, number>;

async function dropped(page: Page): Promise<Dropped> {
  return await page.evaluate(() => {
    // deno-lint-ignore no-explicit-any -- the debug hook of tests/MEETING_UI_CONTRACT.md
    const counts = (globalThis as any).__mooz?.meeting?.dropped;
    if (!counts) throw new Error("__mooz.meeting.dropped is not there");
    return { ...counts };
  });
}

/** The difference of two readings of `dropped`, reasons that did not change left out. */
function grown(before: Dropped, after: Dropped): Partial<Dropped> {
  const out: Partial<Dropped> = {};
  for (const reason of Object.keys(after) as DropReason[]) {
    const d = after[reason] - (before[reason] ?? 0);
    if (d !== 0) out[reason] = d;
  }
  return out;
}

/** Waits until `p`'s drop counters grew by exactly `want` (others unchanged). */
async function waitForDrops(p: Participant, before: Dropped, want: Partial<Dropped>) {
  let last: Partial<Dropped> = {};
  await until(
    `${p.name}'s page to drop ${JSON.stringify(want)}`,
    async () => {
      last = grown(before, await dropped(p.page));
      return Object.entries(want).every(([r, n]) => (last[r as DropReason] ?? 0) >= n);
    },
    { timeoutMs: 15_000, describe: () => last },
  );
  assert.deepEqual(last, want, `${p.name}'s drop counters grew by exactly this`);
}

async function waitForChatText(p: Participant, text: string): Promise<ChatEntry> {
  return await until(
    `${p.name}'s chat log to show "${text}"`,
    async () => (await chatLog(p.page)).find((m) => m.text === text),
    { timeoutMs: 15_000, describe: () => chatLog(p.page) },
  );
}

/** Everything a person sees of the meeting that a message could change. */
async function visibleState(page: Page) {
  const figures = await videoRegion(page).locator("figure").evaluateAll((fs) =>
    fs.map((f) => ({
      label: f.getAttribute("aria-label"),
      peer: f.getAttribute("data-peer"),
      link: f.getAttribute("data-link"),
      muted: f.getAttribute("data-muted"),
      videoOff: f.getAttribute("data-video-off"),
      caption: f.querySelector("figcaption")?.textContent ?? "",
      reactions: f.querySelectorAll("[data-reaction]").length,
    }))
  );
  return {
    phase: await page.locator("main[data-phase]").getAttribute("data-phase"),
    tiles: figures,
    chat: await chatLog(page),
  };
}

/** The toasts on screen now. */
async function toasts(page: Page): Promise<string[]> {
  return await page.locator('[role="status"][aria-live] > div > span').allTextContents();
}

const handBadge = (page: Page, label: string) =>
  tileOf(page, label).locator('[title="Hand raised"]');

interface ReactionWatch {
  /** The most `[data-reaction]` elements on the tile at once. */
  max: number;
  /** Different elements that appeared. */
  distinct: number;
  emoji: string[];
  /** When the feature accepted each reaction (`performance.now()`, ms). */
  accepted: number[];
}

/**
 * Records, on `page`, what the tile of `peer` shows of reactions (a MutationObserver: the most
 * `[data-reaction]` elements at once, how many different ones, which emoji), and when the
 * reactions feature accepted each one (its `active` signal; `feature()` finds a feature by name).
 */
async function watchReactions(page: Page, peer: string): Promise<void> {
  await page.evaluate((peer) => {
    const region = document.querySelector('[aria-label="Participants\' video"]');
    if (!region) throw new Error("no video region");
    const g = globalThis as unknown as {
      reactionWatch: ReactionWatch;
      __mooz: { meeting: MeetingCore };
    };
    const w: ReactionWatch = g.reactionWatch = { max: 0, distinct: 0, emoji: [], accepted: [] };
    const seen = new WeakSet<Element>();
    const look = () => {
      const shown = region.querySelectorAll(`figure[data-peer="${peer}"] [data-reaction]`);
      w.max = Math.max(w.max, shown.length);
      for (const el of shown) {
        if (seen.has(el)) continue;
        seen.add(el);
        w.distinct++;
        const emoji = el.getAttribute("data-reaction") ?? "";
        if (!w.emoji.includes(emoji)) w.emoji.push(emoji);
      }
    };
    new MutationObserver(look).observe(region, { childList: true, subtree: true });
    look();
    const feature = g.__mooz.meeting.feature({ name: "reactions" } as FeatureDefinition<Reactions>);
    const known = new Set<number>();
    feature.active.subscribe((list) => {
      for (const r of list) {
        if (r.peer !== peer || known.has(r.id)) continue;
        known.add(r.id);
        w.accepted.push(performance.now());
      }
    });
  }, peer);
}

async function reactionWatch(page: Page): Promise<ReactionWatch> {
  return await page.evaluate(() =>
    (globalThis as unknown as { reactionWatch: ReactionWatch }).reactionWatch
  );
}

/** The peer id `page` knows `name` by (its camera tile's `data-peer`). */
async function peerIdOf(page: Page, name: string): Promise<string> {
  const id = await tileOf(page, name).getAttribute("data-peer", { timeout: 5_000 });
  assert.ok(id && id !== "self", `${name}'s tile has no peer id`);
  return id;
}

/** Whether `page`'s core channel to `peer` is open (`__mooz.meeting.stats()`). */
async function coreChannelOpen(page: Page, peer: string): Promise<boolean> {
  return await page.evaluate(async (peer) => {
    // deno-lint-ignore no-explicit-any -- the debug hook of tests/MEETING_UI_CONTRACT.md
    const stats = await (globalThis as any).__mooz.meeting.stats();
    return stats[peer]?.channelOpen === true;
  }, peer);
}

async function meshComplete(w: MeetingWorld, people: Participant[], extra: string[] = []) {
  await Promise.all(people.map((p) =>
    waitForRemoteTiles(p.page, people.length - 1 + extra.length, {
      names: [...people.filter((o) => o !== p).map((o) => o.name), ...extra],
      timeoutMs: 45_000,
      who: p.name,
    })
  ));
  w.log(`mesh complete: ${[...people.map((p) => p.name), ...extra].join(", ")}`);
}

// ---------------------------------------------------------------------------------------------

meetingTest(
  "a modified client cannot forge, flood or inject through the feature API",
  { devices: "none", timeoutMs: 180_000 },
  async (w) => {
    const kit = attackKit();
    const ada = await w.join("Ada", OFF);
    const bob = await w.join("Bob", OFF);
    const victims = [ada, bob];
    await meshComplete(w, victims);
    const adaId = await peerIdOf(bob.page, "Ada");
    const bobId = await peerIdOf(ada.page, "Bob");
    // Both got their (empty) chat snapshots from each other when their link opened.
    await Promise.all(victims.map((p) => openChat(p.page)));

    // Mallory: same origin, so the server accepts her socket; a context granted camera and
    // microphone (the harness's `open`), or Chromium gathers no loopback candidates.
    const mallory = await w.open("Mallory");
    try {
      await mallory.page.goto(`${w.origin}/`);
      await mallory.page.evaluate(await kit);
      await mallory.page.evaluate(startMallory, { room: w.room, key: w.key });
      const joined = await until(
        "Mallory's links to Ada and Bob to connect and open their core channels",
        async () => {
          const s = await malloryState(mallory.page);
          const links = Object.values(s.links);
          return s.client === "joined" && links.length === 2 &&
              links.every((l) => l.state === "connected" && l.open)
            ? s
            : undefined;
        },
        { timeoutMs: 45_000, describe: () => malloryState(mallory.page) },
      );
      const malloryId = joined.peer!;
      assert.deepEqual(Object.keys(joined.links).sort(), [adaId, bobId].sort());
      await meshComplete(w, victims, ["Mallory"]);
      await Promise.all(victims.map((p) =>
        until(
          `${p.name}'s core channel to Mallory to open`,
          () => coreChannelOpen(p.page, malloryId),
          { timeoutMs: 15_000 },
        )
      ));
      w.log(`Mallory (${malloryId}) is linked to Ada (${adaId}) and Bob (${bobId})`);

      // a) A chat message that claims to be Ada's: from the link it came on, it is Mallory's.
      const baseline = await Promise.all(victims.map((p) => dropped(p.page)));
      await malloryBroadcast(mallory.page, [
        frame("chat/message", {
          seq: 1,
          text: "I am Ada",
          sentAt: Date.now(),
          from: adaId,
          name: "Ada",
          id: `${adaId}:1`,
        }),
      ]);
      for (const p of victims) {
        const shown = await waitForChatText(p, "I am Ada");
        assert.deepEqual(shown, { from: malloryId, name: "Mallory", text: "I am Ada" });
        const log = await chatLog(p.page);
        assert.equal(log.filter((m) => m.from === adaId || m.name === "Ada").length, 0);
      }
      // Valid apart from the claims, so nothing was dropped: the claims were just ignored.
      for (const [i, p] of victims.entries()) {
        assert.deepEqual(grown(baseline[i], await dropped(p.page)), {}, `${p.name}'s drops`);
      }
      w.log("a) the forged chat message shows as Mallory's on both pages, never as Ada's");

      // b) Invalid chat bodies: never shown, counted as invalid.
      let before = await Promise.all(victims.map((p) => dropped(p.page)));
      const now = Date.now();
      const invalidChat = [
        { seq: 2, text: "", sentAt: now },
        { seq: 3, text: "   \n\t ", sentAt: now },
        { seq: -1, text: "INVALID negative seq", sentAt: now },
        { seq: 1.5, text: "INVALID fractional seq", sentAt: now },
        { seq: 4, text: `INVALID ${"x".repeat(2_000)}`, sentAt: now },
        { seq: "5", text: "INVALID seq as a string", sentAt: now },
        { seq: 6, text: 42, sentAt: now },
        { seq: 7, text: ["INVALID text in an array"], sentAt: now },
        { seq: 8, text: "INVALID no time" },
        { seq: 9, text: "INVALID negative time", sentAt: -5 },
        { seq: 10, text: "INVALID \u0007 control character", sentAt: now },
        "INVALID a bare string",
        null,
        ["INVALID an array"],
      ];
      await malloryBroadcast(mallory.page, invalidChat.map((b) => frame("chat/message", b)));
      await Promise.all(
        victims.map((p, i) => waitForDrops(p, before[i], { invalid: invalidChat.length })),
      );
      for (const p of victims) {
        const log = await chatLog(p.page);
        assert.deepEqual(log.map((m) => m.text), ["I am Ada"], `${p.name}'s chat log`);
      }
      w.log(`b) ${invalidChat.length} invalid chat bodies: dropped as invalid, none shown`);

      // c) History nobody asked for: Ada and Bob had theirs from each other before Mallory came.
      before = await Promise.all(victims.map((p) => dropped(p.page)));
      await malloryBroadcast(mallory.page, [
        frame("core/snapshot", {
          f: "chat",
          b: [{
            id: `${adaId}:99`,
            from: adaId,
            name: "Ada",
            text: "forged history",
            sentAt: 1,
          }],
        }),
      ]);
      await Promise.all(victims.map((p, i) => waitForDrops(p, before[i], { unsolicited: 1 })));
      for (const p of victims) {
        const log = await chatLog(p.page);
        assert.equal(log.some((m) => m.text.includes("forged history")), false);
        assert.equal(log.length, 1, `${p.name}'s chat log holds only Mallory's message`);
      }
      w.log("c) the unsolicited snapshot with forged history was dropped, nothing shown");

      // d) A flood of reactions is cut to the receiver's burst; an emoji outside the set is never
      // shown. The flood comes first, while Mallory's bucket on each page is new (full).
      await Promise.all(victims.map((p) => watchReactions(p.page, malloryId)));
      before = await Promise.all(victims.map((p) => dropped(p.page)));
      const FLOOD = 30;
      await malloryBroadcast(
        mallory.page,
        Array.from({ length: FLOOD }, () => frame("reactions/send", { emoji: "👍" })),
      );
      // Every one of the flood is either shown or dropped for its rate.
      const flood = await Promise.all(victims.map((p, i) =>
        until(
          `${p.name}'s page to show or drop all ${FLOOD} reactions`,
          async () => {
            const r = await reactionWatch(p.page);
            const rate = grown(before[i], await dropped(p.page)).rate ?? 0;
            return r.distinct > 0 && r.distinct + rate >= FLOOD ? { ...r, rate } : undefined;
          },
          {
            timeoutMs: 15_000,
            describe: async () => ({
              watch: await reactionWatch(p.page),
              dropped: grown(before[i], await dropped(p.page)),
            }),
          },
        )
      ));
      const spreads: string[] = [];
      for (const [i, p] of victims.entries()) {
        const r = flood[i];
        // A token bucket lets the burst through at once, then `perSecond`: the 30 frames arrive
        // within milliseconds, but a receiver stalled on a loaded machine may take longer to
        // handle them, and then a token refilled meanwhile lets one more through. So the bound is
        // the burst plus what refilled while they were being accepted (on an idle machine: the
        // burst), and no window of acceptances may beat the bucket.
        const t = r.accepted;
        assert.equal(t.length, r.distinct, `${p.name}: every accepted reaction was shown`);
        const spread = t[t.length - 1] - t[0];
        const allowed = RECEIVE_RATE.burst + Math.floor(RECEIVE_RATE.perSecond * spread / 1000);
        assert.ok(
          r.max <= allowed,
          `${p.name}'s page showed ${r.max} reactions at once on Mallory's tile (burst ` +
            `${RECEIVE_RATE.burst}, accepted over ${spread.toFixed(0)} ms)`,
        );
        for (let from = 0; from < t.length; from++) {
          for (let to = from; to < t.length; to++) {
            const ms = t[to] - t[from];
            // 25 ms for the clocks: the bucket reads Date.now(), this performance.now().
            const budget = RECEIVE_RATE.burst + RECEIVE_RATE.perSecond * (ms + 25) / 1000;
            assert.ok(
              to - from + 1 <= budget,
              `${p.name} accepted ${to - from + 1} reactions within ${ms.toFixed(0)} ms`,
            );
          }
        }
        spreads.push(`${p.name} ${r.max} at once, ${r.distinct} in ${spread.toFixed(0)} ms`);
        assert.ok(r.distinct >= RECEIVE_RATE.burst, `${p.name}: a full burst was accepted`);
        assert.equal(r.distinct + r.rate, FLOOD, `${p.name}: shown + dropped = sent`);
        assert.deepEqual(r.emoji, ["👍"], `${p.name}: the emoji shown`);
        assert.deepEqual(grown(before[i], await dropped(p.page)), { rate: r.rate });
      }
      assert.equal(await tileOf(bob.page, "Ada").locator("[data-reaction]").count(), 0);
      w.log(
        `d) ${FLOOD} reactions at once: dropped ${flood[1].rate} on Bob's page; shown: ` +
          spreads.join("; "),
      );
      // Once they have faded (SHOW_MS), the bucket is full again (2 a second): what follows is
      // judged by the validator, not the rate.
      await Promise.all(victims.map((p) =>
        until(
          `the reactions to fade from Mallory's tile on ${p.name}'s page`,
          async () => await tileOf(p.page, "Mallory").locator("[data-reaction]").count() === 0,
          { timeoutMs: 20_000 },
        )
      ));
      before = await Promise.all(victims.map((p) => dropped(p.page)));
      const strange = ["💩", "toString", "__proto__"];
      await malloryBroadcast(
        mallory.page,
        strange.map((emoji) => frame("reactions/send", { emoji })),
      );
      await Promise.all(
        victims.map((p, i) => waitForDrops(p, before[i], { invalid: strange.length })),
      );
      for (const p of victims) {
        const r = await reactionWatch(p.page);
        assert.deepEqual(r.emoji, ["👍"], `${p.name}: only emoji of the set were ever shown`);
        assert.equal(await tileOf(p.page, "Mallory").locator("[data-reaction]").count(), 0);
      }
      w.log(`d) reactions outside the set (${strange.join(" ")}): dropped as invalid, not shown`);

      // e) A raised hand "for Ada": the hand goes up on Mallory's tile, never on Ada's.
      before = await Promise.all(victims.map((p) => dropped(p.page)));
      await malloryBroadcast(mallory.page, [
        // Exactly the topic's 64-byte limit: extra fields, but not dropped as too big.
        frame("hand/state", { raised: true, peer: adaId }),
      ]);
      await until(
        "the hand badge on Mallory's tile on Bob's page",
        async () => await handBadge(bob.page, "Mallory").count() === 1,
        { timeoutMs: 15_000, describe: () => tiles(bob.page) },
      );
      await until(
        "the hand badge on Mallory's tile on Ada's page",
        async () => await handBadge(ada.page, "Mallory").count() === 1,
        { timeoutMs: 15_000, describe: () => tiles(ada.page) },
      );
      assert.equal(await handBadge(bob.page, "Ada").count(), 0, "no hand on Ada's tile (Bob)");
      assert.equal(await handBadge(bob.page, "Bob (you)").count(), 0);
      assert.equal(await handBadge(ada.page, "Ada (you)").count(), 0, "Ada's own hand is down");
      assert.equal(
        await control(ada.page, "Raise hand").getAttribute("aria-pressed"),
        "false",
        "Ada's Raise hand button is not pressed",
      );
      for (const [i, p] of victims.entries()) {
        assert.deepEqual(grown(before[i], await dropped(p.page)), {});
      }
      w.log("e) the hand naming Ada went up on Mallory's tile only");

      // f) Unknown topics and garbage: counted, nothing visible changes, everything keeps working.
      await Promise.all(victims.map((p) =>
        until(
          `the reactions to fade from Mallory's tile on ${p.name}'s page`,
          async () => await tileOf(p.page, "Mallory").locator("[data-reaction]").count() === 0,
          { timeoutMs: 20_000 },
        )
      ));
      const seenBefore = await Promise.all(victims.map((p) => visibleState(p.page)));
      const toastsBefore = await Promise.all(victims.map((p) => toasts(p.page)));
      before = await Promise.all(victims.map((p) => dropped(p.page)));
      const garbage: (string | number[])[] = [
        frame("admin/kick", {}),
        frame("core/evict", { peer: adaId }),
        frame("presence/name", { name: "Ada" }),
        "not json at all",
        '{"t":"chat/message","b":',
        frame("Chat/Message", { seq: 11, text: "INVALID bad topic", sentAt: now }),
        "[1,2,3]",
        "null",
        JSON.stringify({ b: { seq: 12, text: "INVALID no topic", sentAt: now } }),
        [0, 1, 2, 3, 255],
        frame("chat/message", { seq: 13, text: "INVALID " + "y".repeat(20_000), sentAt: now }),
      ];
      await malloryBroadcast(mallory.page, garbage);
      const want = { "unknown-topic": 3, malformed: 6, "not-text": 1, "too-big": 1 };
      await Promise.all(victims.map((p, i) => waitForDrops(p, before[i], want)));
      for (const [i, p] of victims.entries()) {
        assert.deepEqual(await visibleState(p.page), seenBefore[i], `${p.name}'s page changed`);
        const fresh = (await toasts(p.page)).filter((t) => !toastsBefore[i].includes(t));
        assert.deepEqual(fresh, [], `${p.name}'s page showed new toasts`);
      }
      w.log(
        `f) ${garbage.length} garbage frames: counted as ${JSON.stringify(want)}, nothing shown`,
      );

      // The real Ada still reaches Bob (her id is not taken by the forged `${ada}:1`), and
      // Mallory's link still carries valid messages, attributed to her.
      await sendChat(ada.page, "Hello from the real Ada");
      const real = await waitForChatText(bob, "Hello from the real Ada");
      assert.deepEqual(real, { from: adaId, name: "Ada", text: "Hello from the real Ada" });
      await malloryBroadcast(mallory.page, [
        frame("chat/message", { seq: 20, text: "Still here", sentAt: Date.now() }),
      ]);
      for (const p of victims) {
        const still = await waitForChatText(p, "Still here");
        assert.deepEqual(still, { from: malloryId, name: "Mallory", text: "Still here" });
        const log = await chatLog(p.page);
        assert.equal(log.some((m) => m.text.includes("INVALID")), false, `${p.name}'s log`);
      }
      assert.equal((await chatLog(ada.page)).length, 3);
      for (const p of victims) {
        assert.equal(await p.page.locator("main[data-phase]").getAttribute("data-phase"), "joined");
      }
      const end = await malloryState(mallory.page);
      assert.equal(end.client, "joined", `Mallory was let go: ${end.closeReason}`);
      w.log("Ada's chat still reaches Bob; the pages kept working");
    } finally {
      await w.close(mallory);
    }
  },
  FILE,
);
