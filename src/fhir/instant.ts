/**
 * FHIR `instant` and `date`/`dateTime` values checked against the calendar: `Date.parse` rolls an impossible date
 * over (2024-02-30 becomes 1 March), so every instant a request carries is read here instead.
 */

const INSTANT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|([+-])(\d{2}):(\d{2}))$/;
const DATE_TIME = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|([+-])(\d{2}):(\d{2}))?)?)?)?$/;

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const isLeap = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
const daysInMonth = (year: number, month: number): number => (month === 2 && isLeap(year) ? 29 : (DAYS[month - 1] ?? 0));

interface Parts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  ms: number;
  /** Offset east of UTC, minutes. */
  offset: number;
}

/** Whether the parts name a real moment: month 1–12, a day the month has, 00:00–23:59, seconds to 60 (leap), offsets to ±14:00. */
function valid(p: Parts, offsetHours: number, offsetMinutes: number): boolean {
  return (
    p.year >= 1 &&
    p.month >= 1 &&
    p.month <= 12 &&
    p.day >= 1 &&
    p.day <= daysInMonth(p.year, p.month) &&
    p.hour <= 23 &&
    p.minute <= 59 &&
    p.second <= 60 &&
    offsetMinutes <= 59 &&
    (offsetHours < 14 || (offsetHours === 14 && offsetMinutes === 0))
  );
}

function toEpoch(p: Parts): number {
  const d = new Date(0);
  d.setUTCFullYear(p.year, p.month - 1, p.day);
  d.setUTCHours(p.hour, p.minute, p.second, p.ms);
  return d.getTime() - p.offset * 60_000;
}

const num = (s: string | undefined, fallback = 0): number => (s === undefined ? fallback : Number(s));
const millis = (fraction: string | undefined): number => (fraction === undefined ? 0 : Number(fraction.slice(0, 3).padEnd(3, '0')));

/** Epoch milliseconds of a FHIR instant (`2024-01-01T00:00:00Z`, offset required), or undefined if it is not one. */
export function parseInstant(value: string): number | undefined {
  const m = INSTANT.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone, sign, oh, om] = m;
  const offsetHours = num(oh);
  const offsetMinutes = num(om);
  const parts: Parts = {
    year: num(y),
    month: num(mo),
    day: num(d),
    hour: num(h),
    minute: num(mi),
    second: num(s),
    ms: millis(frac),
    offset: zone === 'Z' ? 0 : (sign === '-' ? -1 : 1) * (offsetHours * 60 + offsetMinutes),
  };
  return valid(parts, offsetHours, offsetMinutes) ? toEpoch(parts) : undefined;
}

/** Whether a value is a FHIR date or dateTime (`2024`, `2024-02`, `2024-02-29`, `2024-02-29T10:00:00Z`…) that exists. */
export function isCalendarDateTime(value: string): boolean {
  const m = DATE_TIME.exec(value);
  if (!m) return false;
  const [, y, mo, d, h, mi, s, frac, , , oh, om] = m;
  const parts: Parts = { year: num(y), month: num(mo, 1), day: num(d, 1), hour: num(h), minute: num(mi), second: num(s), ms: millis(frac), offset: 0 };
  return valid(parts, num(oh), num(om));
}
