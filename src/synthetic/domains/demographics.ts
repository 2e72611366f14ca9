/** The Patient and the people related to them (RelatedPerson). */
import type { FhirResource } from '../../fhir/resource.js';
import { address, phone } from '../common.js';
import { type CodeableConcept, IDENTIFIER_TYPE } from '../vocabulary/codes.js';
import { BIRTH_SEX, CITIES, ETHNICITY_HISPANIC, ETHNICITY_NOT_HISPANIC, FAMILY_NAMES, FEMALE_NAMES, LANGUAGES, MALE_NAMES, MARITAL_STATUS, RACES, RELATIONSHIP } from '../vocabulary/demographics.js';
import { META } from '../vocabulary/profiles.js';
import { dateOnly, instant, ref } from './format.js';
import { type PatientRecord, REFERENCE_DATE } from './record.js';

export function patient(p: PatientRecord): void {
  const rng = p.rng;
  const c = rng.pick(CITIES);
  const given = rng.pick(p.female ? FEMALE_NAMES : MALE_NAMES);
  const middle = rng.pick(p.female ? FEMALE_NAMES : MALE_NAMES);
  const family = rng.pick(FAMILY_NAMES);
  p.name = `${given} ${family}`;
  p.mrn = rng.digits(8);
  const hispanic = rng.chance(0.18);
  const race = rng.weighted(RACES);
  const married = p.band >= 1 && rng.chance(p.band === 1 ? 0.4 : 0.6);
  const language =
    hispanic && rng.chance(0.3) ? LANGUAGES.spanish : rng.chance(0.03) ? rng.pick([LANGUAGES.chinese, LANGUAGES.vietnamese]) : LANGUAGES.english;
  const adult = p.band >= 1;
  p.adultHeight = p.female ? rng.normal(163, 6) : rng.normal(176, 7);
  p.bmi = rng.chance(0.35) ? rng.real(30, 40) : rng.real(19.5, 29.5);
  const resource: FhirResource = {
    resourceType: 'Patient',
    id: p.id,
    meta: META.patient,
    extension: [race, hispanic ? ETHNICITY_HISPANIC : ETHNICITY_NOT_HISPANIC, p.female ? BIRTH_SEX.female : BIRTH_SEX.male],
    identifier: [
      { use: 'usual', type: IDENTIFIER_TYPE.MR, system: 'https://flatfhir.example.org/sid/mrn', value: p.mrn },
      ...(adult ? [{ use: 'official', type: IDENTIFIER_TYPE.SS, system: 'http://hl7.org/fhir/sid/us-ssn', value: `999-${rng.digits(2)}-${rng.digits(4)}` }] : []),
    ],
    active: true,
    name: [
      {
        use: 'official',
        family,
        given: adult ? [given, middle] : [given],
        ...(adult ? { prefix: [p.female ? (married ? 'Mrs.' : 'Ms.') : 'Mr.'] } : {}),
      },
    ],
    telecom: [
      { system: 'phone', value: phone(rng, c.areaCode), use: rng.chance(0.7) ? 'mobile' : 'home' },
      ...(adult ? [{ system: 'email', value: `${given}.${family}${rng.digits(3)}@example.com`.toLowerCase() }] : []),
    ],
    gender: p.female ? 'female' : 'male',
    birthDate: dateOnly(p.birth),
    ...(p.end < REFERENCE_DATE ? { deceasedDateTime: instant(p.end) } : { deceasedBoolean: false }),
    address: [address(rng, c, 'home')],
    maritalStatus: married ? MARITAL_STATUS.married : p.band === 3 && rng.chance(0.4) ? MARITAL_STATUS.widowed : MARITAL_STATUS.single,
    multipleBirthBoolean: rng.chance(0.02),
    communication: [language],
    generalPractitioner: [ref(p.pcp.ref)],
    managingOrganization: ref(p.home.orgRef),
  };
  p.emit(resource);
}

export function relatedPersons(p: PatientRecord): void {
  const rng = p.rng;
  const people: CodeableConcept[] = [];
  if (p.band === 0) {
    people.push(RELATIONSHIP.mother);
    if (rng.chance(0.6)) people.push(RELATIONSHIP.father);
  } else if (p.band === 3) {
    people.push(rng.chance(0.7) ? RELATIONSHIP.child : RELATIONSHIP.spouse);
  } else {
    people.push(rng.pick([RELATIONSHIP.spouse, RELATIONSHIP.sibling, RELATIONSHIP.friend]));
    if (rng.chance(0.2)) people.push(RELATIONSHIP.sibling);
  }
  for (const relationship of people) {
    const id = p.nextId();
    const female = relationship === RELATIONSHIP.mother ? true : relationship === RELATIONSHIP.father ? false : rng.chance(0.5);
    const c = rng.pick(CITIES);
    const given = rng.pick(female ? FEMALE_NAMES : MALE_NAMES);
    const family = rng.pick(FAMILY_NAMES);
    p.relatedRefs.push(`RelatedPerson/${id}`);
    if (relationship === RELATIONSHIP.spouse) p.spouseRef ??= `RelatedPerson/${id}`;
    p.emit({
      resourceType: 'RelatedPerson',
      id,
      meta: META.relatedPerson,
      active: true,
      patient: p.subject,
      relationship: [relationship, RELATIONSHIP.emergencyContact],
      name: [{ use: 'official', family, given: [given] }],
      telecom: [{ system: 'phone', value: phone(rng, c.areaCode), use: 'mobile' }],
      gender: female ? 'female' : 'male',
      address: [address(rng, c, 'home')],
    });
  }
}
