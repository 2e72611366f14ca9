/** The visit's clinical note (Binary, DocumentReference). */
import { base64, renderNote } from '../note-formats.js';
import { DOCUMENT_CATEGORY, DOCUMENT_CONTENT_TYPES, DOCUMENT_FORMAT } from '../vocabulary/documents.js';
import { META } from '../vocabulary/profiles.js';
import { dateOnly, instant, label, ref } from './format.js';
import { provenance } from './provenance.js';
import { MINUTE, type PatientRecord, REFERENCE_DATE, type Visit } from './record.js';

/** The visit's note: a Binary in one of five formats, the DocumentReference pointing at it, and Provenance. */
export function document(p: PatientRecord, visit: Visit): void {
  const rng = p.rng;
  const contentType = rng.weighted(DOCUMENT_CONTENT_TYPES);
  const title = visit.kind.note.text ?? 'Clinical note';
  const lines = [
    `Patient: ${p.name}, DOB ${dateOnly(p.birth)}, MRN ${p.mrn}`,
    `Date of service: ${visit.startText} at ${visit.facility.name}`,
    `Visit: ${visit.kind.type[0]?.text ?? ''}${visit.reason ? ` for ${label(visit.reason.code)}` : ''}`,
  ];
  if (visit.vitals) lines.push(`Vital signs: ${visit.vitals}`);
  for (const f of visit.findings) lines.push(f);
  lines.push(...(visit.plan.length > 0 ? visit.plan : ['Plan: continue current management.']));
  lines.push('Follow up as needed.', `Signed by ${visit.practitioner.name}`);
  const body = renderNote(contentType, title, lines);
  const binaryId = p.nextId();
  p.emit({ resourceType: 'Binary', id: binaryId, contentType, data: base64(body) });
  const id = p.nextId();
  const docRef = `DocumentReference/${id}`;
  const signed = Math.min(REFERENCE_DATE, visit.end + rng.int(5, 240) * MINUTE);
  p.emit({
    resourceType: 'DocumentReference',
    id,
    meta: META.documentReference,
    identifier: [{ system: 'https://flatfhir.example.org/sid/document', value: id }],
    status: 'current',
    docStatus: 'final',
    type: visit.kind.note,
    category: DOCUMENT_CATEGORY,
    subject: p.subject,
    date: instant(signed),
    author: [ref(visit.practitioner.ref)],
    authenticator: ref(visit.practitioner.ref),
    custodian: ref(visit.facility.orgRef),
    content: [
      {
        attachment: { contentType, url: `Binary/${binaryId}`, size: body.length, title, creation: visit.endText },
        format: DOCUMENT_FORMAT,
      },
    ],
    context: { encounter: [ref(visit.ref)], period: { start: visit.startText, end: visit.endText } },
  });
  provenance(p, docRef, signed, visit.practitioner.ref, visit.facility.orgRef, 0.15);
}
