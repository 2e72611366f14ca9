/** Imaging and ECG orders and their reports (ServiceRequest, DiagnosticReport with a presentedForm). */
import { base64, renderNote } from '../note-formats.js';
import { NOTE_REPORTS, type NoteReportKey, REPORT_FORM_TYPES, SERVICE_CATEGORY_IMAGING } from '../vocabulary/observations.js';
import { META } from '../vocabulary/profiles.js';
import { dateOnly, instant, ref } from './format.js';
import { HOUR, MINUTE, type PatientRecord, type Visit } from './record.js';

/** Imaging or ECG: ServiceRequest + DiagnosticReport (note), usually with an inline presentedForm. */
export function noteReport(p: PatientRecord, visit: Visit, key: NoteReportKey): void {
  const rng = p.rng;
  const report = NOTE_REPORTS[key];
  const at = Math.min(visit.start + 30 * MINUTE, visit.end);
  const atText = instant(at);
  const srId = p.nextId();
  p.emit({
    resourceType: 'ServiceRequest',
    id: srId,
    meta: META.serviceRequest,
    status: 'completed',
    intent: 'order',
    category: SERVICE_CATEGORY_IMAGING,
    code: report.order,
    subject: p.subject,
    encounter: ref(visit.ref),
    occurrenceDateTime: atText,
    authoredOn: visit.startText,
    requester: ref(visit.practitioner.ref),
    ...(visit.reason ? { reasonReference: [ref(visit.reason.ref)] } : {}),
  });
  const finding = rng.pick(report.findings);
  const interpreter = rng.pick(visit.facility.practitioners);
  const issuedText = instant(at + rng.int(1, 6) * HOUR);
  const withForm = rng.chance(0.7);
  const formType = rng.weighted(REPORT_FORM_TYPES);
  const formLines = [`Patient: ${p.name}, DOB ${dateOnly(p.birth)}`, `Date: ${atText}`, `Findings: ${finding}`, `Interpreted by ${interpreter.name}.`];
  p.emit({
    resourceType: 'DiagnosticReport',
    id: p.nextId(),
    meta: META.reportNote,
    basedOn: [ref(`ServiceRequest/${srId}`)],
    status: 'final',
    category: report.category,
    code: report.code,
    subject: p.subject,
    encounter: ref(visit.ref),
    effectiveDateTime: atText,
    issued: issuedText,
    performer: [ref(interpreter.ref)],
    resultsInterpreter: [ref(interpreter.ref)],
    conclusion: finding,
    ...(withForm
      ? {
          presentedForm: [
            {
              contentType: formType,
              data: base64(renderNote(formType, report.code.text ?? '', formLines)),
              title: report.code.text ?? '',
              creation: issuedText,
            },
          ],
        }
      : {}),
  });
  visit.findings.push(`${report.code.text ?? ''}: ${finding}`);
}
