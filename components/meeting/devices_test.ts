import assert from "node:assert/strict";
import { devicePicker } from "./devices.ts";

const device = (kind: MediaDeviceKind, deviceId: string, label = "") => ({ kind, deviceId, label });

const LISTED = [
  device("audioinput", "default", "Default - Headset"),
  device("audioinput", "mic-a", "Headset"),
  device("videoinput", "cam-a", "Front camera"),
  device("videoinput", "cam-b", "USB camera"),
  device("audiooutput", "default", "Default - Speakers"),
];

Deno.test("devicePicker lists one kind, and shows the selected device", () => {
  const picker = devicePicker("videoinput", LISTED, { selected: "cam-b", access: "granted" });
  assert.deepEqual(picker.options, [
    { id: "cam-a", label: "Front camera" },
    { id: "cam-b", label: "USB camera" },
  ]);
  assert.equal(picker.value, "cam-b");
  assert.equal(picker.enabled, true);
  assert.equal(picker.problem, null);
});

Deno.test("devicePicker never leaves the select blank: an unknown or missing choice shows the first", () => {
  // The camera is off and nothing was chosen yet, or the chosen one was unplugged.
  assert.equal(devicePicker("videoinput", LISTED).value, "cam-a");
  assert.equal(devicePicker("videoinput", LISTED, { selected: "gone" }).value, "cam-a");
  assert.equal(devicePicker("audioinput", LISTED, { selected: "mic-a" }).value, "mic-a");
});

Deno.test("devicePicker numbers devices the browser lists without names (before permission)", () => {
  const unnamed = [
    device("audioinput", "m1"),
    device("audioinput", "m2"),
    device("videoinput", "c1"),
  ];
  assert.deepEqual(devicePicker("audioinput", unnamed).options.map((o) => o.label), [
    "Microphone 1",
    "Microphone 2",
  ]);
  // Without ids either, there is nothing a choice could name: listed, not choosable.
  const hidden = devicePicker("videoinput", [device("videoinput", "")]);
  assert.deepEqual(hidden.options, [{ id: "", label: "Camera 1" }]);
  assert.equal(hidden.enabled, false);
  assert.equal(hidden.problem, null);
});

Deno.test("devicePicker says a device is blocked rather than listing nothing", () => {
  const picker = devicePicker("videoinput", [device("videoinput", "")], { access: "blocked" });
  assert.equal(picker.problem, "Camera blocked — allow it in the browser's site settings");
  assert.equal(picker.short, "Blocked");
  assert.equal(picker.enabled, false);
  assert.equal(
    devicePicker("audioinput", [], { access: "blocked" }).problem,
    "Microphone blocked — allow it in the browser's site settings",
  );
});

Deno.test("devicePicker says when there is no such device", () => {
  assert.equal(devicePicker("videoinput", []).problem, "No camera found");
  assert.equal(devicePicker("audioinput", LISTED.slice(2)).problem, "No microphone found");
  // The browser found none, though it lists a placeholder.
  const placeholder = devicePicker("audioinput", [device("audioinput", "")], { access: "missing" });
  assert.equal(placeholder.problem, "No microphone found");
  assert.equal(placeholder.short, "None found");
  // A chosen device that went away: the others are still offered.
  const others = devicePicker("videoinput", LISTED, { selected: "gone", access: "missing" });
  assert.equal(others.problem, null);
  assert.equal(others.options.length, 2);
});

Deno.test("devicePicker lists a device once even if the browser repeats it", () => {
  const twice = [device("audiooutput", "default", "Default"), device("audiooutput", "default")];
  assert.deepEqual(devicePicker("audiooutput", twice).options, [{
    id: "default",
    label: "Default",
  }]);
});
