import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePopulation, generateResources, SYNTHETIC_TYPES } from '../src/synthetic/index.js';

const PATIENTS = 20;
const SEED = 'test-seed';
const EXPECTED_TYPES = [
  'Patient',
  'AllergyIntolerance',
  'CarePlan',
  'CareTeam',
  'Condition',
  'Coverage',
  'Device',
  'DiagnosticReport',
  'DocumentReference',
  'Encounter',
  'Goal',
  'Immunization',
  'MedicationDispense',
  'MedicationRequest',
  'Observation',
  'Procedure',
  'ServiceRequest',
  'RelatedPerson',
  'Organization',
  'Location',
  'Practitioner',
  'Provenance',
  'Binary',
];
const ID = /^[A-Za-z0-9\-.]{1,64}$/;

type Json = Record<string, unknown>;

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'flatfhir-generate-'));
const dirA = path.join(tmpRoot, 'a');
const dirB = path.join(tmpRoot, 'b');
const dirC = path.join(tmpRoot, 'c');

function readDir(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const name of fs.readdirSync(dir).sort()) files.set(name, fs.readFileSync(path.join(dir, name)));
  return files;
}

/** Every `reference` string anywhere below `node`. */
function references(node: unknown, out: string[]): void {
  if (Array.isArray(node)) {
    for (const item of node) references(item, out);
  } else if (node !== null && typeof node === 'object') {
    for (const [key, value] of Object.entries(node as Json)) {
      if (key === 'reference' && typeof value === 'string') out.push(value);
      else if (typeof value === 'object') references(value, out);
    }
  }
}

/** Resources by type, parsed from the NDJSON files of `dir`. */
let byType: Map<string, Json[]>;
const progress: [number, number][] = [];
let counts: Record<string, number>;

beforeAll(async () => {
  const result = await generatePopulation({
    patients: PATIENTS,
    seed: SEED,
    out: dirA,
    onProgress: (done, total) => progress.push([done, total]),
  });
  counts = result.counts;
  await generatePopulation({ patients: PATIENTS, seed: SEED, out: dirB });
  await generatePopulation({ patients: PATIENTS, seed: 'another-seed', out: dirC });
  byType = new Map();
  for (const name of fs.readdirSync(dirA)) {
    const type = name.replace(/\.ndjson$/, '');
    const text = fs.readFileSync(path.join(dirA, name), 'utf8');
    const lines = text.split('\n');
    expect(lines.pop()).toBe('');
    byType.set(
      type,
      lines.map((line) => JSON.parse(line) as Json),
    );
  }
});

afterAll(() => {
  fs.rmSync(tmpRoot, { recursive: true, force: true });
});

