export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** Parses YYYY-MM-DD into its parts when it names a real calendar day, else null. */
export function parseIsoDay(text: string): { year: number; month: number; day: number } | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return null;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  return { year, month, day };
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const DAYS_BEFORE = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];

export function daysInMonth(year: number, month: number): number {
  return month === 2 && isLeapYear(year) ? 29 : MONTH_DAYS[month - 1]!;
}

export function dayOfYear(year: number, month: number, day: number): number {
  return DAYS_BEFORE[month - 1]! + (month > 2 && isLeapYear(year) ? 1 : 0) + day;
}

// Data sets hold a few thousand distinct days; each angle is computed once.
const angleCache = new Map<string, { cos: number; sin: number }>();

/** The day's position on the year's circle: angle 2 pi (day_of_year - 1) / days in that year. */
export function dayAngle(isoDay: string): { cos: number; sin: number } {
  let a = angleCache.get(isoDay);
  if (!a) {
    a = computeDayAngle(isoDay);
    if (angleCache.size < 100_000) angleCache.set(isoDay, a);
  }
  return a;
}

function computeDayAngle(isoDay: string): { cos: number; sin: number } {
  const p = parseIsoDay(isoDay);
  if (!p) throw new RangeError(`not a calendar day: ${isoDay}`);
  const angle = (2 * Math.PI * (dayOfYear(p.year, p.month, p.day) - 1)) / (isLeapYear(p.year) ? 366 : 365);
  return { cos: Math.cos(angle), sin: Math.sin(angle) };
}
