/** The shared pool of Organizations, Locations and Practitioners that patients' resources reference. */
import type { FhirResource } from '../fhir/resource.js';
import { IDENTIFIER_TYPE, NPI } from './vocabulary/codes.js';
import { PAYERS } from './vocabulary/coverage.js';
import { CITIES, type City, FAMILY_NAMES, FEMALE_NAMES, MALE_NAMES, STREET_NAMES, STREET_SUFFIXES } from './vocabulary/demographics.js';
import { FACILITY_SUFFIXES, LOCATION_TYPE, ORGANIZATION_TYPE, QUALIFICATION_MD } from './vocabulary/organizations.js';
import { META } from './vocabulary/profiles.js';
import type { Rng } from './random.js';

export interface PractitionerInfo {
  id: string;
  ref: string;
  /** "Dr. Given Family", for notes. */
  name: string;
}

export interface Facility {
  orgId: string;
  orgRef: string;
  name: string;
  clinicRef: string;
  hospitalRef: string;
  practitioners: PractitionerInfo[];
  city: City;
}

export interface Payer {
  ref: string;
  name: string;
  kind: 'medicare' | 'medicaid' | 'private';
}

export interface Pool {
  facilities: Facility[];
  payers: Payer[];
}

/** Patients per facility (1 Organization, 2 Locations, 5 Practitioners each). */
export const PATIENTS_PER_FACILITY = 50;
export const MIN_FACILITIES = 3;
const PRACTITIONERS_PER_FACILITY = 5;

/** A 10-digit NPI with a valid Luhn check digit (computed over the 80840 prefix). */
export function npi(rng: Rng): string {
  const base = String(rng.int(1, 2)) + rng.digits(8);
  const payload = `80840${base}`;
  let sum = 0;
  let double = true;
  for (let i = payload.length - 1; i >= 0; i--) {
    let d = payload.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return base + String((10 - (sum % 10)) % 10);
}

/** A US phone number in the fictional 555-01xx range. */
export const phone = (rng: Rng, areaCode: string): string => `(${areaCode}) 555-01${rng.digits(2)}`;

export function streetLine(rng: Rng): string {
  return `${rng.int(1, 9999)} ${rng.pick(STREET_NAMES)} ${rng.pick(STREET_SUFFIXES)}`;
}

export function address(rng: Rng, c: City, use: 'home' | 'work'): object {
  return {
    use,
    line: [streetLine(rng)],
    city: c.city,
    state: c.state,
    postalCode: c.zip + rng.digits(2),
    country: 'US',
  };
}

/** Builds the pool for a population of `patients` and emits its resources. */
export function createPool(rng: Rng, tag: string, patients: number, emit: (resource: FhirResource) => void): Pool {
  const count = Math.max(MIN_FACILITIES, Math.ceil(patients / PATIENTS_PER_FACILITY));
  const facilities: Facility[] = [];
  for (let i = 1; i <= count; i++) {
    const c = rng.pick(CITIES);
    const name = `${c.city} ${rng.pick(FACILITY_SUFFIXES)}`;
    const orgId = `${tag}-org-${i}`;
    const orgRef = `Organization/${orgId}`;
    emit({
      resourceType: 'Organization',
      id: orgId,
      meta: META.organization,
      identifier: [{ system: NPI, value: npi(rng) }],
      active: true,
      type: ORGANIZATION_TYPE.provider,
      name,
      telecom: [{ system: 'phone', value: phone(rng, c.areaCode), use: 'work' }],
      address: [address(rng, c, 'work')],
    });
    const locations: string[] = [];
    for (const [suffix, type, n] of [
      ['Clinic', LOCATION_TYPE.clinic, 1],
      ['Hospital', LOCATION_TYPE.hospital, 2],
    ] as const) {
      const id = `${tag}-loc-${i}-${n}`;
      locations.push(`Location/${id}`);
      emit({
        resourceType: 'Location',
        id,
        meta: META.location,
        identifier: [{ system: 'https://flatfhir.example.org/sid/location', value: `${i}-${n}` }],
        status: 'active',
        name: `${name} ${suffix}`,
        mode: 'instance',
        type,
        telecom: [{ system: 'phone', value: phone(rng, c.areaCode), use: 'work' }],
        address: address(rng, c, 'work'),
        position: {
          longitude: Math.round((c.longitude + rng.real(-0.05, 0.05)) * 1e4) / 1e4,
          latitude: Math.round((c.latitude + rng.real(-0.05, 0.05)) * 1e4) / 1e4,
        },
        managingOrganization: { reference: orgRef },
      });
    }
    const practitioners: PractitionerInfo[] = [];
    for (let p = 1; p <= PRACTITIONERS_PER_FACILITY; p++) {
      const id = `${tag}-prac-${i}-${p}`;
      const female = rng.chance(0.5);
      const given = rng.pick(female ? FEMALE_NAMES : MALE_NAMES);
      const family = rng.pick(FAMILY_NAMES);
      practitioners.push({ id, ref: `Practitioner/${id}`, name: `Dr. ${given} ${family}` });
      emit({
        resourceType: 'Practitioner',
        id,
        meta: META.practitioner,
        identifier: [{ system: NPI, value: npi(rng) }],
        active: true,
        name: [{ use: 'official', family, given: [given], prefix: ['Dr.'] }],
        telecom: [
          { system: 'phone', value: phone(rng, c.areaCode), use: 'work' },
          { system: 'email', value: `${given}.${family}${p}@${tag}.example.org`.toLowerCase(), use: 'work' },
        ],
        address: [address(rng, c, 'work')],
        gender: female ? 'female' : 'male',
        qualification: QUALIFICATION_MD,
      });
    }
    facilities.push({
      orgId,
      orgRef,
      name,
      clinicRef: locations[0] as string,
      hospitalRef: locations[1] as string,
      practitioners,
      city: c,
    });
  }
  const payers: Payer[] = PAYERS.map((payer, i) => {
    const id = `${tag}-payer-${i + 1}`;
    const c = rng.pick(CITIES);
    emit({
      resourceType: 'Organization',
      id,
      meta: META.organization,
      identifier: [{ type: IDENTIFIER_TYPE.PRN, system: 'https://flatfhir.example.org/sid/payer', value: String(1000 + i) }],
      active: true,
      type: ORGANIZATION_TYPE.payer,
      name: payer.name,
      telecom: [{ system: 'phone', value: phone(rng, c.areaCode), use: 'work' }],
      address: [address(rng, c, 'work')],
    });
    return { ref: `Organization/${id}`, name: payer.name, kind: payer.kind };
  });
  return { facilities, payers };
}
