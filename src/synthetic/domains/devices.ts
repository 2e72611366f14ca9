/** Devices that come with chronic conditions or age (Device). */
import type { CodeableConcept } from '../vocabulary/codes.js';
import { AGE_DEVICES } from '../vocabulary/devices.js';
import { META } from '../vocabulary/profiles.js';
import { dateOnly, instant } from './format.js';
import { DAY, HISTORY_YEARS, type PatientRecord, REFERENCE_DATE, YEAR } from './record.js';

function device(p: PatientRecord, code: CodeableConcept, implantable: boolean, implanted: number): void {
  const rng = p.rng;
  const di = `0${rng.digits(13)}`;
  const made = implanted - rng.int(30, 400) * DAY;
  const expires = made + rng.int(8, 15) * 365 * DAY;
  const yymmdd = (ms: number): string => dateOnly(ms).slice(2).replace(/-/g, '');
  const lot = `${rng.hex(2).toUpperCase()}${rng.digits(4)}`;
  const serial = `${rng.hex(4).toUpperCase()}${rng.digits(6)}`;
  p.emit({
    resourceType: 'Device',
    id: p.nextId(),
    ...(implantable ? { meta: META.implantableDevice } : {}),
    udiCarrier: [{ deviceIdentifier: di, carrierHRF: `(01)${di}(11)${yymmdd(made)}(17)${yymmdd(expires)}(10)${lot}(21)${serial}` }],
    status: 'active',
    distinctIdentifier: serial,
    manufactureDate: instant(made),
    expirationDate: instant(expires),
    lotNumber: lot,
    serialNumber: serial,
    deviceName: [{ name: code.text ?? '', type: 'user-friendly-name' }],
    type: code,
    patient: p.subject,
  });
}

export function devices(p: PatientRecord): void {
  const rng = p.rng;
  for (const c of p.chronic) {
    const d = c.def.device;
    if (d && rng.chance(d.probability)) device(p, d.code, d.implantable, p.between(c.onset, p.end));
  }
  if (p.band === 3) {
    const start = Math.max(p.birth + 65 * YEAR, REFERENCE_DATE - HISTORY_YEARS * YEAR);
    for (const d of [AGE_DEVICES.hearingAid, AGE_DEVICES.cane]) if (rng.chance(d.probability)) device(p, d.code, false, p.between(start, p.end));
  }
}
