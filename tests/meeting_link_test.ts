/**
 * The meeting key in the link, in real headless Chromium against the real app: "New meeting"
 * puts a fresh key into the address bar; a link without a valid key shows the incomplete-link
 * screen and never connects; "Join" on the landing page takes only the whole link; and neither
 * the server nor any request ever gets the key, over a whole meeting of two.
 *
 * The last test needs WebRTC between two pages, so it runs only inside a loopback-only network
 * namespace: `CHROME_PATH=/usr/bin/chromium unshare -rn sh -c 'ip link set lo up &&
 * deno test -A tests/meeting_link_test.ts'`.
 */
import assert from "node:assert/strict";
import type { Page, Request as PwRequest, WebSocket as PwWebSocket } from "playwright-core";
import config from "../fresh.config.ts";
import manifest from "../fresh.gen.ts";
import { createApp } from "../framework/server.ts";
import { encodeBase64url } from "../mesh/base64url.ts";
import {
  MEETING_KEY_LENGTH,
  meetingLink,
  newMeetingKey,
  parseMeetingKey,
} from "../mesh/meeting_key.ts";
import { isRoomId, newRoomId } from "../signaling/room_id.ts";
import {
  assertAccessible,
  assertNoErrors,
  FAKE_MEDIA,
  launchBrowser,
  watchErrors,
  withPage,
} from "./browser.ts";
import {
  confirmLeave,
  control,
  DATA_ONLY_ARGS,
  fillPreJoin,
  skipUnlessIsolated,
  until,
  waitForPhase,
  waitForRemoteTiles,
} from "./meeting_harness.ts";

const FILE = "tests/meeting_link_test.ts";
const NO_MEDIA = { mic: false, camera: false };
/** Where "New meeting" lands once the page has made its key. */
const KEYED_ROOM = new RegExp(`^/([a-z0-9-]+)#([A-Za-z0-9_-]{${MEETING_KEY_LENGTH}})$`);

/** Room and key of the page's address, or null when it is not `/<room>#<key>`. */
function keyedRoomOf(url: string): { room: string; key: string } | null {
  const u = new URL(url);
  const m = (u.pathname + u.hash).match(KEYED_ROOM);
  return m && isRoomId(m[1]) && parseMeetingKey(m[2]).ok ? { room: m[1], key: m[2] } : null;
}

/** "New meeting" from the landing page; waits until the page made its key. */
async function newMeeting(page: Page, origin: string): Promise<{ room: string; key: string }> {
  await page.goto(origin + "/");
  await page.getByRole("button", { name: "New meeting" }).click();
  await page.waitForURL((url) => keyedRoomOf(url.href) !== null);
  return keyedRoomOf(page.url())!;
}

/** The invite link once the page has hydrated (the server renders none). */
async function inviteLink(page: Page): Promise<string> {
  await page.getByRole("heading", { name: "Ready to join?" }).waitFor();
  const field = page.getByRole("textbox", { name: "Invite link" });
  return await until("the invite link to be filled in", async () => {
    const value = await field.inputValue();
    return value === "" ? undefined : value;
  });
}

Deno.test("New meeting ends on /<room>#<22-character key>; a reload keeps it, Back skips #new", async () => {
  await withPage(
    async (page, origin, errors) => {
      const first = await newMeeting(page, origin);
      const link = meetingLink(origin, first.room, first.key);
      assert.equal(page.url(), link);
      assert.equal(await inviteLink(page), link, "the invite link is the address bar's link");
      // The fake camera is on: the meeting core exists, with the key of the address bar.
      await page.locator('button[aria-label="Camera"][aria-pressed="true"]').waitFor();
      assert.equal(await page.evaluate(() => location.hash), `#${first.key}`);

      await page.reload();
      assert.equal(page.url(), link, "a reload keeps the whole link");
      assert.equal(await inviteLink(page), link);

      // replaceState: `#new` is not in the history, so Back leaves for the landing page.
      await page.goBack();
      await page.waitForURL(origin + "/");

      // Every new meeting gets its own room and key.
      const second = await newMeeting(page, origin);
      assert.notEqual(second.room, first.room);
      assert.notEqual(second.key, first.key);
      assertNoErrors(errors);
    },
    undefined,
    FAKE_MEDIA,
  );
});