describe('generatePopulation', () => {
  it('writes one NDJSON file per type and reports the counts', () => {
    expect(fs.readdirSync(dirA).sort()).toEqual(SYNTHETIC_TYPES.map((t) => `${t}.ndjson`).sort());
    for (const [type, resources] of byType) expect(counts[type], type).toBe(resources.length);
    expect(progress.length).toBe(PATIENTS);
    expect(progress.at(-1)).toEqual([PATIENTS, PATIENTS]);
  });

  it('is deterministic: the same seed gives identical bytes, another seed differs', () => {
    const a = readDir(dirA);
    const b = readDir(dirB);
    const c = readDir(dirC);
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [name, bytes] of a) expect(bytes.equals(b.get(name) as Buffer), name).toBe(true);
    expect(a.get('Patient.ndjson')?.equals(c.get('Patient.ndjson') as Buffer)).toBe(false);
    expect(a.get('Observation.ndjson')?.equals(c.get('Observation.ndjson') as Buffer)).toBe(false);
  });

  it('gives the pinned bytes for its seed and size (a refactoring of the generator must not change its output)', () => {
    // Change this digest only with a change that means to change the generated data, and say so in its commit.
    const digest = createHash('sha256');
    for (const [name, bytes] of readDir(dirA)) digest.update(`${name}\n`).update(bytes);
    expect(digest.digest('hex')).toBe('0c7c4ccf7afa64c44b5df53711b1e84c54c1af04617bc60b27fc311e3db367ae');
  });

  it('matches the in-memory generator', () => {
    const resources = generateResources(SEED, PATIENTS);
    const patients = resources.filter((r) => r.resourceType === 'Patient').map((r) => JSON.stringify(r));
    expect(patients).toEqual((byType.get('Patient') ?? []).map((r) => JSON.stringify(r)));
    expect(resources.length).toBe(Object.values(counts).reduce((s, n) => s + n, 0));
  });

  it('writes valid resources of the file type with unique FHIR ids and no server meta', () => {
    const ids = new Set<string>();
    for (const [type, resources] of byType) {
      for (const r of resources) {
        expect(r['resourceType']).toBe(type);
        const id = r['id'] as string;
        expect(id).toMatch(ID);
        expect(ids.has(id), `duplicate id ${id}`).toBe(false);
        ids.add(id);
        const meta = r['meta'] as Json | undefined;
        expect(meta?.['versionId']).toBeUndefined();
        expect(meta?.['lastUpdated']).toBeUndefined();
      }
    }
  });

  it('contains every expected resource type', () => {
    for (const type of EXPECTED_TYPES) expect(byType.get(type)?.length ?? 0, type).toBeGreaterThan(0);
    expect(byType.get('Patient')?.length).toBe(PATIENTS);
  });

  it('resolves every reference and attachment url to a generated resource', () => {
    const known = new Set<string>();
    for (const [type, resources] of byType) for (const r of resources) known.add(`${type}/${r['id'] as string}`);
    let checked = 0;
    for (const resources of byType.values()) {
      for (const r of resources) {
        const refs: string[] = [];
        references(r, refs);
        for (const reference of refs) {
          expect(reference).toMatch(/^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/);
          expect(known.has(reference), `${r['resourceType'] as string}/${r['id'] as string} -> ${reference}`).toBe(true);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(1000);
    for (const doc of byType.get('DocumentReference') ?? []) {
      for (const content of doc['content'] as { attachment: { url: string } }[]) {
        expect(known.has(content.attachment.url), content.attachment.url).toBe(true);
      }
    }
  });

  it('links patient data to the patient through subject or patient', () => {
    const patients = new Set((byType.get('Patient') ?? []).map((p) => `Patient/${p['id'] as string}`));
    const via: Record<string, string> = {
      AllergyIntolerance: 'patient',
      CarePlan: 'subject',
      CareTeam: 'subject',
      Condition: 'subject',
      Coverage: 'beneficiary',
      Device: 'patient',
      DiagnosticReport: 'subject',
      DocumentReference: 'subject',
      Encounter: 'subject',
      Goal: 'subject',
      Immunization: 'patient',
      MedicationDispense: 'subject',
      MedicationRequest: 'subject',
      Observation: 'subject',
      Procedure: 'subject',
      ServiceRequest: 'subject',
      RelatedPerson: 'patient',
    };
    for (const [type, field] of Object.entries(via)) {
      for (const r of byType.get(type) ?? []) {
        const reference = (r[field] as { reference?: string } | undefined)?.reference ?? '';
        expect(patients.has(reference), `${type}/${r['id'] as string}.${field}`).toBe(true);
      }
    }
  });

  it('writes DocumentReference attachments of all five content types, backed by matching Binary resources', () => {
    const binaries = new Map((byType.get('Binary') ?? []).map((b) => [`Binary/${b['id'] as string}`, b]));
    const contentTypes = new Set<string>();
    for (const doc of byType.get('DocumentReference') ?? []) {
      expect(doc['category']).toEqual([expect.objectContaining({ coding: [expect.objectContaining({ code: 'clinical-note' })] })]);
      const attachment = (doc['content'] as { attachment: { contentType: string; url: string; size: number } }[])[0]?.attachment;
      expect(attachment).toBeDefined();
      if (!attachment) continue;
      contentTypes.add(attachment.contentType);
      const binary = binaries.get(attachment.url);
      expect(binary?.['contentType']).toBe(attachment.contentType);
      const body = Buffer.from(binary?.['data'] as string, 'base64');
      expect(body.length).toBe(attachment.size);
      if (attachment.contentType === 'application/pdf') expect(body.subarray(0, 5).toString()).toBe('%PDF-');
    }
    expect([...contentTypes].sort()).toEqual(['application/pdf', 'application/xhtml+xml', 'text/html', 'text/plain', 'text/xml']);
    const withForm = (byType.get('DiagnosticReport') ?? []).filter((r) => Array.isArray(r['presentedForm']));
    expect(withForm.length).toBeGreaterThan(0);
  });

  it('writes US Core shaped vital signs and laboratory observations', () => {
    const codes = new Map<string, Set<string>>();
    for (const o of byType.get('Observation') ?? []) {
      const category = (o['category'] as { coding: { code: string }[] }[])[0]?.coding[0]?.code ?? '';
      const code = (o['code'] as { coding: { code: string }[] }).coding[0]?.code ?? '';
      if (!codes.has(category)) codes.set(category, new Set());
      codes.get(category)?.add(code);
      expect((o['meta'] as { profile: string[] }).profile[0]).toMatch(/^http:\/\/hl7\.org\/fhir\/us\/core\/StructureDefinition\//);
      if (code === '85354-9') {
        const components = (o['component'] as { code: { coding: { code: string }[] }; valueQuantity: { code: string } }[]).map(
          (c) => `${c.code.coding[0]?.code ?? ''} ${c.valueQuantity.code}`,
        );
        expect(components).toEqual(['8480-6 mm[Hg]', '8462-4 mm[Hg]']);
      } else {
        expect((o['valueQuantity'] as { system: string }).system).toBe('http://unitsofmeasure.org');
      }
    }
    expect([...codes.keys()].sort()).toEqual(['laboratory', 'vital-signs']);
    for (const code of ['8867-4', '85354-9', '29463-7', '8302-2', '39156-5']) expect(codes.get('vital-signs')?.has(code), code).toBe(true);
    expect(codes.get('laboratory')?.size ?? 0).toBeGreaterThan(5);
  });

  it('has 150-300 resources per patient on average, with a long tail', () => {
    const total = Object.values(counts).reduce((s, n) => s + n, 0);
    const average = total / PATIENTS;
    expect(average).toBeGreaterThanOrEqual(150);
    expect(average).toBeLessThanOrEqual(300);
    const perPatient = new Map<string, number>();
    for (const e of byType.get('Encounter') ?? []) {
      const p = (e['subject'] as { reference: string }).reference;
      perPatient.set(p, (perPatient.get(p) ?? 0) + 1);
    }
    const encounters = [...perPatient.values()].sort((a, b) => a - b);
    const median = encounters[Math.floor(encounters.length / 2)] ?? 0;
    expect(encounters.at(-1) ?? 0).toBeGreaterThan(2 * median);
  });

  it('writes Provenance for clinical resources, several with different recorded times for some targets', () => {
    const byTarget = new Map<string, string[]>();
    for (const p of byType.get('Provenance') ?? []) {
      const target = (p['target'] as { reference: string }[])[0]?.reference ?? '';
      expect(target).toMatch(/^(Condition|Encounter|DocumentReference)\//);
      const agent = (p['agent'] as { who: { reference: string }; onBehalfOf: { reference: string } }[])[0];
      expect(agent?.who.reference).toMatch(/^Practitioner\//);
      expect(agent?.onBehalfOf.reference).toMatch(/^Organization\//);
      byTarget.set(target, [...(byTarget.get(target) ?? []), p['recorded'] as string]);
    }
    const multiple = [...byTarget.values()].filter((times) => times.length >= 2);
    expect(multiple.length).toBeGreaterThan(0);
    for (const times of multiple) expect(new Set(times).size).toBe(times.length);
    for (const type of ['Condition', 'Encounter', 'DocumentReference']) {
      for (const r of byType.get(type) ?? []) expect(byTarget.has(`${type}/${r['id'] as string}`), `${type}/${r['id'] as string}`).toBe(true);
    }
  });

  it('rejects an invalid patient count', async () => {
    await expect(generatePopulation({ patients: -1, seed: 1, out: path.join(tmpRoot, 'bad') })).rejects.toThrow(RangeError);
  });
});
