/**
 * Members' link reports, written to KV in batches (PROTOCOL.md, "Full-mesh guarantee").
 *
 * Browsers report their links whenever a link changes state: a member of a room of 8 that joins
 * sends about 8 reports within a second, and each of the others sends 2. Written one by one, each
 * report is a read and a commit, and commits are what a local KV file does slowest (one at a time,
 * about a millisecond each on the build machine): during a wave of joins the reports took most of
 * KV's time and every join queued behind them. So this isolate writes them together: the latest
 * report of each member waits while a batch is being written (an older one it replaces is never
 * written), and the next batch reads every pending report's room and stored report in few reads
 * (`getMany`, 5 reports each) and commits them in one atomic operation per 45 reports, each still
 * checked against its room's member list and its stored report, exactly as a lone write is. A
 * batch that loses a check (a join or removal in one of its rooms) is written again one report
 * at a time, so one busy room costs the others nothing but a retry.
 *
 * A report that changes nothing (the same states, or no longer a member) is not written.
 */
import { chunk } from "./kv_chunks.ts";
import { roomKeys as keys } from "./keys.ts";
import { KV_LIMITS } from "./limits.ts";
import { changedLinkReport } from "./link_reports.ts";
import type { RoomStore } from "./store.ts";
import type { Links, LinkState, PeerId, RoomMeta } from "./types.ts";

/** One member's report, as its socket sent it. */
export interface LinkReport {
  room: string;
  peer: PeerId;
  states: Record<PeerId, LinkState>;
}

/** What a `LinkWriter` works with. */
export interface LinkWriterOptions {
  kv: Deno.Kv;
  store: RoomStore;
  /** Current time, ms (tests set it). */
  now?: () => number;
  /** A report was stored and changed the member's stored report to `links`. */
  stored: (report: LinkReport, links: Links) => void;
  /** A report could not be written (KV failed after retries). */
  failed: (report: LinkReport, error: unknown) => void;
  /** Tracks the writing task (the hub's `TaskTracker`), so `settle` and `stop` wait for it. */
  track: (task: Promise<void>) => void;
  /**
   * Resolves when the isolate has no join in progress, or after a short while: a batch waits for
   * it, so that joins, which someone is waiting for, do not queue behind reports in KV.
   */
  quiet?: () => Promise<void>;
}

/** Reports per `getMany`: each needs its room's meta and its own stored report. */
const READ_BATCH = Math.floor(KV_LIMITS.getManyKeys / 2);
/**
 * Reports per commit: each checks its room's meta and its stored report (two rooms' reports may
 * share the meta check), within KV's 100 checks per atomic operation, with room to spare.
 */
const WRITE_BATCH = Math.floor((KV_LIMITS.checks - 10) / 2);

/**
 * The link reports of one isolate's sockets, written in batches.
 *
 * @example
 * ```ts
 * const writer = new LinkWriter({ kv, store, stored, failed, track: (t) => tasks.track(t) });
 * writer.report(socketKey, { room, peer, states: { [other]: "connected" } });
 * ```
 */
export class LinkWriter {
  readonly #opts: LinkWriterOptions;
  readonly #now: () => number;
  /** The latest unwritten report per member (key: room and peer). */
  #pending = new Map<string, LinkReport>();
  #writing = false;

  constructor(opts: LinkWriterOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  /** Queues a member's report; it replaces that member's report still waiting, if any. */
  report(report: LinkReport): void {
    this.#pending.set(`${report.room}\n${report.peer}`, report);
    if (this.#writing) return;
    this.#writing = true;
    this.#opts.track(this.#drain());
  }

  async #drain(): Promise<void> {
    try {
      while (this.#pending.size > 0) {
        await this.#opts.quiet?.();
        const batch = [...this.#pending.values()];
        this.#pending.clear();
        await Promise.all(chunk(batch, WRITE_BATCH).map((part) => this.#write(part)));
      }
    } finally {
      this.#writing = false;
    }
  }

  /**
   * Writes up to `WRITE_BATCH` reports in one commit. If that commit loses a check (a room in it
   * changed meanwhile), each half is written again with fresh reads, down to single reports, which
   * the store writes with its own retries: the changed rooms are found in a few rounds, and the
   * other reports still share commits.
   */
  async #write(reports: LinkReport[]): Promise<void> {
    let plans: Plan[];
    try {
      plans = await this.#plan(reports);
      const changed = plans.filter((p) => p.next !== null);
      if (changed.length === 0) return;
      const op = this.#opts.kv.atomic();
      const checked = new Set<string>();
      for (const plan of changed) {
        const metaKey = JSON.stringify(plan.meta.key);
        if (!checked.has(metaKey)) op.check(plan.meta), checked.add(metaKey);
        op.check(plan.links).set(plan.links.key, plan.next);
      }
      if ((await op.commit()).ok) {
        for (const plan of changed) this.#opts.stored(plan.report, plan.next!);
        return;
      }
    } catch {
      // A failed batch (KV busy, "database is locked") is retried below, report by report,
      // with the store's retries and error reporting.
      return await this.#writeEach(reports);
    }
    if (reports.length === 1) return await this.#writeEach(reports);
    const half = Math.ceil(reports.length / 2);
    await Promise.all([this.#write(reports.slice(0, half)), this.#write(reports.slice(half))]);
  }

  async #writeEach(reports: LinkReport[]): Promise<void> {
    await Promise.all(reports.map(async (report) => {
      try {
        const links = await this.#opts.store.reportLinks(report.room, report.peer, report.states);
        if (links) this.#opts.stored(report, links);
      } catch (error) {
        this.#opts.failed(report, error);
      }
    }));
  }

  /** Reads what each report is checked against and works out what it would store. */
  async #plan(reports: LinkReport[]): Promise<Plan[]> {
    const { kv } = this.#opts;
    const parts = await Promise.all(
      chunk(reports, READ_BATCH).map(async (part) => {
        const entries = await kv.getMany<(RoomMeta | Links)[]>(
          part.flatMap((r) => [keys.room(r.room), keys.links(r.room, r.peer)]),
        );
        return part.map((report, i) => {
          const meta = entries[2 * i] as Deno.KvEntryMaybe<RoomMeta>;
          const links = entries[2 * i + 1] as Deno.KvEntryMaybe<Links>;
          const next = changedLinkReport(
            meta.value?.members,
            report.peer,
            links.value,
            report.states,
            this.#now(),
          );
          return { report, meta, links, next };
        });
      }),
    );
    return parts.flat();
  }
}

/** One report with what it was read against, and what it would store (null: nothing). */
interface Plan {
  report: LinkReport;
  meta: Deno.KvEntryMaybe<RoomMeta>;
  links: Deno.KvEntryMaybe<Links>;
  next: Links | null;
}
