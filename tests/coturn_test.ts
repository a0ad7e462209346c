/**
 * The TURN credentials Mooz issues (signaling/ice.ts) against a real coturn on 127.0.0.1: first
 * with a small TURN client here (runs anywhere), then in real Chromium, which must relay a data
 * channel through coturn. The browser tests need a private network namespace with only loopback
 * (WebRTC must never reach another address); outside one they are skipped with a message. Run:
 *
 *   unshare -rn sh -c 'ip link set lo up && deno test -A tests/coturn_test.ts'
 */
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import type { Page } from "playwright-core";
import { type IceConfig, iceServersFor } from "../signaling/ice.ts";
import { launchBrowser, onlyLoopback, WEBRTC_LOOPBACK } from "./chromium.ts";
import { startCoturn, stunBindingOverTcp, type TurnServer } from "./coturn.ts";

function configFor(turn: TurnServer, secret = turn.secret): IceConfig {
  return {
    stunUrls: [],
    turnUrls: [turn.url],
    turnSecret: secret,
    turnTtlS: 600,
    transportPolicy: "relay",
  };
}

async function issued(turn: TurnServer, secret?: string, now?: number) {
  const res = await iceServersFor(configFor(turn, secret), now);
  const server = res.iceServers.find((s) => s.username)!;
  return { res, username: server.username!, credential: server.credential as string };
}

// --- A minimal TURN client (RFC 5766 Allocate with the long-term credential mechanism) --------

const COOKIE = 0x2112a442;
const enc = new TextEncoder();

function attribute(type: number, value: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + Math.ceil(value.length / 4) * 4);
  const view = new DataView(out.buffer);
  view.setUint16(0, type);
  view.setUint16(2, value.length);
  out.set(value, 4);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function allocateRequest(auth?: { username: string; realm: string; nonce: string; key: Buffer }) {
  const header = new Uint8Array(20);
  const view = new DataView(header.buffer);
  view.setUint16(0, 0x0003); // Allocate request
  view.setUint32(4, COOKIE);
  crypto.getRandomValues(header.subarray(8));
  const attrs = [attribute(0x0019, new Uint8Array([17, 0, 0, 0]))]; // REQUESTED-TRANSPORT: UDP
  if (auth) {
    attrs.push(attribute(0x0006, enc.encode(auth.username)));
    attrs.push(attribute(0x0014, enc.encode(auth.realm)));
    attrs.push(attribute(0x0015, enc.encode(auth.nonce)));
  }
  let body = concat(attrs);
  if (auth) {
    // MESSAGE-INTEGRITY: HMAC-SHA1 over the message whose length already counts the attribute.
    view.setUint16(2, body.length + 24);
    const mac = createHmac("sha1", auth.key).update(concat([header, body])).digest();
    body = concat([body, attribute(0x0008, new Uint8Array(mac))]);
  }
  view.setUint16(2, body.length);
  return concat([header, body]);
}

interface StunResponse {
  type: number;
  attrs: Map<number, Uint8Array>;
}

async function readResponse(conn: Deno.TcpConn): Promise<StunResponse> {
  const read = async (n: number) => {
    const buf = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const r = await conn.read(buf.subarray(got));
      if (r === null) throw new Error("the TURN server closed the connection");
      got += r;
    }
    return buf;
  };
  const header = await read(20);
  const hv = new DataView(header.buffer);
  const body = await read(hv.getUint16(2));
  const attrs = new Map<number, Uint8Array>();
  for (let at = 0; at + 4 <= body.length;) {
    const type = new DataView(body.buffer).getUint16(at);
    const len = new DataView(body.buffer).getUint16(at + 2);
    attrs.set(type, body.subarray(at + 4, at + 4 + len));
    at += 4 + Math.ceil(len / 4) * 4;
  }
  return { type: hv.getUint16(0), attrs };
}

