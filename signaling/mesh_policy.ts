/**
 * Full-mesh policy: which members to evict so that everyone left is connected to everyone else.
 * Pure and deterministic (no clock, no I/O); the caller passes `now` and applies the result.
 * The rules are specified in PROTOCOL.md ("Full-mesh guarantee").
 */
import type { LinkReport, Links, PeerId } from "./types.ts";

/** A member as the policy sees it: who, since when, and its own link reports. */
export interface PolicyMember {
  peer: PeerId;
  joinedAt: number;
  /** Its own reports about links to the others; missing entry = never reported. */
  links: Links;
}

/** A member to evict, with what it could not reach and why, for the UI. */
export interface Eviction {
  peer: PeerId;
  /** Other members it could not reach. */
  unreachable: PeerId[];
  /** Human text for the UI, e.g. "could not connect to 2 of 5 participants: a TURN server may be needed". */
  reason: string;
}

/** The moment of the decision and the deadline a link has to connect. */
export interface PolicyOptions {
  now: number;
  deadlineMs: number;
}

/** An unhealthy pair and the moment its clock started. */
interface Pair {
  a: PolicyMember;
  b: PolicyMember;
  start: number;
}

/** `from`'s report about its link to `to`; own keys only: "__defineGetter__" is a valid 16-character id. */
function reportOf(from: PolicyMember, to: PolicyMember): LinkReport | undefined {
  return Object.hasOwn(from.links, to.peer) ? from.links[to.peer] : undefined;
}

/**
 * Up to when one side last knew the link fine: still fine (Infinity) when it reports "connected",
 * until its current non-connected state began otherwise, and never (-Infinity) without a report.
 */
function lastFine(report: LinkReport | undefined): number {
  if (!report) return -Infinity;
  return report.state === "connected" ? Infinity : report.since;
}

/** Plain code-unit order: locale-independent, so results never depend on where the server runs. */
function compareIds(x: PeerId, y: PeerId): number {
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Every unhealthy pair with the moment its clock started. */
function unhealthyPairs(members: PolicyMember[]): Pair[] {
  const pairs: Pair[] = [];
  for (let i = 0; i < members.length; i++) {
    for (let j = i + 1; j < members.length; j++) {
      const a = members[i], b = members[j];
      // The pair was fine only while *both* sides were, hence the earlier of the two.
      const fine = Math.min(lastFine(reportOf(a, b)), lastFine(reportOf(b, a)));
      if (fine === Infinity) continue; // both say "connected": healthy
      // Nobody can be blamed for the time before both were in the room.
      pairs.push({ a, b, start: Math.max(a.joinedAt, b.joinedAt, fine) });
    }
  }
  return pairs;
}

/** How much one member is to blame for the remaining overdue pairs. */
interface Score {
  member: PolicyMember;
  pairs: number;
  /** Its own reports on those pairs that are "failed" or missing: the failing or silent side. */
  bad: number;
}

/** Whether `a` should be evicted before `b` (order: PROTOCOL.md, "Full-mesh guarantee"). */
function worse(a: Score, b: Score): boolean {
  if (a.pairs !== b.pairs) return a.pairs > b.pairs;
  if (a.bad !== b.bad) return a.bad > b.bad;
  // Newcomers are the usual cause; incumbents were healthy before they arrived.
  if (a.member.joinedAt !== b.member.joinedAt) return a.member.joinedAt > b.member.joinedAt;
  return compareIds(a.member.peer, b.member.peer) > 0;
}

/** The member to evict next among the remaining overdue pairs (non-empty). */
function pickVictim(pairs: Pair[]): PolicyMember {
  const scores = new Map<PolicyMember, Score>();
  const count = (self: PolicyMember, other: PolicyMember) => {
    const score = scores.get(self) ?? { member: self, pairs: 0, bad: 0 };
    const report = reportOf(self, other);
    score.pairs++;
    if (!report || report.state === "failed") score.bad++;
    scores.set(self, score);
  };
  for (const { a, b } of pairs) {
    count(a, b);
    count(b, a);
  }
  let best: Score | undefined;
  for (const score of scores.values()) if (!best || worse(score, best)) best = score;
  return best!.member;
}

function reasonFor(
  member: PolicyMember,
  members: PolicyMember[],
  unreachable: number,
  deadlineMs: number,
): string {
  const others = members.filter((m) => m !== member);
  if (others.every((o) => !reportOf(member, o))) {
    const seconds = Math.round(deadlineMs / 100) / 10;
    return `did not report its connections within ${seconds} s: ` +
      "the browser may be outdated or blocked";
  }
  const noun = others.length === 1 ? "participant" : "participants";
  return `could not connect to ${unreachable} of ${others.length} ${noun}: ` +
    "a TURN server may be needed";
}

/** Members to evict now so that the rest form a full mesh; empty when every overdue problem is resolved or still within its deadline. */
export function evaluateMesh(members: PolicyMember[], opts: PolicyOptions): Eviction[] {
  const overdue = unhealthyPairs(members).filter((p) => opts.now - p.start >= opts.deadlineMs);
  const evictions: Eviction[] = [];
  let left = overdue;
  // Greedy minimum cover: evicting the member in the most overdue pairs fixes the most at once,
  // so one bad link evicts one person and a newcomer who reaches nobody evicts only itself.
  while (left.length > 0) {
    const victim = pickVictim(left);
    // Everyone it failed to reach, even members evicted before it: that is what the user sees.
    const unreachable = overdue
      .filter((p) => p.a === victim || p.b === victim)
      .map((p) => (p.a === victim ? p.b : p.a).peer)
      .sort(compareIds);
    evictions.push({
      peer: victim.peer,
      unreachable,
      reason: reasonFor(victim, members, unreachable.length, opts.deadlineMs),
    });
    left = left.filter((p) => p.a !== victim && p.b !== victim);
  }
  return evictions;
}

/** When the next decision could change (earliest future deadline), or null: lets the caller schedule the next check instead of polling blindly. */
export function nextDeadline(members: PolicyMember[], opts: PolicyOptions): number | null {
  let next: number | null = null;
  for (const { start } of unhealthyPairs(members)) {
    const due = start + opts.deadlineMs;
    // Already-due pairs are evaluateMesh's business now, not a future wake-up.
    if (due > opts.now && (next === null || due < next)) next = due;
  }
  return next;
}
