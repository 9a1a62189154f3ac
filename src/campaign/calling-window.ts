/**
 * Is a campaign's calling window open at an instant? Local time in the window's IANA time zone
 * (Intl, so daylight-saving changes are the zone's own), `start` inclusive, `end` exclusive, to the
 * second; a window whose end is before its start spans midnight and belongs to the day it starts.
 */
import type { CallingWindow, Weekday } from '../model/campaign';

const CLOCK = /^([01][0-9]|2[0-3]):([0-5][0-9])(?::([0-5][0-9]))?$/;
const WEEKDAY_OF: Readonly<Record<string, Weekday>> = { Mon: 'mon', Tue: 'tue', Wed: 'wed', Thu: 'thu', Fri: 'fri', Sat: 'sat', Sun: 'sun' };
const PREVIOUS: Readonly<Record<Weekday, Weekday>> = { mon: 'sun', tue: 'mon', wed: 'tue', thu: 'wed', fri: 'thu', sat: 'fri', sun: 'sat' };
const formatters = new Map<string, Intl.DateTimeFormat>();

/** Seconds after midnight of `HH:MM` or `HH:MM:SS`; undefined when it is neither. */
export function parseClock(text: string): number | undefined {
  const m = CLOCK.exec(text);
  if (m === null) return undefined;
  return Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3] ?? 0);
}

/** True when `zone` is an IANA time zone this runtime knows. */
export function isValidTimeZone(zone: string): boolean {
  try {
    formatterFor(zone);
    return true;
  } catch {
    return false;
  }
}

/** Weekday and seconds after midnight at `nowMs` in `zone`. */
export function localTime(zone: string, nowMs: number): { day: Weekday; seconds: number } {
  const parts = formatterFor(zone).formatToParts(new Date(nowMs));
  const get = (type: string): string => parts.find((p) => p.type === type)?.value ?? '';
  const day = WEEKDAY_OF[get('weekday')];
  if (day === undefined) throw new Error(`unexpected weekday ${get('weekday')}`);
  return { day, seconds: Number(get('hour')) * 3600 + Number(get('minute')) * 60 + Number(get('second')) };
}

/** Open at `nowMs`? No window: always. */
export function isWindowOpen(window: CallingWindow | null, nowMs: number): boolean {
  if (window === null) return true;
  const start = parseClock(window.start);
  const end = parseClock(window.end);
  if (start === undefined || end === undefined) return false;
  const { day, seconds } = localTime(window.time_zone, nowMs);
  const days = new Set(window.days);
  if (start === end) return days.has(day);
  if (start < end) return days.has(day) && seconds >= start && seconds < end;
  return (days.has(day) && seconds >= start) || (days.has(PREVIOUS[day]) && seconds < end);
}

function formatterFor(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone, weekday: 'short', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
    formatters.set(zone, f);
  }
  return f;
}
