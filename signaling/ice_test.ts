import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import {
  DEFAULT_ICE_CONFIG,
  type IceConfig,
  iceConfigFromEnv,
  iceServersFor,
  turnPassword,
} from "./ice.ts";

function envOf(vars: Record<string, string>): (key: string) => string | undefined {
  return (key) => vars[key];
}

const TURN_ENV = {
  MOOZ_TURN_URLS:
    "turn:turn.example.com:3478?transport=udp, turns:turn.example.com:5349?transport=tcp",
  MOOZ_TURN_SECRET: "north-wind-7",
};

/** coturn's password for a REST username, computed with node:crypto, independently of ice.ts. */
function referencePassword(secret: string, username: string): string {
  return createHmac("sha1", secret).update(username).digest("base64");
}

Deno.test("turnPassword matches a fixed HMAC-SHA1 vector and node:crypto", async () => {
  // RFC 2202 test case 2: HMAC-SHA1("Jefe", "what do ya want for nothing?").
  const rfc2202 = "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79";
  assert.equal(
    await turnPassword("Jefe", "what do ya want for nothing?"),
    btoa(String.fromCharCode(...rfc2202.match(/../g)!.map((h) => parseInt(h, 16)))),
  );
  for (
    const [secret, username] of [
      ["north-wind-7", "1767225600:mooz"],
      ["sécret ünïcode ✓", "1:mooz"],
      ["x".repeat(200), "4102444800:mooz"], // a key longer than SHA-1's block is hashed first
    ]
  ) {
    assert.equal(await turnPassword(secret, username), referencePassword(secret, username));
  }
});

Deno.test("defaults: Google's public STUN, no TURN, policy all", async () => {
  const config = iceConfigFromEnv(envOf({}));
  assert.deepEqual(config, DEFAULT_ICE_CONFIG);
  const now = Date.UTC(2026, 0, 1);
  assert.deepEqual(await iceServersFor(config, now), {
    iceServers: [{ urls: ["stun:stun.l.google.com:19302"] }],
    iceTransportPolicy: "all",
    expiresAt: now + 3600_000,
  });
});

Deno.test("MOOZ_STUN_URLS overrides the STUN list; an empty value means none", async () => {
  const custom = iceConfigFromEnv(
    envOf({ MOOZ_STUN_URLS: " stun:stun.example.org , stun:[2001:db8::1]:3478,," }),
  );
  assert.deepEqual(custom.stunUrls, ["stun:stun.example.org", "stun:[2001:db8::1]:3478"]);
  const none = iceConfigFromEnv(envOf({ MOOZ_STUN_URLS: "" }));
  assert.deepEqual(none.stunUrls, []);
  assert.deepEqual((await iceServersFor(none)).iceServers, []);
});

Deno.test("TURN credentials: username is expiry:mooz and the password is coturn's HMAC", async () => {
  const config = iceConfigFromEnv(envOf({ ...TURN_ENV, MOOZ_TURN_TTL_S: "600" }));
  assert.deepEqual(config.turnUrls, [
    "turn:turn.example.com:3478?transport=udp",
    "turns:turn.example.com:5349?transport=tcp",
  ]);
  assert.equal(config.turnTtlS, 600);
  const now = 1_767_225_600_250; // 2026-01-01T00:00:00.250Z: the fraction is dropped
  const res = await iceServersFor(config, now);
  const expiry = 1_767_225_600 + 600;
  assert.equal(res.expiresAt, expiry * 1000);
  assert.equal(res.iceTransportPolicy, "all");
  assert.deepEqual(res.iceServers, [
    { urls: ["stun:stun.l.google.com:19302"] },
    {
      urls: config.turnUrls,
      username: `${expiry}:mooz`,
      credential: referencePassword("north-wind-7", `${expiry}:mooz`),
    },
  ]);
  // A vector precomputed with Python's hmac module, independent of both implementations.
  assert.equal(
    referencePassword("north-wind-7", "1767226200:mooz"),
    res.iceServers[1].credential,
  );
  assert.equal(res.iceServers[1].credential, "UxzyJl0pJUsJ88ZsEjWkprlDMFs=");
});

Deno.test("expiry: default TTL of an hour, computed from the given clock, never in the past", async () => {
  const config = iceConfigFromEnv(envOf(TURN_ENV));
  assert.equal(config.turnTtlS, 3600);
  for (const now of [0, 999, 1000, 1_700_000_000_999]) {
    const res = await iceServersFor(config, now);
    const expiry = Math.floor(now / 1000) + 3600;
    assert.equal(res.expiresAt, expiry * 1000);
    assert.ok(res.expiresAt > now && res.expiresAt <= now + 3600_000);
    const turn = res.iceServers.find((s) => s.username)!;
    assert.equal(turn.username, `${expiry}:mooz`);
  }
  // Two browsers asking in the same second get the same credentials; a later one, newer ones.
  const a = await iceServersFor(config, 5_000_100);
  const b = await iceServersFor(config, 5_000_900);
  const c = await iceServersFor(config, 5_001_000);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.iceServers[1], c.iceServers[1]);
});

Deno.test("the secret itself never reaches the browser's configuration", async () => {
  const res = await iceServersFor(iceConfigFromEnv(envOf(TURN_ENV)));
  assert.doesNotMatch(JSON.stringify(res), /north-wind-7/);
});

