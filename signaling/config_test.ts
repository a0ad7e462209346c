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
    MOOZ_ALLOWED_ORIGINS: " https://a.example/ ,https://b.example,",
    MOOZ_WS_IDLE_TIMEOUT_S: "2",
    MOOZ_INBOX_POLL_MS: "10",
  }));
  assert.deepEqual(config, {
    kv: ":memory:",
    capacity: MAX_CAPACITY,
    graceMs: 0,
    heartbeatMs: 100,
    heartbeatTimeoutMs: 200,
    linkDeadlineMs: 100,
    allowedOrigins: ["https://a.example", "https://b.example"],
    idleTimeoutS: 2,
    inboxPollMs: 10,
  });
});

Deno.test("configFromEnv: a bad value names its variable and the accepted range", () => {
  const cases: [string, string, RegExp][] = [
    ["MOOZ_ROOM_CAPACITY", "1", /MOOZ_ROOM_CAPACITY=1 .* from 2 to 64/],
    ["MOOZ_ROOM_CAPACITY", String(MAX_CAPACITY + 1), /from 2 to 64/],
    ["MOOZ_ROOM_CAPACITY", "8.5", /whole number/],
    ["MOOZ_HEARTBEAT_MS", "99", /MOOZ_HEARTBEAT_MS=99 .* at least 100/],
    ["MOOZ_RESUME_GRACE_MS", "soon", /MOOZ_RESUME_GRACE_MS=soon/],
  ];
  for (const [key, value, message] of cases) {
    assert.throws(() => configFromEnv(envOf({ [key]: value })), message, `${key}=${value}`);
  }
});
