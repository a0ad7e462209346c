/**
 * Full-mesh policy: which members to evict so that everyone left is connected to everyone else,
 * and which link disputes to show hosts instead of evicting anyone.
 * Pure and deterministic (no clock, no I/O); the caller passes `now` and applies the result.
 * The rules are specified in PROTOCOL.md ("Full-mesh guarantee").
 */
import type { LinkReport, Links, PeerId } from "./types.ts";

/** A member as the policy sees it: who, since when, whether a host, and its own link reports. */
export interface PolicyMember {
  peer: PeerId;
  joinedAt: number;
  /** Hosts are never evicted to satisfy non-hosts. */
  host: boolean;
  /** Its own reports about links to the others; missing entry = never reported. */
  links: Links;
}

/** A member to evict, with what it could not reach and why, for the UI. */
export interface Eviction {
  peer: PeerId;
  /** Members it has an overdue link with that it is blamed for (`judge`), sorted. */
  unreachable: PeerId[];
  /** Human text for the UI, e.g. "could not connect to 2 of 5 participants: ...". */
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

/** An overdue pair as the policy judges it. */
interface Judged extends Pair {
  /** Exactly one side claims `connected` and the other disagrees: evicts nobody by itself. */
  disputed: boolean;
  /**
   * The sides that may be blamed: those not reporting `connected` (the silent side included), or,
   * for a one-sided claim the rest of the room does not back, the claimant (`judge`).
   */
  blamable: PolicyMember[];
}

/** `from`'s report about its link to `to`; own keys only: "__defineGetter__" is a valid 16-character id. */
function reportOf(from: PolicyMember, to: PolicyMember): LinkReport | undefined {
  return Object.hasOwn(from.links, to.peer) ? from.links[to.peer] : undefined;
}

function connected(from: PolicyMember, to: PolicyMember): boolean {
  return reportOf(from, to)?.state === "connected";
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

/**
 * Whether `m` is reached by the rest of the room: some member other than `except` and `m` itself
 * reports `connected` with it, and it with them. Only a link both ends confirm counts: one side's
 * word is what a liar can give.
 */
function reachedByRest(m: PolicyMember, except: PolicyMember, members: PolicyMember[]): boolean {
  return members.some((c) => c !== m && c !== except && connected(m, c) && connected(c, m));
}

/**
 * How an overdue pair is judged when exactly one side (the claimant) says `connected` and the
 * other (the accused) does not, by reporting `connecting`/`failed` or by saying nothing. One of
 * them is wrong and the server cannot see the link, so the rest of the room decides:
 * - both reached by the rest: disputed, nobody is evicted for it (hosts see it);
 * - only one reached: the other one is to blame, whichever of the two it is (a liar who claims
 *   links nobody confirms, or a member nobody else reaches either);
 * - neither reached (no third member to tell): a silent side is to blame for its silence; two
 *   contradicting reports are disputed.
 * A host is never blamed this way when the other side is not a host: then it is disputed.
 */
function judge(pair: Pair, members: PolicyMember[]): Judged {
  const { a, b } = pair;
  const blamable = [a, b].filter((self) => !connected(self, self === a ? b : a));
  if (blamable.length !== 1) return { ...pair, disputed: false, blamable };
  const accused = blamable[0];
  const claimant = accused === a ? b : a;
  const accusedReached = reachedByRest(accused, claimant, members);
  const claimantReached = reachedByRest(claimant, accused, members);
  let blamed: PolicyMember | null;
  if (accusedReached && claimantReached) blamed = null;
  else if (accusedReached) blamed = claimant;
  else if (claimantReached) blamed = accused;
  else blamed = reportOf(accused, claimant) ? null : accused;
  const other = blamed === a ? b : a;
  if (blamed === null || (blamed.host && !other.host)) {
    return { ...pair, disputed: true, blamable };
  }
  return { ...pair, disputed: false, blamable: [blamed] };
}

/** How much one member is to blame for the remaining undisputed overdue pairs. */
interface Score {
  member: PolicyMember;
  /** Remaining undisputed pairs it is blamed for. */
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

/**
 * The member to evict next among the remaining undisputed overdue pairs (non-empty). Every such
 * pair has a blamable side, and a non-host one whenever it has a non-host side at all, so
 * non-hosts are considered first and hosts only for pairs of hosts.
 */
function pickVictim(pairs: Judged[]): PolicyMember {
  const scores = new Map<PolicyMember, Score>();
  for (const pair of pairs) {
    for (const self of pair.blamable) {
      const other = self === pair.a ? pair.b : pair.a;
      const score = scores.get(self) ?? { member: self, pairs: 0, bad: 0 };
      const report = reportOf(self, other);
      score.pairs++;
      if (!report || report.state === "failed") score.bad++;
      scores.set(self, score);
    }
  }
  const all = [...scores.values()];
  const nonHosts = all.filter((s) => !s.member.host);
  let best: Score | undefined;
  for (const score of nonHosts.length > 0 ? nonHosts : all) {
    if (!best || worse(score, best)) best = score;
  }
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
  const counted = `could not connect to ${unreachable} of ${others.length} ${noun}: `;
  // Failing with every one of several others points at its own network; with only some of them
  // (or with the only other member), the fault may be on either side, and the reports cannot tell.
  if (unreachable === others.length && others.length >= 2) {
    return counted + "a TURN server may be needed";
  }
  return counted + "a network on either side may be blocking peer-to-peer connections";
}

/** The decision at `now`: whom to evict, in order, and the disputes left standing. */
function settle(
  members: PolicyMember[],
  opts: PolicyOptions,
): { evictions: Eviction[]; disputes: [PeerId, PeerId][] } {
  const overdue = unhealthyPairs(members)
    .filter((p) => opts.now - p.start >= opts.deadlineMs)
    .map((p) => judge(p, members));
  const evictions: Eviction[] = [];
  const gone = new Set<PolicyMember>();
  let left = overdue.filter((p) => !p.disputed);
  // Greedy minimum cover of the undisputed pairs: evicting the member blamable in the most of
  // them fixes the most at once, so one bad link evicts one person and a newcomer who reaches
  // nobody evicts only itself. Disputed pairs never choose a victim.
  while (left.length > 0) {
    const victim = pickVictim(left);
    gone.add(victim);
    // Every overdue link it is blamed for, even with members evicted before it: that is what the
    // user sees, and what hosts can check.
    const unreachable = overdue
      .filter((p) => p.blamable.includes(victim))
      .map((p) => (p.a === victim ? p.b : p.a).peer)
      .sort(compareIds);
    evictions.push({
      peer: victim.peer,
      unreachable,
      reason: reasonFor(victim, members, unreachable.length, opts.deadlineMs),
    });
    left = left.filter((p) => p.a !== victim && p.b !== victim);
  }
  // A dispute with an evicted side is settled by that eviction.
  const disputes = overdue
    .filter((p) => p.disputed && !gone.has(p.a) && !gone.has(p.b))
    .map((p) => [p.a.peer, p.b.peer].sort(compareIds) as [PeerId, PeerId])
    .sort((x, y) => compareIds(x[0], y[0]) || compareIds(x[1], y[1]));
  return { evictions, disputes };
}

/** Members to evict now so that the rest form a full mesh, except for disputed links; empty when every overdue problem is resolved, disputed or still within its deadline. */
export function evaluateMesh(members: PolicyMember[], opts: PolicyOptions): Eviction[] {
  return settle(members, opts).evictions;
}

/**
 * Overdue links whose two sides disagree (one says `connected`, the other does not) and that
 * `evaluateMesh` leaves standing: nobody is evicted for them, hosts are shown them. Each pair's
 * ids sorted, the list sorted; pairs with a member `evaluateMesh` evicts now are left out.
 */
export function disputedPairs(members: PolicyMember[], opts: PolicyOptions): [PeerId, PeerId][] {
  return settle(members, opts).disputes;
}

/** When the next decision could change (earliest future deadline), or null: lets the caller schedule the next check instead of polling blindly. Disputed pairs count too: their deadline is when hosts must see them. */
export function nextDeadline(members: PolicyMember[], opts: PolicyOptions): number | null {
  let next: number | null = null;
  for (const { start } of unhealthyPairs(members)) {
    const due = start + opts.deadlineMs;
    // Already-due pairs are evaluateMesh's business now, not a future wake-up.
    if (due > opts.now && (next === null || due < next)) next = due;
  }
  return next;
}