Deno.test("a link without its key, or with a damaged one, shows the incomplete-link screen and never connects", async () => {
  await withPage(
    async (page, origin, errors) => {
      const sockets: string[] = [];
      const requests: string[] = [];
      page.on("websocket", (ws: PwWebSocket) => sockets.push(ws.url()));
      page.on("request", (r: PwRequest) => requests.push(r.url()));
      const room = newRoomId();
      const key = newMeetingKey();
      const cases: [string, RegExp][] = [
        [`/${room}`, /the part after # is missing/],
        [`/${room}#`, /the part after # is missing/],
        [`/${room}#${key.slice(0, MEETING_KEY_LENGTH - 1)}`, /cut short or damaged/],
        [`/${room}#${key}x`, /cut short or damaged/],
        [`/${room}#${key.replace(/^./, "+")}`, /cut short or damaged/],
      ];
      for (const [path, what] of cases) {
        await page.goto("about:blank");
        await page.goto(origin + path);
        const heading = page.getByRole("heading", { level: 1, name: "This link is incomplete" });
        await heading.waitFor();
        await page.getByText(what).waitFor();
        await page.getByText(/keeps the meeting private/).waitFor();
        await page.getByText(/copied with "Copy link"/).waitFor();
        assert.equal(await page.locator("main[data-phase=incomplete-link]").count(), 1, path);
        assert.equal(await page.getByRole("heading", { name: "Ready to join?" }).count(), 0);
        assert.equal(await page.getByRole("button", { name: "Join meeting" }).count(), 0);
        // No meeting core was made: nothing can open a socket, fetch ICE servers or a camera.
        assert.equal(await page.evaluate(() => "__mooz" in globalThis), false, path);
        await assertAccessible(page);
      }
      assert.deepEqual(sockets, [], "no WebSocket was opened");
      assert.deepEqual(requests.filter((u) => u.includes("/api/")), [], "no API request");

      // Completing the link in the address bar opens the meeting: the page starts over.
      await page.goto(`${origin}/${room}`);
      await page.getByRole("heading", { name: "This link is incomplete" }).waitFor();
      // (The page reloads at once, which may cut this evaluation short.)
      await page.evaluate((k) => location.hash = k, key).catch(() => {});
      assert.equal(await inviteLink(page), meetingLink(origin, room, key));

      // The way back.
      await page.goto(`${origin}/${room}`);
      await page.getByRole("link", { name: "Go to the home page" }).click();
      await page.waitForURL(origin + "/");
      await page.getByRole("button", { name: "New meeting" }).waitFor();
      assertNoErrors(errors);
    },
    undefined,
    FAKE_MEDIA,
  );
});

Deno.test("landing Join takes the whole link and refuses a bare id or a link without its key", async () => {
  await withPage(async (page, origin, errors) => {
    await page.goto(origin + "/");
    const input = page.getByRole("textbox", { name: "Join with a meeting link" });
    const join = page.getByRole("button", { name: "Join", exact: true });
    const alert = page.locator("#join-error");
    const room = newRoomId();
    const key = newMeetingKey();
    const refused: [string, RegExp][] = [
      [room, /A meeting id alone isn't enough: .*missing its key, the part after #/],
      [room.toUpperCase(), /missing its key, the part after #\. Ask for the whole link\./],
      [
        `${origin}/${room}`,
        /^That link is missing its key, the part after #\. Ask for the whole link\.$/,
      ],
      [`${origin}/${room}#`, /missing its key/],
      [`${origin}/${room}#${key.slice(0, 10)}`, /cut short or damaged/],
      [`https://elsewhere.example/${room}#${key}`, /another server/],
      ["hello there", /isn't a meeting link/],
    ];
    for (const [text, message] of refused) {
      await input.fill(text);
      await join.click();
      await until(`the refusal of ${text}`, async () => message.test(await alert.innerText()), {
        describe: () => alert.innerText(),
      });
      assert.equal(await input.getAttribute("aria-invalid"), "true", text);
      assert.equal(new URL(page.url()).pathname + new URL(page.url()).search, "/", text);
    }
    // The hint says a meeting id is no longer enough.
    await page.getByText("a meeting id alone is no longer enough").waitFor();

    // The whole link, as pasted from a chat (spaces, the room in capitals): opens the meeting.
    await input.fill(` ${origin}/${room.toUpperCase()}#${key} `);
    await join.click();
    await page.waitForURL(meetingLink(origin, room, key));
    assert.equal(await inviteLink(page), meetingLink(origin, room, key));
    assertNoErrors(errors);
  });
});

Deno.test("without JavaScript, Join sends no pasted link (or key) to the server and says why", async () => {
  const browser = await launchBrowser();
  const { origin, close, log } = await startLoggedServer();
  try {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    const urls: string[] = [];
    page.on("request", (r: PwRequest) => urls.push(r.url()));
    await page.goto(origin + "/");
    // (Playwright's no-JavaScript mode still parses <noscript> as raw text, so read it.)
    assert.match(
      await page.locator("#join-room ~ noscript, form noscript").first().textContent() ?? "",
      /Meetings need JavaScript/,
    );
    const key = newMeetingKey();
    await page.getByRole("textbox", { name: "Join with a meeting link" })
      .fill(meetingLink(origin, newRoomId(), key));
    await page.getByRole("button", { name: "Join", exact: true }).click();
    // The form goes to the landing page again, with nothing in its query.
    await page.waitForURL((url) => url.href !== `${origin}/`);
    assert.equal(page.url(), `${origin}/?`);
    assert.ok(log.some((r) => r.url === `${origin}/?`), "the form was submitted");
    for (const url of [...urls, ...log.map((r) => r.url)]) {
      assert.ok(!url.includes(key), `${url} holds the key`);
      assert.equal(new URL(url).searchParams.has("room"), false, url);
    }
    await context.close();
  } finally {
    await browser.close();
    await close();
  }
});

/** What the server received: every request's method, URL, headers and (small) body. */
interface Received {
  method: string;
  url: string;
  headers: [string, string][];
  body: string;
}

/** The real app on a loopback port, recording every request before handing it on. */
async function startLoggedServer(): Promise<
  { origin: string; log: Received[]; close(): Promise<void> }
> {
  const app = await createApp(manifest, config, { buildIfStale: true });
  const log: Received[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req, info) => {
      const body = req.body && req.method !== "GET" ? await req.clone().text() : "";
      log.push({ method: req.method, url: req.url, headers: [...req.headers], body });
      return await app.handler(req, info);
    },
  );
  return {
    origin: `http://127.0.0.1:${server.addr.port}`,
    log,
    close: () => server.shutdown(),
  };
}

Deno.test({
  name: "the key never reaches the server: no request, header, Referer or signaling message has it",
  ignore: skipUnlessIsolated(FILE),
  async fn() {
    const browser = await launchBrowser(DATA_ONLY_ARGS);
    const { origin, close, log } = await startLoggedServer();
    /** Everything the browsers sent: request URLs and headers, socket URLs and frames. */
    const sent: string[] = [];
    const sockets: string[] = [];
    const open = async (name: string) => {
      const context = await browser.newContext();
      // Without it Chromium gathers no loopback candidates (see WEBRTC_LOOPBACK_NO_DEVICES).
      await context.grantPermissions(
        ["camera", "microphone", "clipboard-read", "clipboard-write"],
        {
          origin,
        },
      );
      const page = await context.newPage();
      const errors = watchErrors(page);
      page.on("request", async (r: PwRequest) => {
        sent.push(`${name} request ${r.method()} ${r.url()}`);
        const headers = await r.allHeaders().catch(() => r.headers());
        for (const [k, v] of Object.entries(headers)) sent.push(`${name} header ${k}: ${v}`);
        const body = r.postData();
        if (body) sent.push(`${name} body ${body}`);
      });
      page.on("websocket", (ws: PwWebSocket) => {
        sockets.push(ws.url());
        sent.push(`${name} socket ${ws.url()}`);
        ws.on("framesent", (f) => sent.push(`${name} frame ${String(f.payload)}`));
      });
      return { page, errors };
    };
    try {
      // Ada starts a meeting, as a person would, and joins it.
      const ada = await open("Ada");
      const { room, key } = await newMeeting(ada.page, origin);
      const link = await inviteLink(ada.page);
      assert.equal(link, meetingLink(origin, room, key));
      await fillPreJoin(ada.page, "Ada", NO_MEDIA);
      await ada.page.getByRole("button", { name: "Join meeting" }).click();
      await waitForPhase(ada.page, "joined", { who: "Ada" });

      // "Copy invite link" in the meeting copies the whole link, key included.
      await control(ada.page, "Copy invite link").click();
      await ada.page.getByText("Invite link copied.").waitFor();
      assert.equal(await ada.page.evaluate(() => navigator.clipboard.readText()), link);

      // Bob pastes it into Join on the landing page.
      const bob = await open("Bob");
      await bob.page.goto(origin + "/");
      await bob.page.getByRole("textbox", { name: "Join with a meeting link" }).fill(link);
      await bob.page.getByRole("button", { name: "Join", exact: true }).click();
      await bob.page.waitForURL(link);
      await fillPreJoin(bob.page, "Bob", NO_MEDIA);
      await bob.page.getByRole("button", { name: "Join meeting" }).click();
      await waitForPhase(bob.page, "joined", { who: "Bob" });
      // They reached each other: signals went through the server both ways.
      await waitForRemoteTiles(ada.page, 1, { names: ["Bob"], who: "Ada" });
      await waitForRemoteTiles(bob.page, 1, { names: ["Ada"], who: "Bob" });
      await bob.page.getByRole("button", { name: "Leave meeting" }).click();
      await confirmLeave(bob.page);
      await bob.page.getByRole("heading", { name: "You left the meeting" }).waitFor();

      // The search covers what it should: both sockets, their frames, the pages' requests.
      assert.equal(sockets.length, 2, `one signaling socket per page: ${sockets.join(", ")}`);
      assert.ok(sent.filter((s) => s.includes(" frame ")).length >= 4, "frames were recorded");
      assert.ok(log.some((r) => r.url.includes("/api/rooms/")), "the server saw the sockets");
      assert.ok(log.some((r) => r.url.endsWith("/api/ice")), "the server saw the ICE request");
      // Only the landing page sends a Referer (its own address); the meeting page sends none.
      const referers = [
        ...sent.filter((s) => /header referer: /i.test(s)),
        ...log.flatMap((r) => r.headers.filter(([k]) => k === "referer").map(([, v]) => v)),
      ];
      assert.deepEqual(referers.filter((r) => r.includes(room)), [], "a Referer names the room");

      // The key in every spelling it could travel in: as in the link, as bytes in standard
      // base64 and in hex, and percent-encoded.
      const bytes = parseMeetingKey(key);
      assert.ok(bytes.ok);
      const spellings = [
        key,
        btoa(String.fromCharCode(...bytes.bytes)).replace(/=+$/, ""),
        [...bytes.bytes].map((b) => b.toString(16).padStart(2, "0")).join(""),
        encodeURIComponent(`#${key}`),
        encodeBase64url(bytes.bytes),
      ];
      const received = log.flatMap((r) => [
        `${r.method} ${r.url}`,
        ...r.headers.map(([k, v]) => `${k}: ${v}`),
        r.body,
      ]);
      for (const spelling of spellings) {
        const leakedTo = received.filter((line) => line.includes(spelling));
        assert.deepEqual(leakedTo, [], `the server received the key (${spelling})`);
        const leakedFrom = sent.filter((line) => line.includes(spelling));
        assert.deepEqual(leakedFrom, [], `a browser sent the key (${spelling})`);
      }
      // ...while the key was in both address bars all along.
      assert.equal(ada.page.url(), link);
      assert.equal(bob.page.url(), link);
      assertNoErrors([...ada.errors, ...bob.errors]);
    } finally {
      await browser.close();
      await close();
    }
  },
});
