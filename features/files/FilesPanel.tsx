import { useRef } from "preact/hooks";
import { SidePanel } from "../../components/meeting/SidePanel.tsx";
import type { MeetingCore } from "../../mesh/meeting.ts";
import {
  acceptOffer,
  downloaded,
  recipient,
  recipientName,
  saveFile,
  sendTo,
  shareFiles,
} from "./actions.ts";
import { files } from "./files.ts";
import { formatBytes, formatRate, formatTimeLeft } from "./meter.ts";
import { canChooseFile } from "./save.ts";
import type { IncomingView, OutgoingView, ReceiverView } from "./types.ts";

const BUTTON =
  "rounded-lg px-3 py-1.5 text-sm font-semibold focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-300";
const PRIMARY = `${BUTTON} bg-indigo-600 text-white hover:bg-indigo-700`;
const SECONDARY = `${BUTTON} bg-slate-700 text-white hover:bg-slate-600`;

/** A bar with the share done, its words for screen readers, and rate and time left. */
function Progress(
  { label, done, total, rate, secondsLeft }: {
    label: string;
    done: number;
    total: number;
    rate: number | null;
    secondsLeft: number | null;
  },
) {
  const share = total === 0 ? 1 : Math.min(1, done / total);
  const percent = Math.floor(share * 100);
  const speed = [
    `${formatBytes(done)} of ${formatBytes(total)}`,
    rate !== null ? formatRate(rate) : null,
    secondsLeft !== null && share < 1 ? formatTimeLeft(secondsLeft) : null,
  ].filter(Boolean).join(" · ");
  return (
    <div class="mt-2">
      <div
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
        aria-valuetext={`${percent}%: ${speed}`}
        class="h-2 overflow-hidden rounded-full bg-slate-700"
      >
        <div
          class="h-full origin-left rounded-full bg-emerald-400"
          ref={(el) => {
            if (el) el.style.transform = `scaleX(${share})`;
          }}
        />
      </div>
      <p class="mt-1 text-xs text-slate-300">{percent}% · {speed}</p>
    </div>
  );
}

function IncomingItem({ meeting, t }: { meeting: MeetingCore; t: IncomingView }) {
  const feature = meeting.feature(files);
  const where = t.location === "chosen"
    ? "Saved to the file you chose."
    : downloaded.value.has(t.id)
    ? "Saved to your browser's downloads. A copy stays in this browser until you remove it."
    : "Whole and verified. It is in this browser's storage: save it to your device.";
  const status: Record<IncomingView["state"], string> = {
    offered: canChooseFile()
      ? "Accept to choose where to save it."
      : "Accept to receive it into this browser's storage, then save it.",
    declined: "You declined it.",
    receiving: "",
    paused: "Paused.",
    saving: "Writing it to the file you chose…",
    done: where,
    failed: "It could not be received.",
    cancelled: "You cancelled it.",
    stopped: "No longer offered.",
  };
  return (
    <li
      data-transfer={t.id}
      data-dir="in"
      data-state={t.state}
      class="rounded-xl bg-slate-800 p-3 text-sm"
    >
      <p class="break-all font-medium text-white">{t.name}</p>
      <p class="text-xs text-slate-300">{formatBytes(t.size)} · from {t.fromName}</p>
      {(t.state === "receiving" || t.state === "paused" || t.state === "saving") && (
        <Progress
          label={`${t.name} from ${t.fromName}`}
          done={t.done}
          total={t.size}
          rate={t.rate}
          secondsLeft={t.secondsLeft}
        />
      )}
      <p class="mt-1 text-xs text-slate-200">
        {status[t.state]} {t.detail}
        {t.state === "offered" && t.alreadyHere > 0 &&
          ` ${formatBytes(t.alreadyHere)} of it is here already from an earlier try.`}
      </p>
      <div class="mt-2 flex flex-wrap gap-2">
        {t.state === "offered" && (
          <>
            <button
              type="button"
              class={PRIMARY}
              aria-label={`Accept ${t.name}`}
              onClick={() => void acceptOffer(meeting, t.id, t.name)}
            >
              Accept
            </button>
            <button
              type="button"
              class={SECONDARY}
              aria-label={`Decline ${t.name}`}
              onClick={() => feature.decline(t.id)}
            >
              Decline
            </button>
          </>
        )}
        {(t.state === "receiving" || t.state === "paused") && (
          <button
            type="button"
            class={SECONDARY}
            aria-label={`Cancel ${t.name}`}
            onClick={() => void feature.cancel(t.id)}
          >
            Cancel
          </button>
        )}
        {t.state === "done" && t.location === "browser" && (
          <button
            type="button"
            class={PRIMARY}
            aria-label={`Save ${t.name}`}
            onClick={() => void saveFile(meeting, t.id, t.name)}
          >
            Save
          </button>
        )}
        {["done", "failed", "cancelled", "declined", "stopped"].includes(t.state) && (
          <button
            type="button"
            class={SECONDARY}
            aria-label={`Remove ${t.name}`}
            onClick={() => void feature.remove(t.id)}
          >
            Remove
          </button>
        )}
      </div>
    </li>
  );
}

