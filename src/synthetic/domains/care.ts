/** The care team, goals and care plans (CareTeam, Goal, CarePlan). */
import { CARE_TEAM_ROLE, CAREPLAN_ASSESS_PLAN, GOAL_ACHIEVED, GOAL_IN_PROGRESS, HEALTH_MAINTENANCE } from '../vocabulary/care.js';
import type { CodeableConcept } from '../vocabulary/codes.js';
import { META } from '../vocabulary/profiles.js';
import { dateOnly, instant, ref } from './format.js';
import { DAY, HISTORY_YEARS, type PatientRecord, REFERENCE_DATE, YEAR } from './record.js';

export function careTeam(p: PatientRecord): void {
  const rng = p.rng;
  const id = p.nextId();
  p.careTeamRef = `CareTeam/${id}`;
  const participants: object[] = [
    { role: CARE_TEAM_ROLE.patient, member: p.subject },
    { role: CARE_TEAM_ROLE.professional, member: ref(p.pcp.ref), onBehalfOf: ref(p.home.orgRef) },
  ];
  if (p.chronic.length > 1 || rng.chance(0.3)) {
    const other = rng.pick(p.ctx.pool.facilities);
    participants.push({ role: CARE_TEAM_ROLE.professional, member: ref(rng.pick(other.practitioners).ref), onBehalfOf: ref(other.orgRef) });
  }
  const caregiver = p.relatedRefs[0];
  if (caregiver && (p.band === 0 || p.band === 3)) participants.push({ role: CARE_TEAM_ROLE.caregiver, member: ref(caregiver) });
  participants.push({ role: CARE_TEAM_ROLE.organization, member: ref(p.home.orgRef) });
  p.emit({
    resourceType: 'CareTeam',
    id,
    meta: META.careTeam,
    status: 'active',
    name: `Primary care team of ${p.name}`,
    subject: p.subject,
    period: { start: dateOnly(Math.max(p.birth, REFERENCE_DATE - HISTORY_YEARS * YEAR)) },
    participant: participants,
    managingOrganization: [ref(p.home.orgRef)],
  });
}

function goal(p: PatientRecord, description: string, start: number, addresses: string | undefined, measure?: CodeableConcept, target?: object): string {
  const rng = p.rng;
  const id = p.nextId();
  const achieved = rng.chance(0.25);
  const due = start + rng.int(90, 720) * DAY;
  p.emit({
    resourceType: 'Goal',
    id,
    meta: META.goal,
    lifecycleStatus: achieved ? 'completed' : 'active',
    achievementStatus: achieved ? GOAL_ACHIEVED : GOAL_IN_PROGRESS,
    description: { text: description },
    subject: p.subject,
    startDate: dateOnly(start),
    target: [{ ...(measure ? { measure } : {}), ...(target ? { detailQuantity: target } : {}), dueDate: dateOnly(due) }],
    expressedBy: ref(p.pcp.ref),
    ...(addresses ? { addresses: [ref(addresses)] } : {}),
  });
  return `Goal/${id}`;
}

function carePlan(p: PatientRecord, category: CodeableConcept, activities: readonly CodeableConcept[], start: number, condition: string | undefined, goals: string[], conditionText: string): void {
  const id = p.nextId();
  const items = activities.map((a) => `<li>${a.text ?? ''}</li>`).join('');
  p.emit({
    resourceType: 'CarePlan',
    id,
    meta: META.carePlan,
    text: {
      status: 'generated',
      div: `<div xmlns="http://www.w3.org/1999/xhtml">Care Plan for ${category.text ?? ''}.<br/>Activities: <ul>${items}</ul>Care plan is meant to treat ${conditionText}.</div>`,
    },
    status: 'active',
    intent: 'plan',
    category: [CAREPLAN_ASSESS_PLAN, category],
    subject: p.subject,
    period: { start: instant(start) },
    careTeam: [ref(p.careTeamRef)],
    ...(condition ? { addresses: [ref(condition)] } : {}),
    ...(goals.length > 0 ? { goal: goals.map(ref) } : {}),
    activity: activities.map((code) => ({
      detail: { code, status: 'in-progress', location: ref(p.home.clinicRef), performer: [ref(p.pcp.ref)] },
    })),
  });
}

export function goalsAndCarePlans(p: PatientRecord): void {
  const start = Math.max(p.birth, REFERENCE_DATE - HISTORY_YEARS * YEAR);
  const general = goal(p, p.band === 0 ? HEALTH_MAINTENANCE.goal.child : HEALTH_MAINTENANCE.goal.adult, p.between(start, p.end), undefined);
  carePlan(p, HEALTH_MAINTENANCE.category, HEALTH_MAINTENANCE.activities, p.between(start, p.end), undefined, [general], HEALTH_MAINTENANCE.conditionText);
  for (const c of p.chronic) {
    const goals: string[] = [];
    const t = Math.max(c.onset, start);
    if (c.def.goal) goals.push(goal(p, c.def.goal.description, t, c.ref, c.def.goal.measure, c.def.goal.target));
    if (c.def.carePlan) carePlan(p, c.def.carePlan.category, c.def.carePlan.activities, t, c.ref, goals, c.def.code.text ?? '');
  }
}
