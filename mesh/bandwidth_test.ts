import assert from "node:assert/strict";
import {
  AUDIO_PER_PEER,
  type BandwidthPlan,
  CAMERA_FLOOR,
  CAMERA_MAX,
  DEFAULT_UPLINK,
  MEDIA_SHARE,
  planBandwidth,
  SCREEN_FLOOR,
  SCREEN_MAX,
  THUMBNAIL_MAX,
  uplinkBudget,
} from "./bandwidth.ts";

/** A meeting of `participants` people, us included. */
const plan = (participants: number, estimate: number | null = null, sharing = false) =>
  planBandwidth({
    peers: participants - 1,
    estimates: Array(participants - 1).fill(estimate),
    sharing,
  });

const perPeerVideo = (p: BandwidthPlan) => p.camera.maxBitrate + (p.screen?.maxBitrate ?? 0);

const PARTICIPANTS = [2, 3, 4, 5, 6, 7, 8];
const ESTIMATES = [null, 150_000, 300_000, 333_333, 600_000, 1_000_000, 3_000_000, 20_000_000];

Deno.test("budget: default when nothing is known, median share × peers otherwise", () => {
  assert.equal(uplinkBudget(5, []), DEFAULT_UPLINK);
  assert.equal(uplinkBudget(5, [null, null]), DEFAULT_UPLINK);
  assert.equal(uplinkBudget(5, [0, -1, Number.NaN, Infinity]), DEFAULT_UPLINK);
  assert.equal(uplinkBudget(3, [600_000, null, null]), 1_800_000);
  // One peer with a poor downlink does not set everyone's budget; nor does one overshoot.
  assert.equal(uplinkBudget(5, [100_000, 800_000, 900_000, 1_000_000, 9_000_000]), 4_500_000);
  assert.equal(uplinkBudget(4, [100_000, 800_000, 1_000_000, 9_000_000]), 3_600_000);
});

Deno.test("a 6-person meeting stays under 2.5 Mbit/s by default", () => {
  for (const sharing of [false, true]) {
    const p = plan(6, null, sharing);
    assert.ok(p.totalBitrate <= 2_500_000, `${p.totalBitrate} with sharing=${sharing}`);
    assert.ok(p.totalBitrate >= 1_500_000, "but does not waste most of it");
  }
});

Deno.test("2..8 participants: total never exceeds the media share of the budget", () => {
  for (const participants of PARTICIPANTS) {
    for (const estimate of ESTIMATES) {
      for (const sharing of [false, true]) {
        const p = plan(participants, estimate, sharing);
        const peers = participants - 1;
        // Floors win over a budget too small to carry them (checked separately below).
        const floors = sharing ? CAMERA_FLOOR + SCREEN_FLOOR : CAMERA_FLOOR;
        if ((p.uplink * MEDIA_SHARE) / peers < floors + AUDIO_PER_PEER) continue;
        assert.ok(
          p.totalBitrate <= p.uplink * MEDIA_SHARE,
          `${participants} people, estimate ${estimate}, sharing ${sharing}: ` +
            `${p.totalBitrate} > 80% of ${p.uplink}`,
        );
        assert.equal(p.totalBitrate, peers * (perPeerVideo(p) + AUDIO_PER_PEER));
        assert.ok(Number.isInteger(p.camera.maxBitrate) && Number.isInteger(perPeerVideo(p)));
      }
    }
  }
});

Deno.test("more peers never means more bitrate per peer", () => {
  for (const estimate of ESTIMATES) {
    for (const sharing of [false, true]) {
      let previous = plan(PARTICIPANTS[0], estimate, sharing);
      for (const participants of PARTICIPANTS.slice(1)) {
        const p = plan(participants, estimate, sharing);
        const where = `${participants} people, estimate ${estimate}, sharing ${sharing}`;
        assert.ok(p.camera.maxBitrate <= previous.camera.maxBitrate, where);
        assert.ok((p.screen?.maxBitrate ?? 0) <= (previous.screen?.maxBitrate ?? 0), where);
        previous = p;
      }
    }
  }
  // And by default, where the budget is fixed, it strictly drops until the floor.
  assert.ok(plan(3).camera.maxBitrate < plan(2).camera.maxBitrate);
  assert.ok(plan(8).camera.maxBitrate < plan(5).camera.maxBitrate);
});