const RECEIVER_STATE: Record<ReceiverView["state"], (name: string) => string> = {
  offered: (n) => `Waiting for ${n} to accept`,
  declined: (n) => `${n} declined`,
  receiving: (n) => `Sending to ${n}`,
  done: (n) => `${n} has it, verified`,
  cancelled: (n) => `${n} cancelled`,
  failed: (n) => `${n}'s browser could not take it`,
  left: (n) => `${n} left before it was done`,
  removed: (n) => `Stopped for ${n}`,
};

function OutgoingItem({ meeting, t }: { meeting: MeetingCore; t: OutgoingView }) {
  const feature = meeting.feature(files);
  const active = t.state === "preparing" || t.state === "shared";
  return (
    <li
      data-transfer={t.id}
      data-dir="out"
      data-state={t.state}
      class="rounded-xl bg-slate-800 p-3 text-sm"
    >
      <p class="break-all font-medium text-white">{t.name}</p>
      <p class="text-xs text-slate-300">
        {formatBytes(t.size)} · to {t.to === "all" ? "everyone" : t.toName}
        {t.state === "stopped" && " · stopped"}
      </p>
      {t.state === "preparing" && (
        <Progress
          label={`Checking ${t.name}`}
          done={Math.round(t.prepared * t.size)}
          total={t.size}
          rate={null}
          secondsLeft={null}
        />
      )}
      {t.state === "preparing" && (
        <p class="mt-1 text-xs text-slate-200">
          Computing its fingerprints, so that everyone can check what they get.
        </p>
      )}
      {t.detail && <p class="mt-1 text-xs text-slate-200">{t.detail}</p>}
      {t.state === "shared" && t.receivers.length === 0 && (
        <p class="mt-1 text-xs text-slate-200">Offered; nobody has answered yet.</p>
      )}
      {t.receivers.length > 0 && (
        <ul class="mt-2 space-y-2" aria-label={`Receivers of ${t.name}`}>
          {t.receivers.map((r) => (
            <li key={r.peer} data-peer={r.peer} data-state={r.state}>
              <div class="flex items-center justify-between gap-2">
                <span class="text-xs text-slate-200">{RECEIVER_STATE[r.state](r.name)}</span>
                {active && (r.state === "offered" || r.state === "receiving") && (
                  <button
                    type="button"
                    class="rounded px-2 py-0.5 text-xs text-slate-200 underline hover:text-white focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-300"
                    aria-label={`Stop sending ${t.name} to ${r.name}`}
                    onClick={() => feature.stop(t.id, r.peer)}
                  >
                    Stop
                  </button>
                )}
              </div>
              {r.state === "receiving" && (
                <Progress
                  label={`${t.name} to ${r.name}`}
                  done={r.done}
                  total={t.size}
                  rate={r.rate}
                  secondsLeft={r.secondsLeft}
                />
              )}
            </li>
          ))}
        </ul>
      )}
      <div class="mt-2 flex gap-2">
        {active
          ? (
            <button
              type="button"
              class={SECONDARY}
              aria-label={`Stop sharing ${t.name}`}
              onClick={() => feature.stop(t.id)}
            >
              Stop sharing
            </button>
          )
          : (
            <button
              type="button"
              class={SECONDARY}
              aria-label={`Remove ${t.name}`}
              onClick={() => void feature.remove(t.id)}
            >
              Remove
            </button>
          )}
      </div>
    </li>
  );
}

