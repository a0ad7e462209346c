import assert from "node:assert/strict";
import { configFromEnv, DEFAULTS } from "./config.ts";
import { MAX_CAPACITY } from "./limits.ts";

const envOf = (vars: Record<string, string>) => (key: string) => vars[key];

Deno.test("configFromEnv: no variables give the defaults", () => {
  assert.deepEqual(configFromEnv(envOf({})), DEFAULTS);
  assert.deepEqual(configFromEnv(envOf({ MOOZ_ROOM_CAPACITY: "" })), DEFAULTS);
});

Deno.test("configFromEnv: reads every variable", () => {
  const config = configFromEnv(envOf({
    MOOZ_KV: ":memory:",
    MOOZ_ROOM_CAPACITY: String(MAX_CAPACITY),
    MOOZ_RESUME_GRACE_MS: "0",
    MOOZ_HEARTBEAT_MS: "100",
    MOOZ_HEARTBEAT_TIMEOUT_MS: "200",
    MOOZ_LINK_DEADLINE_MS: "100",
    MOOZ_ALLOWED_ORIGINS: " https://a.example/ ,HTTPS://B.example:443,http://c.example:8000",
    MOOZ_WS_IDLE_TIMEOUT_S: "2",
    MOOZ_INBOX_POLL_MS: "10",
    MOOZ_BUS_MAX_QUEUED_BYTES: String(512 * 1024),
    MOOZ_CLIENT_MAX_SOCKETS: "1",
    MOOZ_CLIENT_JOINS_PER_MIN: "2",
    MOOZ_CLIENT_ROOMS_PER_MIN: "3",
    MOOZ_CLIENT_MESSAGES_PER_S: "50",
    MOOZ_TRUST_PROXY: "2",
    MOOZ_HOST_FALLBACK: "lock",
  }));
  assert.deepEqual(config, {
    kv: ":memory:",
    capacity: MAX_CAPACITY,
    graceMs: 0,
    heartbeatMs: 100,
    heartbeatTimeoutMs: 200,
    linkDeadlineMs: 100,
    allowedOrigins: ["https://a.example", "https://b.example", "http://c.example:8000"],
    idleTimeoutS: 2,
    inboxPollMs: 10,
    busMaxQueuedBytes: 512 * 1024,
    clientMaxSockets: 1,
    clientJoinsPerMin: 2,
    clientRoomsPerMin: 3,
    clientMessagesPerS: 50,
    trustProxy: 2,
    hostFallback: "lock",
  });
});

Deno.test("configFromEnv: a bad value names its variable and the accepted range", () => {
  const cases: [string, string, RegExp][] = [
    ["MOOZ_ROOM_CAPACITY", "1", /MOOZ_ROOM_CAPACITY=1 .* from 2 to 64/],
    ["MOOZ_ROOM_CAPACITY", String(MAX_CAPACITY + 1), /from 2 to 64/],
    ["MOOZ_ROOM_CAPACITY", "8.5", /whole number/],
    ["MOOZ_HEARTBEAT_MS", "99", /MOOZ_HEARTBEAT_MS=99 .* at least 100/],
    ["MOOZ_RESUME_GRACE_MS", "soon", /MOOZ_RESUME_GRACE_MS=soon/],
    ["MOOZ_CLIENT_MAX_SOCKETS", "0", /MOOZ_CLIENT_MAX_SOCKETS=0 .* at least 1/],
    ["MOOZ_CLIENT_JOINS_PER_MIN", "0", /MOOZ_CLIENT_JOINS_PER_MIN=0 .* at least 1/],
    ["MOOZ_CLIENT_ROOMS_PER_MIN", "-1", /MOOZ_CLIENT_ROOMS_PER_MIN=-1 .* at least 1/],
    // Below one socket's own rate: a single well-behaved client would be held back.
    ["MOOZ_CLIENT_MESSAGES_PER_S", "49", /MOOZ_CLIENT_MESSAGES_PER_S=49 .* at least 50/],
    ["MOOZ_TRUST_PROXY", "yes", /MOOZ_TRUST_PROXY=yes .* at least 0/],
    ["MOOZ_ALLOWED_ORIGINS", "meet.example", /"meet.example" is not an origin.*https:\/\/meet/],
    ["MOOZ_ALLOWED_ORIGINS", "https://a.example/app", /"https:\/\/a.example\/app" is not/],
    ["MOOZ_HOST_FALLBACK", "newest", /MOOZ_HOST_FALLBACK=newest .*"oldest".*"lock"/],
    ["MOOZ_HOST_FALLBACK", "none", /MOOZ_HOST_FALLBACK=none is not valid/],
  ];
  for (const [key, value, message] of cases) {
    assert.throws(() => configFromEnv(envOf({ [key]: value })), message, `${key}=${value}`);
  }
});

Deno.test("configFromEnv: the per-client limits default to values no real user meets", () => {
  const config = configFromEnv(envOf({}));
  // A NAT'd office of 50 in meetings at once, each with a spare tab now and then.
  assert.ok(config.clientMaxSockets >= 50);
  // Those 50 joining on the hour, with a retry each.
  assert.ok(config.clientJoinsPerMin >= 100);
  assert.ok(config.clientRoomsPerMin >= 10);
  // Several busy clients at one socket's full rate (50 a second).
  assert.ok(config.clientMessagesPerS >= 4 * 50);
  assert.equal(config.trustProxy, 0, "forwarded headers are never believed by default");
});

Deno.test("configFromEnv: MOOZ_HOST_FALLBACK is oldest by default; case and spaces do not matter", () => {
  assert.equal(configFromEnv(envOf({})).hostFallback, "oldest");
  assert.equal(configFromEnv(envOf({ MOOZ_HOST_FALLBACK: "" })).hostFallback, "oldest");
  assert.equal(configFromEnv(envOf({ MOOZ_HOST_FALLBACK: "oldest" })).hostFallback, "oldest");
  assert.equal(configFromEnv(envOf({ MOOZ_HOST_FALLBACK: " Lock " })).hostFallback, "lock");
});
