/** The app in real headless Chromium: rendering, hydration, navigation, accessibility. */
import assert from "node:assert/strict";
import { meetingLink, newMeetingKey } from "../mesh/meeting_key.ts";
import { isRoomId, newRoomId } from "../signaling/room_id.ts";
import { assertAccessible, assertNoErrors, FAKE_MEDIA, withPage } from "./browser.ts";

const PHONE = { width: 390, height: 844 };

Deno.test("landing page renders with its styles and no console errors", async () => {
  await withPage(async (page, origin, errors) => {
    const res = await page.goto(origin + "/");
    assert.equal(res?.status(), 200);
    assert.match(await page.title(), /Mooz/);
    const heading = page.getByRole("heading", { level: 1 });
    assert.match(await heading.textContent() ?? "", /straight from your browser/);
    // twind's CSS reached the page: the body has the dark background, not the default white.
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(bg, "rgb(2, 6, 23)");
    assertNoErrors(errors);
  });
});

Deno.test("the Join island hydrates and answers a click in the browser", async () => {
  await withPage(async (page, origin, errors) => {
    await page.goto(origin + "/");
    await page.getByRole("button", { name: "Join", exact: true }).click();
    // Only the hydrated island says this; without JavaScript the form submits nothing.
    await page.getByText("Paste the meeting link first.").waitFor();
    assert.equal(new URL(page.url()).search, "");
    const input = page.getByLabel("Join with a meeting link");
    assert.equal(await input.getAttribute("aria-invalid"), "true");

    // A class that exists only after hydration (the invalid ring) is styled all the same.
    const ring = await input.evaluate((el) => getComputedStyle(el).boxShadow);
    assert.match(ring, /rgba\(251, 113, 133/);

    const id = newRoomId();
    const key = newMeetingKey();
    await input.fill(`${origin}/${id.toUpperCase()}?from=mail#${key}`);
    await page.getByRole("button", { name: "Join", exact: true }).click();
    await page.waitForURL(meetingLink(origin, id, key));
    await page.getByRole("heading", { name: "Ready to join?" }).waitFor();
    assertNoErrors(errors);
  });
});

Deno.test("New meeting opens a room where one can join, leave and rejoin by name", async () => {
  await withPage(
    async (page, origin, errors) => {
      await page.goto(origin + "/");
      await page.getByRole("button", { name: "New meeting" }).click();
      // The page made the key and put it into the address bar: the whole link to share.
      await page.waitForURL((url) => isRoomId(url.pathname.slice(1)) && url.hash.length === 23);
      const room = new URL(page.url()).pathname.slice(1);
      const key = new URL(page.url()).hash.slice(1);
      await page.getByRole("heading", { name: "Ready to join?" }).waitFor();
      // The fake camera and microphone are on (so the island has hydrated).
      await page.locator('button[aria-label="Camera"][aria-pressed="true"]').waitFor();
      await page.locator('button[aria-label="Microphone"][aria-pressed="true"]').waitFor();
      assert.equal(await page.getByLabel("Invite link").inputValue(), `${origin}/${room}#${key}`);

      await page.getByLabel("Your name").fill("Ada Lovelace");
      await page.getByRole("button", { name: "Join meeting" }).click();
      await page.locator("main[data-phase=joined]").waitFor();
      await page.getByRole("figure", { name: "Ada Lovelace (you)" }).waitFor();
      await page.getByRole("button", { name: "Leave meeting" }).click();
      await page.getByRole("dialog", { name: "Leave the meeting?" })
        .getByRole("button", { name: "Leave", exact: true }).click();
      await page.getByRole("heading", { name: "You left the meeting" }).waitFor();
      await page.getByRole("button", { name: "Rejoin" }).click();
      await page.waitForFunction(() =>
        (document.getElementById("prejoin-name") as HTMLInputElement)?.value === "Ada Lovelace"
      );
      // Rejoining keeps the meeting's key: the same whole link, in the field and the address bar.
      assert.equal(await page.getByLabel("Invite link").inputValue(), `${origin}/${room}#${key}`);
      assert.equal(page.url(), `${origin}/${room}#${key}`);
      assertNoErrors(errors);
    },
    undefined,
    FAKE_MEDIA,
  );
});

Deno.test("without camera and microphone one can still join, with a notice saying why", async () => {
  // No fake devices: headless Chromium has neither camera nor microphone.
  await withPage(async (page, origin) => {
    await page.goto(meetingLink(origin, newRoomId(), newMeetingKey()));
    const notice = page.getByRole("status").filter({ hasText: /microphone|camera/i }).first();
    await notice.waitFor();
    assert.match(await notice.textContent() ?? "", /can still join|denied|No (camera|microphone)/);
    await page.getByLabel("Your name").fill("Grace");
    await page.getByRole("button", { name: "Join meeting" }).click();
    await page.locator("main[data-phase=joined]").waitFor();
    const tile = page.getByRole("figure", { name: "Grace (you)" });
    assert.equal(await tile.getAttribute("data-video-off"), "true");
    assert.equal(await tile.getAttribute("data-muted"), "true");
  });
});

Deno.test("a malformed meeting link shows the friendly 404 page", async () => {
  await withPage(async (page, origin, errors) => {
    const res = await page.goto(origin + "/not-a-room");
    assert.equal(res?.status(), 404);
    await page.getByRole("heading", { name: "This meeting link isn't valid" }).waitFor();
    await page.getByRole("link", { name: "Go to the home page" }).click();
    await page.waitForURL(origin + "/");
    // Only the document's own 404 is expected in the console (Chromium logs failed loads).
    assertNoErrors(errors.filter((e) => !e.includes("404")));
  });
});

for (const [label, viewport] of [["desktop", undefined], ["phone", PHONE]] as const) {
  Deno.test(`axe finds no serious accessibility violations (${label})`, async () => {
    await withPage(async (page, origin) => {
      const room = newRoomId();
      for (const path of ["/", `/${room}#${newMeetingKey()}`, "/no/such/page"]) {
        await page.goto(origin + path);
        await assertAccessible(page);
      }
      // The incomplete-link screen (a meeting link without its key).
      await page.goto(`${origin}/${room}`);
      await page.getByRole("heading", { name: "This link is incomplete" }).waitFor();
      await assertAccessible(page);
      // Keyboard: Tab from the top reaches the primary action.
      await page.goto(origin + "/");
      let reached = false;
      for (let i = 0; i < 6 && !reached; i++) {
        await page.keyboard.press("Tab");
        reached = await page.evaluate(() =>
          document.activeElement?.textContent?.trim() === "New meeting"
        );
      }
      assert.ok(reached, "Tab should reach the New meeting button");
    }, viewport);
  });
}