Deno.test("transport policy: relay with TURN; all by default", async () => {
  const relay = iceConfigFromEnv(envOf({ ...TURN_ENV, MOOZ_ICE_TRANSPORT_POLICY: "relay" }));
  assert.equal(relay.transportPolicy, "relay");
  assert.equal((await iceServersFor(relay)).iceTransportPolicy, "relay");
  assert.equal(
    iceConfigFromEnv(envOf({ ...TURN_ENV, MOOZ_ICE_TRANSPORT_POLICY: "all" })).transportPolicy,
    "all",
  );
  assert.equal(
    iceConfigFromEnv(envOf({ MOOZ_ICE_TRANSPORT_POLICY: "" })).transportPolicy,
    "all",
  );
});

Deno.test("malformed settings throw errors that name the variable", () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ MOOZ_TURN_URLS: "turn:turn.example.com" }, /MOOZ_TURN_URLS is set but MOOZ_TURN_SECRET/],
    [{ MOOZ_TURN_SECRET: "s3cret" }, /MOOZ_TURN_SECRET is set but MOOZ_TURN_URLS/],
    [{ ...TURN_ENV, MOOZ_TURN_SECRET: "s3cret\n" }, /MOOZ_TURN_SECRET starts or ends/],
    [{ MOOZ_STUN_URLS: "http://stun.example.com" }, /MOOZ_STUN_URLS has an invalid entry/],
    [{ MOOZ_STUN_URLS: "stun://stun.example.com" }, /MOOZ_STUN_URLS has an invalid entry/],
    [{ MOOZ_STUN_URLS: "stuns:stun.example.com" }, /MOOZ_STUN_URLS has an invalid entry/],
    [{ MOOZ_STUN_URLS: "stun:stun.example.com?transport=udp" }, /MOOZ_STUN_URLS/],
    [{ MOOZ_STUN_URLS: "stun:stun.example.com:70000" }, /MOOZ_STUN_URLS/],
    [{ MOOZ_STUN_URLS: "turn:turn.example.com" }, /MOOZ_STUN_URLS has a turn: URL/],
    [{ ...TURN_ENV, MOOZ_TURN_URLS: "stun:stun.example.com" }, /MOOZ_TURN_URLS has a stun: URL/],
    [{ ...TURN_ENV, MOOZ_TURN_URLS: "https://turn.example.com" }, /MOOZ_TURN_URLS/],
    [{ ...TURN_ENV, MOOZ_TURN_URLS: "turn:turn.example.com?transport=sctp" }, /MOOZ_TURN_URLS/],
    [{ ...TURN_ENV, MOOZ_TURN_URLS: "turn:user@turn.example.com" }, /MOOZ_TURN_URLS/],
    [{ ...TURN_ENV, MOOZ_TURN_TTL_S: "1h" }, /MOOZ_TURN_TTL_S=1h/],
    [{ ...TURN_ENV, MOOZ_TURN_TTL_S: "-5" }, /MOOZ_TURN_TTL_S/],
    [{ ...TURN_ENV, MOOZ_TURN_TTL_S: "1.5" }, /MOOZ_TURN_TTL_S/],
    [{ ...TURN_ENV, MOOZ_TURN_TTL_S: "59" }, /MOOZ_TURN_TTL_S=59.*60 to 604800/],
    [{ ...TURN_ENV, MOOZ_TURN_TTL_S: "604801" }, /MOOZ_TURN_TTL_S/],
    [{ ...TURN_ENV, MOOZ_ICE_TRANSPORT_POLICY: "none" }, /MOOZ_ICE_TRANSPORT_POLICY=none/],
    [{ ...TURN_ENV, MOOZ_ICE_TRANSPORT_POLICY: "RELAY" }, /MOOZ_ICE_TRANSPORT_POLICY/],
    [{ MOOZ_ICE_TRANSPORT_POLICY: "relay" }, /MOOZ_ICE_TRANSPORT_POLICY=relay needs a TURN/],
  ];
  for (const [vars, message] of cases) {
    assert.throws(() => iceConfigFromEnv(envOf(vars)), message, JSON.stringify(vars));
    try {
      iceConfigFromEnv(envOf(vars));
    } catch (e) {
      assert.doesNotMatch(
        (e as Error).message,
        /north-wind-7|s3cret/,
        "an error leaked the secret",
      );
    }
  }
});

Deno.test("accepted URL forms: names, IPv4, [IPv6], ports, transports", () => {
  const config = iceConfigFromEnv(envOf({
    MOOZ_STUN_URLS: "stun:127.0.0.1:3478,stun:stun.example.com",
    MOOZ_TURN_URLS: [
      "turn:turn.example.com",
      "turn:10.0.0.1:3478?transport=tcp",
      "turn:[::1]:3478?transport=udp",
      "turns:turn.example.com:443?transport=tcp",
    ].join(","),
    MOOZ_TURN_SECRET: "x",
    MOOZ_TURN_TTL_S: " 86400 ",
  }));
  assert.equal(config.turnUrls.length, 4);
  assert.equal(config.turnTtlS, 86400);
});

Deno.test("iceServersFor refuses a hand-built config with TURN URLs but no secret", async () => {
  const config: IceConfig = { ...DEFAULT_ICE_CONFIG, turnUrls: ["turn:turn.example.com"] };
  await assert.rejects(iceServersFor(config), /without a secret/);
});
