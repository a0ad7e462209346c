/**
 * PeerLink in real Chromium: two links in one page, wired through an in-page "signaling server"
 * that delays and reorders nothing but can hold messages back, so negotiation is exercised for
 * real (glare, early candidates, renegotiation) without a server.
 */
import assert from "node:assert/strict";
import * as esbuild from "esbuild";
import { launchBrowser } from "../tests/browser.ts";

const ROOT = new URL("..", import.meta.url).pathname;

async function bundle(): Promise<string> {
  const result = await esbuild.build({
    stdin: {
      contents: `import { PeerLink } from "./mesh/peer.ts"; globalThis.PeerLink = PeerLink;`,
      resolveDir: ROOT,
      loader: "ts",
    },
    bundle: true,
    format: "iife",
    write: false,
    absWorkingDir: ROOT,
  });
  await esbuild.stop();
  return result.outputFiles[0].text;
}

const SOURCE = await bundle();

/** Runs `fn` in a page that has PeerLink, fake media and loopback networking. */
async function inPage<T>(fn: string): Promise<T> {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () =>
      new Response("<!doctype html><title>t</title>", { headers: { "content-type": "text/html" } }),
  );
  const browser = await launchBrowser([
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
  ]);
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`http://127.0.0.1:${server.addr.port}/`);
    await page.evaluate(SOURCE);
    const result = await page.evaluate(fn) as T;
    assert.deepEqual(errors, []);
    return result;
  } finally {
    await browser.close();
    await server.shutdown();
  }
}

const onlyLoopback = async () => {
  const out = await new Deno.Command("ip", { args: ["-o", "addr"] }).output().catch(() => null);
  return out !== null && new TextDecoder().decode(out.stdout).split("\n").filter(Boolean)
    .every((l) => / lo /.test(l));
};
const ignore = !(await onlyLoopback());
if (ignore) {
  console.warn("PeerLink browser tests need a loopback-only network namespace (see tests/run.ts).");
}

/** Page code: two links A and B, signals passed in order with a macrotask hop. */
const SETUP = `
  const media = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 320, height: 240 } });
  const wait = (cond, ms = 15000) => new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = () => cond() ? resolve(true) : Date.now() - t0 > ms ? reject(new Error("timeout: " + cond)) : setTimeout(tick, 20);
    tick();
  });
  const log = { offers: { a: 0, b: 0 }, streams: { a: [], b: [] }, messages: { a: [], b: [] } };
  const make = (self, remote, side) => new PeerLink({
    self, remote, rtc: {}, local: { stream: media, audio: media.getAudioTracks()[0], video: media.getVideoTracks()[0] },
    send: (p) => { if (p.description?.type === "offer") log.offers[side]++; setTimeout(() => links[side === "a" ? "b" : "a"].receive(p), 0); },
    onState: () => {}, onStream: (s) => log.streams[side].push(s), onMessage: (m) => log.messages[side].push(m), onChannelOpen: () => {},
  });
  const links = {};
  links.a = make("aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb", "a");
  links.b = make("bbbbbbbbbbbbbbbb", "aaaaaaaaaaaaaaaa", "b");
  const { a, b } = links;
`;

Deno.test({
  name: "two PeerLinks connect, open the data channel and exchange camera media",
  ignore,
  async fn() {
    const result = await inPage<Record<string, unknown>>(`(async () => {
      ${SETUP}
      await wait(() => a.state === "connected" && b.state === "connected");
      await wait(() => a.channelOpen && b.channelOpen);
      a.sendMessage({ t: "history-request" });
      await wait(() => log.messages.b.length === 1);
      await wait(() => log.streams.a.length > 0 && log.streams.b.length > 0);
      return { polite: [a.polite, b.polite], streamA: log.streams.a[0].id, streamB: log.streams.b[0].id, mine: media.id,
        transceivers: [a.pc.getTransceivers().length, b.pc.getTransceivers().length] };
    })()`);
    assert.deepEqual(result.polite, [true, false]);
    // Each side sees the other's camera stream under the sender's stream id.
    assert.equal(result.streamA, result.mine);
    assert.equal(result.streamB, result.mine);
    // One audio and one video transceiver carry both directions: no duplicate m-lines.
    assert.deepEqual(result.transceivers, [2, 2]);
  },
});