/** Allocates a UDP relay over TCP: the relayed address, or the error code coturn answered. */
async function turnAllocate(
  port: number,
  username: string,
  password: string,
): Promise<{ relayed: string } | { error: number }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(allocateRequest());
    const challenge = await readResponse(conn);
    assert.equal(challenge.type, 0x0113, "an unauthenticated Allocate must be challenged");
    const dec = new TextDecoder();
    const realm = dec.decode(challenge.attrs.get(0x0014));
    const nonce = dec.decode(challenge.attrs.get(0x0015));
    const key = createHash("md5").update(`${username}:${realm}:${password}`).digest();
    await conn.write(allocateRequest({ username, realm, nonce, key }));
    const res = await readResponse(conn);
    if (res.type === 0x0113) {
      const code = res.attrs.get(0x0009)!;
      return { error: (code[2] & 7) * 100 + code[3] };
    }
    assert.equal(res.type, 0x0103, `unexpected response type 0x${res.type.toString(16)}`);
    const xor = res.attrs.get(0x0016)!; // XOR-RELAYED-ADDRESS (IPv4)
    const v = new DataView(xor.buffer, xor.byteOffset);
    const relayPort = v.getUint16(2) ^ (COOKIE >>> 16);
    const ip = (v.getUint32(4) ^ COOKIE) >>> 0;
    return {
      relayed: `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}:${relayPort}`,
    };
  } finally {
    conn.close();
  }
}

Deno.test("coturn helper: a fresh server on a loopback port answers STUN and stops", async () => {
  let port: number;
  {
    await using turn = await startCoturn();
    port = turn.port;
    assert.match(turn.url, /^turn:127\.0\.0\.1:\d+\?transport=udp$/);
    assert.equal(turn.secret.length, 36);
    assert.ok(await stunBindingOverTcp(turn.port));
    assert.match(await turn.log(), /Default realm: mooz\.test/);
  }
  assert.equal(await stunBindingOverTcp(port, 300), false, "the server still answers after stop()");
});

Deno.test("coturn allocates a relay with issued credentials; refuses wrong and expired ones", async () => {
  await using turn = await startCoturn();
  const good = await issued(turn);
  const relay = await turnAllocate(turn.port, good.username, good.credential);
  assert.ok("relayed" in relay, `allocation refused: ${JSON.stringify(relay)}`);
  assert.match(relay.relayed, /^127\.0\.0\.1:\d+$/);

  const wrong = await issued(turn, "not-the-secret");
  assert.deepEqual(await turnAllocate(turn.port, wrong.username, wrong.credential), { error: 401 });

  // Credentials issued 20 minutes ago with a 10-minute TTL: valid HMAC, expired timestamp.
  const expired = await issued(turn, undefined, Date.now() - 20 * 60_000);
  assert.deepEqual(await turnAllocate(turn.port, expired.username, expired.credential), {
    error: 401,
  });

  const log = await turn.log();
  assert.match(
    log,
    new RegExp(`user <${good.username}>: incoming packet ALLOCATE processed, success`),
  );
});

// --- Real Chromium ------------------------------------------------------------------------------

const isolated = onlyLoopback();
if (!isolated) {
  console.warn(
    "coturn_test.ts: skipping the Chromium TURN tests: they must run in a private network " +
      "namespace with only loopback, e.g. `unshare -rn sh -c 'ip link set lo up && deno test -A " +
      "tests/coturn_test.ts'` (as root), so that WebRTC never reaches another address.",
  );
}

interface PageResult {
  candidates: string[];
  errors: { code: number; text: string; url: string }[];
  message: string | null;
  localType: string | null;
  remoteType: string | null;
  failure: string | null;
}

/**
 * Two RTCPeerConnections in the page with `config`: gathers candidates (no trickle), and when
 * `connect` is set, opens a data channel, sends a message and reads the selected candidate pair.
 */