/** The files side panel: send files, answer offers, follow every transfer. */
export function FilesPanel({ meeting, close }: { meeting: MeetingCore; close(): void }) {
  const feature = meeting.feature(files);
  const transfers = feature.transfers.value;
  const input = useRef<HTMLInputElement>(null);
  const to = recipient(meeting);
  const incoming = transfers.filter((t): t is IncomingView => t.dir === "in");
  const outgoing = transfers.filter((t): t is OutgoingView => t.dir === "out");
  const peers = meeting.peers.value.filter((p) => p.verified);

  return (
    <SidePanel panelId="files" label="Files" onClose={close}>
      <div class="flex-1 space-y-5 overflow-y-auto px-4 py-3">
        <section aria-labelledby="files-send">
          <h3 id="files-send" class="text-sm font-semibold text-white">Send files</h3>
          <div class="mt-2 flex items-center gap-2">
            <label for="files-to" class="text-sm text-slate-200">To</label>
            <select
              id="files-to"
              value={to}
              onChange={(e) => (sendTo.value = e.currentTarget.value)}
              class="min-w-0 flex-1 rounded-lg bg-slate-950 px-2 py-1.5 text-sm text-white ring-1 ring-slate-700 focus:outline-none focus:ring-2 focus:ring-indigo-400"
            >
              <option value="all">Everyone</option>
              {peers.map((p) => <option key={p.peer} value={p.peer}>{p.name}</option>)}
            </select>
          </div>
          <button
            type="button"
            class={`${PRIMARY} mt-2 w-full`}
            onClick={() => input.current?.click()}
          >
            Choose files…
          </button>
          <input
            ref={input}
            id="files-input"
            type="file"
            multiple
            class="hidden"
            onChange={(e) => {
              const chosen = [...(e.currentTarget.files ?? [])];
              e.currentTarget.value = "";
              shareFiles(meeting, chosen, false);
            }}
          />
          <p class="mt-2 text-xs text-slate-300">
            Or drop files anywhere on the meeting. They go to {recipientName(meeting, to)}{" "}
            straight from your browser, encrypted; the server never sees them. Each person accepts
            or declines.
          </p>
        </section>
        {incoming.length > 0 && (
          <section aria-labelledby="files-in">
            <h3 id="files-in" class="text-sm font-semibold text-white">For you</h3>
            <ul class="mt-2 space-y-2">
              {incoming.map((t) => <IncomingItem key={t.id} meeting={meeting} t={t} />)}
            </ul>
          </section>
        )}
        {outgoing.length > 0 && (
          <section aria-labelledby="files-out">
            <h3 id="files-out" class="text-sm font-semibold text-white">You share</h3>
            <ul class="mt-2 space-y-2">
              {outgoing.map((t) => <OutgoingItem key={t.id} meeting={meeting} t={t} />)}
            </ul>
          </section>
        )}
        {!feature.canReceive && (
          <p class="text-xs text-amber-200">
            This browser can't keep files sent to you. You can still send files.
          </p>
        )}
      </div>
    </SidePanel>
  );
}
