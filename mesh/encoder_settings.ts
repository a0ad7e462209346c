/**
 * Applies the bandwidth plan (bandwidth.ts) to every link's video senders: bitrate caps,
 * resolution and frame rate from the room size and the measured uplink.
 */
import { planBandwidth, type VideoEncoding } from "./bandwidth.ts";
import type { Links } from "./links.ts";

/** Runs one application at a time: interleaved getParameters/setParameters are refused. */
export class EncoderSettings {
  #busy = false;

  constructor(readonly links: Links) {}

  /** Re-plans and applies; a call while one is running is dropped (the next round catches up). */
  async apply(sharing: boolean): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      await this.#apply(sharing);
    } finally {
      this.#busy = false;
    }
  }

  async #apply(sharing: boolean): Promise<void> {
    const records = [...this.links.values()];
    if (records.length === 0) return;
    const plan = planBandwidth({
      peers: records.length,
      estimates: records.map((r) => r.quality.outgoingBitrate),
      sharing,
    });
    for (const { link } of records) {
      if (link.negotiating) continue; // mid-negotiation: next round
      await setEncoding(link.cameraSender, plan.camera);
      if (plan.screen) await setEncoding(link.screenSender, plan.screen);
    }
  }
}

async function setEncoding(sender: RTCRtpSender | null, e: VideoEncoding): Promise<void> {
  if (!sender?.track) return;
  const params = sender.getParameters();
  if (!params.encodings?.length) return; // before negotiation: applied on the next round
  const enc = params.encodings[0];
  if (
    enc.maxBitrate === e.maxBitrate && enc.scaleResolutionDownBy === e.scaleResolutionDownBy &&
    enc.maxFramerate === e.maxFramerate
  ) return;
  Object.assign(enc, e);
  try {
    await sender.setParameters(params);
  } catch (err) {
    console.warn("Setting video encoding failed:", err);
  }
}
