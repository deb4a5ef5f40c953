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

/** Days since 1970-01-01 of a calendar day (proleptic Gregorian); a date fits an Int32Array this way. */
export function dayNumber(year: number, month: number, day: number): number {
  // Counted from March so that the leap day ends a year (the civil-calendar trick).
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** The calendar day of a day number (the inverse of dayNumber). */
export function civilDay(n: number): { year: number; month: number; day: number } {
  const z = n + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** YYYY-MM-DD of a day number, as the source wrote it (years 0..9999). */
export function isoDay(n: number): string {
  const { year, month, day } = civilDay(n);
  return `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}`;
}

/** The day number of YYYY-MM-DD, or null when it is not a calendar day. */
export function dayNumberOf(text: string): number | null {
  const p = parseIsoDay(text);
  return p ? dayNumber(p.year, p.month, p.day) : null;
}

// Keyed by day number: a data set holds a few thousand distinct days; each angle is computed once.
const angleByDay = new Map<number, { cos: number; sin: number }>();

/** dayAngle of a day number: the same values as dayAngle of its YYYY-MM-DD. */
export function dayAngleOf(n: number): { cos: number; sin: number } {
  let a = angleByDay.get(n);
  if (!a) {
    const { year, month, day } = civilDay(n);
    const angle = (2 * Math.PI * (dayOfYear(year, month, day) - 1)) / (isLeapYear(year) ? 366 : 365);
    a = { cos: Math.cos(angle), sin: Math.sin(angle) };
    if (angleByDay.size < 100_000) angleByDay.set(n, a);
  }
  return a;
}
