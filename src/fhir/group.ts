import { referencedId } from './compartment.js';

export interface GroupMember {
  patientId: string;
  /** When the membership started (member.period.start), if known. */
  start?: number;
}

/** The Bulk Data v3 Bulk Cohort modifier extension whose expressions define a dynamic group's members. */
export const MEMBER_FILTER_URL = 'http://hl7.org/fhir/uv/bulkdata/StructureDefinition/member-filter';
export const BULK_COHORT_PROFILE = 'http://hl7.org/fhir/uv/bulkdata/StructureDefinition/bulk-cohort-group';

interface GroupLike {
  resourceType?: string;
  modifierExtension?: { url?: string; valueExpression?: { expression?: string } }[];
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

/** Whether a group's active members are the same at any time: no member entry has a period. */
export const membersAtAnyTime = (group: GroupLike): boolean => !(group.member ?? []).some((m) => m.period?.start !== undefined || m.period?.end !== undefined);

/** How many member entries a Group lists (for the group size limit). */
export const memberCount = (group: GroupLike): number => (Array.isArray(group.member) ? group.member.length : 0);

/** A dynamic group's member-filter expressions (empty for a group of listed members). */
export const memberFilters = (group: GroupLike): string[] =>
  (Array.isArray(group.modifierExtension) ? group.modifierExtension : [])
    .filter((e) => e?.url === MEMBER_FILTER_URL)
    .map((e) => e.valueExpression?.expression)
    .filter((x): x is string => typeof x === 'string');
