/**
 * The signaling routes of the real app (manifest, config, routes), served on 127.0.0.1: the
 * WebSocket endpoint, /healthz and /metrics, with the hub the routes create from the environment.
 */
import assert from "node:assert/strict";
import config from "../fresh.config.ts";
import manifest from "../fresh.gen.ts";
import { createApp } from "../framework/server.ts";
import { stopHub } from "../signaling/hub_singleton.ts";
import { PEER_ID_PATTERN } from "../signaling/protocol.ts";
import { newRoomId } from "../signaling/room_id.ts";
import { join } from "../signaling/testing.ts";

// Before the first request creates the hub: a throwaway store, not the developer's default file.
Deno.env.set("MOOZ_KV", ":memory:");

Deno.test("signaling routes through the real app", async (t) => {
  const app = await createApp(manifest, config, { buildIfStale: true });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.handler);
  const origin = `http://127.0.0.1:${server.addr.port}`;
  const wsUrl = (room: string) => `ws://127.0.0.1:${server.addr.port}/api/rooms/${room}/ws`;
  let isolate = "";
  try {
    await t.step("/api/rooms/{room}/ws upgrades and joins", async () => {
      const room = newRoomId();
      await using a = await join(wsUrl(room), "Ada", { origin });
      await using b = await join(wsUrl(room), "Bob");
      assert.match(a.peer, PEER_ID_PATTERN);
      assert.equal(a.welcome.room.id, room);
      assert.deepEqual(b.welcome.members.map((m) => m.name), ["Ada", "Bob"]);
      a.socket.send({ type: "signal", to: b.peer, payload: { hello: "through the app" } });
      assert.deepEqual((await b.socket.next("signal")).payload, { hello: "through the app" });
    });

    await t.step("a malformed room id is a 404 with a JSON error", async () => {
      for (const room of ["not-a-room", "K3FQ-9XMP-2HDW-7RTC-A4ZE", "k3fq9xmp2hdw7rtca4ze"]) {
        const res = await fetch(`${origin}/api/rooms/${room}/ws`, {
          headers: { upgrade: "websocket" },
        });
        assert.equal(res.status, 404, room);
        assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
        assert.equal((await res.json()).error, "bad-room");
      }
    });

    await t.step("a GET without upgrade is 426", async () => {
      const res = await fetch(`${origin}/api/rooms/${newRoomId()}/ws`);
      assert.equal(res.status, 426);
      assert.equal((await res.json()).error, "upgrade-required");
    });

    await t.step("a cross-site origin is 403", async () => {
      const res = await fetch(`${origin}/api/rooms/${newRoomId()}/ws`, {
        headers: {
          upgrade: "websocket",
          connection: "Upgrade",
          "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
          "sec-websocket-version": "13",
          origin: "https://evil.example",
        },
      });
      assert.equal(res.status, 403);
      assert.equal((await res.json()).error, "bad-origin");
    });

    await t.step("/healthz is 200 JSON with ok and the isolate", async () => {
      const res = await fetch(`${origin}/healthz`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("cache-control"), "no-store");
      const body = await res.json();
      assert.equal(body.ok, true);
      assert.equal(typeof body.isolate, "string");
      assert.ok(body.isolate.length > 0);
      isolate = body.isolate;
    });

    await t.step("/metrics is Prometheus text with rooms, joins and rejected inputs", async () => {
      // One bad frame, so the rejected counter has a row.
      await using a = await join(wsUrl(newRoomId()), "Ada");
      a.socket.send("{not json");
      assert.equal((await a.socket.next("error")).code, "bad-json");

      const res = await fetch(`${origin}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      const value = (line: RegExp) => {
        const m = text.match(line);
        assert.ok(m, `no line matching ${line} in:\n${text}`);
        return Number(m[1]);
      };
      assert.match(text, /^# TYPE mooz_rooms gauge$/m);
      // This test's rooms (their members closed without leaving, so they are within grace).
      assert.ok(value(/^mooz_rooms (\d+)$/m) >= 1);
      const label = `isolate="${isolate}"`;
      assert.match(text, /^# TYPE mooz_joins_total counter$/m);
      assert.equal(value(new RegExp(`^mooz_joins_total\\{${label}\\} (\\d+)$`, "m")), 3);
      assert.equal(
        value(new RegExp(`^mooz_inputs_rejected_total\\{${label},code="bad-json"\\} (\\d+)$`, "m")),
        1,
      );
      assert.ok(
        value(
          new RegExp(`^mooz_inputs_rejected_total\\{${label},code="bad-room"\\} (\\d+)$`, "m"),
        ) >=
          3,
      );
    });
  } finally {
    await stopHub();
    await server.shutdown();
  }
});
