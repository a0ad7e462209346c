/** The unread count in the tab's title. */
import assert from "node:assert/strict";
import { unreadCount, unreadTitle } from "./alerts.ts";
import type { ControlItem } from "./ControlBar.tsx";
import type { Controls } from "./controls.ts";

Deno.test("unreadTitle: the count in front, nothing when there is none", () => {
  assert.equal(unreadTitle("Meeting · Mooz", 0), "Meeting · Mooz");
  assert.equal(unreadTitle("Meeting · Mooz", 2), "(2) Meeting · Mooz");
  assert.equal(unreadTitle("Meeting · Mooz", 100), "(99+) Meeting · Mooz");
});

Deno.test("unreadCount: unread of the closed panels; other counts and open panels are not", () => {
  const panel = (id: string, more: Partial<ControlItem>): ControlItem => ({
    id,
    label: id,
    icon: "people",
    onClick() {},
    ...more,
  });
  const controls = (panels: ControlItem[]): Controls => ({
    media: [],
    features: [],
    panels,
    end: [],
  });
  assert.equal(unreadCount(controls([panel("chat", { count: 2 })])), 2);
  assert.equal(unreadCount(controls([panel("chat", { count: 2, expanded: true })])), 0);
  assert.equal(unreadCount(controls([panel("host", { count: 3, countLabel: "waiting" })])), 0);
  assert.equal(
    unreadCount(controls([panel("chat", { count: 2 }), panel("notes", { count: 1 })])),
    3,
  );
  assert.equal(unreadCount(controls([panel("people", {})])), 0);
});