Deno.test("lower estimates never mean more bitrate, resolution or frame rate", () => {
  for (const participants of PARTICIPANTS) {
    let previous = plan(participants, ESTIMATES[ESTIMATES.length - 1]).camera;
    for (const estimate of [...ESTIMATES.slice(1)].reverse()) {
      const { camera } = plan(participants, estimate);
      assert.ok(camera.maxBitrate <= previous.maxBitrate);
      assert.ok(camera.scaleResolutionDownBy >= previous.scaleResolutionDownBy);
      assert.ok(camera.maxFramerate <= previous.maxFramerate);
      previous = camera;
    }
  }
});

Deno.test("camera tiers follow the per-peer bitrate", () => {
  // estimate e per link -> per-peer video 0.8 e - 40k.
  const tier = (estimate: number) => {
    const { camera } = plan(4, estimate);
    return [camera.scaleResolutionDownBy, camera.maxFramerate];
  };
  assert.deepEqual(tier(1_550_000), [1, 30]); // 1.2M
  assert.deepEqual(tier(1_540_000), [1.5, 30]);
  assert.deepEqual(tier(800_000), [1.5, 30]); // 600k
  assert.deepEqual(tier(790_000), [2, 30]);
  assert.deepEqual(tier(425_000), [2, 30]); // 300k
  assert.deepEqual(tier(420_000), [4, 15]);
  assert.deepEqual(tier(237_500), [4, 15]); // 150k
  assert.deepEqual(tier(230_000), [4, 10]);
  assert.equal(plan(4, 1_550_000).camera.maxBitrate, 1_200_000);
});

Deno.test("two people on a good uplink get 720p30, capped where it stops helping", () => {
  assert.deepEqual(plan(2).camera, {
    maxBitrate: CAMERA_MAX,
    scaleResolutionDownBy: 1,
    maxFramerate: 30,
  });
  assert.equal(plan(2, 50_000_000).camera.maxBitrate, CAMERA_MAX);
});

Deno.test("floors hold even when the budget cannot carry them", () => {
  for (const participants of PARTICIPANTS) {
    const p = plan(participants, 50_000);
    assert.deepEqual(p.camera, {
      maxBitrate: CAMERA_FLOOR,
      scaleResolutionDownBy: 4,
      maxFramerate: 10,
    });
    const s = plan(participants, 50_000, true);
    assert.equal(s.camera.maxBitrate, CAMERA_FLOOR);
    assert.deepEqual(s.screen, {
      maxBitrate: SCREEN_FLOOR,
      scaleResolutionDownBy: 1,
      maxFramerate: 5,
    });
  }
});

Deno.test("sharing shifts the budget to the screen and makes the camera a thumbnail", () => {
  for (const participants of PARTICIPANTS) {
    for (const estimate of ESTIMATES) {
      const camOnly = plan(participants, estimate);
      const shared = plan(participants, estimate, true);
      assert.ok(shared.screen);
      assert.ok(shared.screen.maxBitrate > shared.camera.maxBitrate);
      assert.ok(shared.camera.maxBitrate <= THUMBNAIL_MAX);
      assert.ok(shared.camera.maxBitrate <= camOnly.camera.maxBitrate);
      assert.equal(shared.camera.scaleResolutionDownBy, 4);
      // Text needs every pixel; motion can wait.
      assert.equal(shared.screen.scaleResolutionDownBy, 1);
      assert.ok(shared.screen.maxFramerate >= 5 && shared.screen.maxFramerate <= 15);
      assert.ok(shared.screen.maxBitrate <= SCREEN_MAX);
    }
  }
  assert.equal(plan(2, null, true).screen?.maxFramerate, 15);
  assert.equal(plan(6, null, true).screen?.maxFramerate, 5);
  assert.equal(plan(3, null, true).screen?.maxFramerate, 10);
  assert.equal(plan(3, null, false).screen, null);
});

Deno.test("no peers: nothing is sent, encodings are ready for the first one", () => {
  const p = planBandwidth({ peers: 0, estimates: [], sharing: false });
  assert.equal(p.totalBitrate, 0);
  assert.deepEqual(p.camera, plan(2).camera);
});
