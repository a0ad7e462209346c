/**
 * End-to-end sealing in real Chromium against the real server: two people with the meeting's
 * link see the same safety code for their pair, and a third page holding another key (an old or
 * tampered link) is never connected: every page shows it could not be verified, while the honest
 * pair connects. And what the server gets, stores and logs in a meeting with chat holds no name,
 * no SDP fingerprint, no ICE candidate, no chat text and no key. Data-only meetings (no devices):
 * nothing here asserts media.
 */
import assert from "node:assert/strict";
import { meetingLink, newMeetingKey } from "../mesh/meeting_key.ts";
import type { MeetingCore } from "../mesh/meeting.ts";
import { chatLog, control, meetingTest, openChat, sendChat, until } from "./meeting_harness.ts";
import { joinThrough, peersSeen } from "./sealed_meeting.ts";
import { startWsProxy } from "./ws_proxy.ts";

const FILE = "tests/e2ee_test.ts";
const OFF = { mic: false, camera: false };

meetingTest(
  "two people see the same safety code for their pair, in the participants panel too",
  { devices: "none", timeoutMs: 120_000 },
  async (w) => {
    const ada = await w.join("Ada", OFF);
    const bob = await w.join("Bob", OFF);
    const codes = await Promise.all([[ada, "Bob"], [bob, "Ada"]].map(([p, other]) =>
      until(
        `${(p as typeof ada).name} to see ${other} connected, named, with a safety code`,
        async () => {
          const seen = await peersSeen((p as typeof ada).page);
          const them = seen.find((s) => s.name === other);
          return them?.link === "connected" && them.verified && them.code ? them.code : undefined;
        },
        { timeoutMs: 45_000, describe: () => peersSeen((p as typeof ada).page) },
      )
    ));
    w.log(`safety codes: ${codes.join(" | ")}`);
    assert.equal(codes[0].split(" ").length, 5);
    assert.equal(codes[0], codes[1], "both ends of the pair show the same code");

    await control(ada.page, "Participants").click();
    const shown = ada.page.getByRole("img", { name: /^Safety code with Bob: / });
    await shown.waitFor();
    assert.equal(
      await shown.getAttribute("aria-label"),
      `Safety code with Bob: ${codes[0].split(" ").join(", ")}`,
    );
  },
  FILE,
);

meetingTest(
  "a page with another key is never connected and shows as unverified; the honest pair connects",
  {
    devices: "none",
    timeoutMs: 150_000,
    // Nobody is evicted for the links that cannot form: this test looks at what the pages show.
    env: { MOOZ_LINK_DEADLINE_MS: "600000" },
  },
  async (w) => {
    const ada = await w.join("Ada", OFF);
    const bob = await w.join("Bob", OFF);
    // Same room, another key: what an old or tampered link gives.
    const eve = await w.join("Eve", OFF, {
      room: meetingLink(w.origin, w.room, newMeetingKey()),
    });

    for (const p of [ada, bob]) {
      const other = p === ada ? "Bob" : "Ada";
      await until(
        `${p.name}: ${other} connected and verified, one unverified participant`,
        async () => {
          const seen = await peersSeen(p.page);
          const honest = seen.find((s) => s.name === other);
          const unverified = seen.filter((s) => !s.verified);
          return honest?.link === "connected" && honest.verified && unverified.length === 1 &&
            unverified[0].link !== "connected";
        },
        { timeoutMs: 45_000, describe: () => peersSeen(p.page) },
      );
    }
    await until(
      "Eve: both others unverified, never connected",
      async () => {
        const seen = await peersSeen(eve.page);
        return seen.length === 2 && seen.every((s) => !s.verified && s.link !== "connected");
      },
      { timeoutMs: 45_000, describe: () => peersSeen(eve.page) },
    );
    // Eve never learnt their names: they came sealed with a key she does not have.
    for (const s of await peersSeen(eve.page)) assert.ok(!["Ada", "Bob"].includes(s.name));

    await control(ada.page, "Participants").click();
    await ada.page.getByText(/Could not verify/).first().waitFor();
    const stats = await ada.page.evaluate(() =>
      (globalThis as unknown as { __mooz: { meeting: MeetingCore } }).__mooz.meeting.stats()
    );
    const eveId = (await peersSeen(ada.page)).find((s) => !s.verified)!.peer;
    assert.ok(
      !(eveId in stats) || stats[eveId].connectionState !== "connected",
      `no connection to the unverified page: ${JSON.stringify(stats)}`,
    );
  },
  FILE,
);

meetingTest(
  "the server receives, stores and logs no name, fingerprint, candidate, chat text or key",
  { devices: "none", timeoutMs: 180_000 },
  async (w) => {
    // Pages load from the proxy, so every signaling frame the server receives is recorded.
    const proxy = startWsProxy(w.origin);
    try {
      const names = ["Adelheid Quarz", "Bartholomew Zink", "Cyprienne Vox"];
      const people = (await joinThrough(w, proxy, names)).map(({ p }) => p);
      for (const p of people) {
        await until(
          `${p.name} to see the other two connected, by name`,
          async () => {
            const seen = await peersSeen(p.page);
            return seen.length === 2 &&
              seen.every((s) => s.link === "connected" && names.includes(s.name));
          },
          { timeoutMs: 45_000, describe: () => peersSeen(p.page) },
        );
      }
      const chat = `the eagle lands at midnight ${crypto.randomUUID()}`;
      await openChat(people[0].page);
      await sendChat(people[0].page, chat);
      for (const p of people.slice(1)) {
        await openChat(p.page);
        await until(
          `${p.name} to read the chat message`,
          async () => (await chatLog(p.page)).some((m) => m.text === chat),
          { timeoutMs: 20_000, describe: () => chatLog(p.page) },
        );
      }

      const toServer = proxy.frames.filter((f) => f.dir === "to-server").map((f) => f.text);
      assert.ok(toServer.some((t) => t.includes('"type":"signal"')), "signals were recorded");
      const kv = await Deno.openKv(w.server.kvPath);
      let stored: string;
      try {
        stored = JSON.stringify(
          await Array.fromAsync(kv.list({ prefix: [] })),
          (_, v) =>
            v instanceof Uint8Array
              ? new TextDecoder().decode(v)
              : v instanceof Deno.KvU64
              ? String(v.value)
              : v,
        );
      } finally {
        kv.close();
      }
      const seenByServer: [string, string][] = [
        ["frames it received", toServer.join("\n")],
        ["requests it received", proxy.requests.join("\n")],
        ["its KV", stored],
        ["its logs", w.server.output()],
      ];
      const secrets = [...names, "a=fingerprint", "candidate:", chat, w.key];
      for (const [where, text] of seenByServer) {
        for (const secret of secrets) {
          assert.ok(!text.includes(secret), `${where} contain ${JSON.stringify(secret)}`);
        }
      }
      w.log(`checked ${toServer.length} frames, ${proxy.requests.length} requests, KV and logs`);
    } finally {
      await proxy.close();
    }
  },
  FILE,
);
