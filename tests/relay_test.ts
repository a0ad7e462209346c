/**
 * A meeting relayed through a real TURN server: coturn on 127.0.0.1 (tests/coturn.ts), the
 * server configured with `MOOZ_TURN_URLS`/`MOOZ_TURN_SECRET` and `MOOZ_ICE_TRANSPORT_POLICY=relay`,
 * three participants in real Chromium. Every link must connect through a relay candidate, with
 * video and audio flowing. Runs only inside a loopback-only network namespace (`deno task test`
 * sets it up), like tests/meeting_test.ts.
 */
import assert from "node:assert/strict";
import { startCoturn } from "./coturn.ts";
import {
  audioFlows,
  framesAdvance,
  linkStats,
  type Participant,
  skipUnlessIsolated,
  until,
  waitForRemoteTiles,
  withMeeting,
} from "./meeting_harness.ts";

const NAME = "relay only: 3 participants connect through coturn, every link on a relay candidate";

Deno.test({
  name: NAME,
  ignore: skipUnlessIsolated("tests/relay_test.ts"),
  async fn() {
    await using turn = await startCoturn();
    await withMeeting(
      NAME,
      {
        timeoutMs: 150_000,
        env: {
          MOOZ_TURN_URLS: turn.url,
          MOOZ_TURN_SECRET: turn.secret,
          MOOZ_ICE_TRANSPORT_POLICY: "relay",
        },
        diagnose: async () =>
          `--- coturn log (last 4000 chars) ---\n${(await turn.log()).slice(-4000)}`,
      },
      async (w) => {
        // What the browsers are told: TURN only, nothing else.
        const ice = await (await fetch(`${w.origin}/api/ice`)).json();
        assert.equal(ice.iceTransportPolicy, "relay");
        assert.deepEqual(ice.iceServers.map((s: RTCIceServer) => s.urls), [[turn.url]]);

        const media = { mic: true, camera: true };
        const people: Participant[] = [];
        for (const name of ["Ada", "Bob", "Cy"]) people.push(await w.join(name, media));
        await Promise.all(people.map((p) =>
          waitForRemoteTiles(p.page, 2, {
            names: people.filter((o) => o !== p).map((o) => o.name),
            timeoutMs: 45_000,
            who: p.name,
          })
        ));
        w.log("mesh of 3 complete through TURN");

        for (const p of people) {
          const stats = await until(
            `${p.name}'s 2 links to report their selected candidate`,
            async () => {
              const s = await linkStats(p.page);
              const links = Object.values(s);
              return links.length === 2 && links.every((l) => l.localCandidateType !== null)
                ? s
                : undefined;
            },
            { timeoutMs: 15_000, describe: () => linkStats(p.page) },
          );
          for (const [peer, link] of Object.entries(stats)) {
            assert.equal(link.connectionState, "connected", `${p.name} → ${peer}`);
            assert.equal(link.localCandidateType, "relay", `${p.name} → ${peer} is not relayed`);
          }
        }
        w.log("every link's local candidate is a relay candidate");

        for (const p of people) {
          await Promise.all(
            people.filter((o) => o !== p).map((o) =>
              framesAdvance(p.page, o.name, { who: `${o.name}'s tile on ${p.name}'s page` })
            ),
          );
          await audioFlows(p.page, { peers: 2, who: p.name });
        }
        w.log("video and audio flow through the relay");

        // coturn agrees: allocations were made with the credentials Mooz issued.
        const log = await turn.log();
        const allocations = log.match(/ALLOCATE processed, success/g)?.length ?? 0;
        assert.ok(allocations >= 3, `coturn logged ${allocations} successful allocations`);
      },
    );
  },
});
