import { referencedId } from './compartment.js';

export interface GroupMember {
  patientId: string;
  /** When the membership started (member.period.start), if known. */
  start?: number;
}

interface GroupLike {
  resourceType?: string;
  member?: { entity?: { reference?: string }; inactive?: boolean; period?: { start?: string; end?: string } }[];
}

/**
 * The patients who are members of a group at `at`: `member.entity` references to Patient, leaving out members
 * marked inactive and members whose period has ended (or not yet begun).
 */
export function activeMembers(group: GroupLike, at: number): GroupMember[] {
  const out = new Map<string, GroupMember>();
  for (const m of group.member ?? []) {
    if (m.inactive === true) continue;
    const ref = m.entity?.reference;
    if (typeof ref !== 'string') continue;
    const id = referencedId(ref, 'Patient');
    if (!id) continue;
    const start = m.period?.start ? Date.parse(m.period.start) : undefined;
    const end = m.period?.end ? Date.parse(m.period.end) : undefined;
    if (end !== undefined && !Number.isNaN(end) && end < at) continue;
    if (start !== undefined && !Number.isNaN(start) && start > at) continue;
    const member: GroupMember = { patientId: id };
    if (start !== undefined && !Number.isNaN(start)) member.start = start;
    out.set(id, member);
  }
  return [...out.values()].sort((a, b) => (a.patientId < b.patientId ? -1 : a.patientId > b.patientId ? 1 : 0));
}

/** How many member entries a Group lists (for the group size limit). */
export const memberCount = (group: GroupLike): number => (Array.isArray(group.member) ? group.member.length : 0);