function peersInPage(page: Page, config: RTCConfiguration, connect: boolean) {
  return page.evaluate(async ({ config, connect }): Promise<PageResult> => {
    const timeoutMs = 15_000;
    const within = <T>(p: Promise<T>, what: string) =>
      Promise.race([
        p,
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error(`timed out: ${what}`)), timeoutMs)
        ),
      ]);
    // As in a meeting, the page holds media permission first: without it Chromium gathers on
    // wildcard "any address" networks only, and in a loopback-only namespace those never report
    // gathering complete. With it, it gathers on the loopback network (allowed by the flag).
    const media = await navigator.mediaDevices.getUserMedia({ audio: true });
    for (const track of media.getTracks()) track.stop();
    const a = new RTCPeerConnection(config);
    const b = new RTCPeerConnection(config);
    const result: PageResult = {
      candidates: [],
      errors: [],
      message: null,
      localType: null,
      remoteType: null,
      failure: null,
    };
    for (const pc of [a, b]) {
      pc.addEventListener("icecandidate", (e) => {
        if (e.candidate?.candidate) result.candidates.push(e.candidate.candidate);
      });
      pc.addEventListener("icecandidateerror", (e) => {
        const err = e as RTCPeerConnectionIceErrorEvent;
        result.errors.push({ code: err.errorCode, text: err.errorText, url: err.url });
      });
    }
    const gathered = (pc: RTCPeerConnection) =>
      within(
        new Promise<void>((resolve) => {
          if (pc.iceGatheringState === "complete") return resolve();
          pc.addEventListener("icegatheringstatechange", () => {
            if (pc.iceGatheringState === "complete") resolve();
          });
        }),
        "ICE gathering",
      );
    const channel = a.createDataChannel("probe");
    const opened = new Promise((resolve) => channel.addEventListener("open", resolve));
    const received = new Promise<string>((resolve) =>
      b.addEventListener(
        "datachannel",
        (e) => e.channel.addEventListener("message", (m) => resolve(m.data)),
      )
    );
    try {
      await a.setLocalDescription();
      await gathered(a);
      if (!connect) return result;
      await b.setRemoteDescription(a.localDescription!);
      await b.setLocalDescription();
      await gathered(b);
      await a.setRemoteDescription(b.localDescription!);
      await within(opened, "data channel open");
      channel.send("hello through TURN");
      result.message = await within(received, "message");

      const stats = [...(await a.getStats()).values()];
      const transport = stats.find((s) => s.type === "transport" && s.selectedCandidatePairId);
      const pair = stats.find((s) => s.id === transport?.selectedCandidatePairId);
      result.localType = stats.find((s) => s.id === pair?.localCandidateId)?.candidateType ?? null;
      result.remoteType = stats.find((s) => s.id === pair?.remoteCandidateId)?.candidateType ??
        null;
    } catch (e) {
      result.failure = String(e);
    } finally {
      a.close();
      b.close();
    }
    return result;
  }, { config, connect });
}

/**
 * A tiny page on 127.0.0.1 (a secure context), in Chromium allowed to use loopback for WebRTC and
 * given a fake microphone (granted without a prompt).
 */
async function withLoopbackPage(fn: (page: Page) => Promise<void>) {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () =>
      new Response("<!doctype html><title>TURN test</title>", {
        headers: { "Content-Type": "text/html" },
      }),
  );
  const browser = await launchBrowser(WEBRTC_LOOPBACK);
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${server.addr.port}/`);
    await fn(page);
  } finally {
    await browser.close();
    await server.shutdown();
  }
}

Deno.test({
  name: "Chromium relays a data channel through coturn with the credentials iceServersFor issues",
  ignore: !isolated,
  async fn() {
    await using turn = await startCoturn();
    const { res, username } = await issued(turn);
    assert.equal(res.iceTransportPolicy, "relay");
    await withLoopbackPage(async (page) => {
      const result = await peersInPage(page, {
        iceServers: res.iceServers,
        iceTransportPolicy: res.iceTransportPolicy,
      }, true);
      const detail = `${JSON.stringify(result, null, 2)}\n--- coturn log ---\n${
        (await turn.log()).slice(-3000)
      }`;
      assert.equal(result.failure, null, detail);
      assert.equal(result.message, "hello through TURN", detail);
      assert.equal(result.localType, "relay", detail);
      assert.equal(result.remoteType, "relay", detail);
      assert.ok(result.candidates.length >= 2, detail);
      for (const c of result.candidates) assert.match(c, / 127\.0\.0\.1 \d+ typ relay /, detail);
    });
    // coturn's side: our username allocated, and permissions for the peer were set up.
    const log = await turn.log();
    assert.match(
      log,
      new RegExp(`user <${username}>: incoming packet ALLOCATE processed, success`),
    );
    assert.match(
      log,
      new RegExp(`user <${username}>: incoming packet CREATE_PERMISSION processed, success`),
    );
  },
});

Deno.test({
  name: "Chromium gets no relay candidate from coturn with a wrong secret or expired credentials",
  ignore: !isolated,
  async fn() {
    await using turn = await startCoturn();
    const wrong = await issued(turn, "not-the-secret");
    const expired = await issued(turn, undefined, Date.now() - 20 * 60_000);
    await withLoopbackPage(async (page) => {
      for (const { res } of [wrong, expired]) {
        const result = await peersInPage(page, {
          iceServers: res.iceServers,
          iceTransportPolicy: "relay",
        }, false);
        const detail = JSON.stringify(result, null, 2);
        assert.equal(result.failure, null, detail);
        assert.deepEqual(result.candidates, [], detail);
        assert.ok(result.errors.some((e) => e.code === 401), detail);
      }
    });
    const log = await turn.log();
    assert.match(log, new RegExp(`user <${wrong.username}>: .*error 401`));
    assert.doesNotMatch(log, /ALLOCATE processed, success/);
  },
});
