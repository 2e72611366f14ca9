/** Insurance over the years of the record (Coverage). */
import { type CodeableConcept, IDENTIFIER_TYPE } from '../vocabulary/codes.js';
import { COVERAGE_CLASS_GROUP, COVERAGE_TYPES, SUBSCRIBER_CHILD, SUBSCRIBER_SELF, SUBSCRIBER_SPOUSE } from '../vocabulary/coverage.js';
import { META } from '../vocabulary/profiles.js';
import { dateOnly, ref } from './format.js';
import { HISTORY_YEARS, type PatientRecord, REFERENCE_DATE, YEAR } from './record.js';

export function coverage(p: PatientRecord): void {
  const rng = p.rng;
  const payers = p.ctx.pool.payers;
  const privatePayers = payers.filter((p) => p.kind === 'private');
  const medicare = payers.find((p) => p.kind === 'medicare');
  const medicaid = payers.find((p) => p.kind === 'medicaid');
  const sixtyFive = p.birth + 65 * YEAR;
  const historyStart = Math.max(p.birth, REFERENCE_DATE - HISTORY_YEARS * YEAR);
  const plans: { type: CodeableConcept; payor: string; start: number; end?: number; dependent: boolean; group?: string }[] = [];
  if (p.band === 3 && medicare) {
    const start = Math.max(sixtyFive, p.birth);
    plans.push({ type: COVERAGE_TYPES.medicare, payor: medicare.ref, start, dependent: false });
    if (sixtyFive > historyStart) {
      const payer = rng.pick(privatePayers);
      plans.unshift({ type: COVERAGE_TYPES.private, payor: payer.ref, start: historyStart, end: sixtyFive, dependent: false, group: payer.name });
    }
  } else if (rng.chance(p.band === 0 ? 0.35 : 0.15) && medicaid) {
    plans.push({ type: COVERAGE_TYPES.medicaid, payor: medicaid.ref, start: historyStart, dependent: false });
  } else if (rng.chance(0.08)) {
    plans.push({ type: COVERAGE_TYPES.selfPay, payor: p.ref, start: historyStart, dependent: false });
  } else {
    const payer = rng.pick(privatePayers);
    const dependent = p.band === 0 || (p.spouseRef !== undefined && rng.chance(0.3));
    if (rng.chance(0.4)) {
      const switchAt = p.between(historyStart + YEAR, REFERENCE_DATE - YEAR);
      const previous = rng.pick(privatePayers);
      plans.push({ type: COVERAGE_TYPES.private, payor: previous.ref, start: historyStart, end: switchAt, dependent, group: previous.name });
      plans.push({ type: COVERAGE_TYPES.private, payor: payer.ref, start: switchAt, dependent, group: payer.name });
    } else {
      plans.push({ type: COVERAGE_TYPES.private, payor: payer.ref, start: historyStart, dependent, group: payer.name });
    }
  }
  for (const plan of plans) {
    const id = p.nextId();
    const subscriber = plan.dependent ? (p.band === 0 ? p.relatedRefs[0] : p.spouseRef) : undefined;
    const member = `${rng.hex(3).toUpperCase()}${rng.digits(9)}`;
    const ended = plan.end !== undefined && plan.end < p.end;
    p.emit({
      resourceType: 'Coverage',
      id,
      meta: META.coverage,
      identifier: [{ type: IDENTIFIER_TYPE.MB, system: 'https://flatfhir.example.org/sid/member', value: member }],
      status: 'active',
      type: plan.type,
      ...(subscriber ? { subscriber: ref(subscriber) } : {}),
      subscriberId: member,
      beneficiary: p.subject,
      relationship: subscriber ? (p.band === 0 ? SUBSCRIBER_CHILD : SUBSCRIBER_SPOUSE) : SUBSCRIBER_SELF,
      period: ended ? { start: dateOnly(plan.start), end: dateOnly(plan.end as number) } : { start: dateOnly(plan.start) },
      payor: [ref(plan.payor)],
      ...(plan.group ? { class: [{ type: COVERAGE_CLASS_GROUP, value: `GRP-${rng.digits(5)}`, name: `${plan.group} Group` }] } : {}),
    });
  }
}
