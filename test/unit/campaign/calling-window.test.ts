import assert from 'node:assert/strict';
import { isValidTimeZone, isWindowOpen, localTime, parseClock } from '../../../src/campaign/calling-window';
import type { CallingWindow } from '../../../src/model/campaign';

const at = (iso: string): number => Date.parse(iso);
const weekdays: CallingWindow['days'] = ['mon', 'tue', 'wed', 'thu', 'fri'];

describe('calling window', () => {
  it('parses HH:MM and HH:MM:SS', () => {
    assert.equal(parseClock('09:00'), 9 * 3600);
    assert.equal(parseClock('23:59:30'), 86_370);
    assert.equal(parseClock('24:00'), undefined);
    assert.equal(parseClock('9:00'), undefined);
  });

  it('reads local time in the zone (Moscow is UTC+3, no DST)', () => {
    assert.deepEqual(localTime('Europe/Moscow', at('2026-12-07T06:30:15Z')), { day: 'mon', seconds: 9 * 3600 + 30 * 60 + 15 });
    assert.equal(isValidTimeZone('Europe/Moscow'), true);
    assert.equal(isValidTimeZone('Mars/Olympus'), false);
  });

  it('is open from start to end on the listed days, local time', () => {
    const w: CallingWindow = { time_zone: 'Europe/Moscow', start: '09:00', end: '20:00', days: weekdays };
    assert.equal(isWindowOpen(w, at('2026-12-07T05:59:59Z')), false, 'Monday 08:59:59 in Moscow');
    assert.equal(isWindowOpen(w, at('2026-12-07T06:00:00Z')), true, 'Monday 09:00 in Moscow');
    assert.equal(isWindowOpen(w, at('2026-12-07T16:59:59Z')), true);
    assert.equal(isWindowOpen(w, at('2026-12-07T17:00:00Z')), false, '20:00 is the end, exclusive');
    assert.equal(isWindowOpen(w, at('2026-12-12T10:00:00Z')), false, 'Saturday');
    assert.equal(isWindowOpen(null, at('2026-12-12T10:00:00Z')), true, 'no window: always');
  });

  it('a window ending before its start spans midnight and belongs to the day it starts', () => {
    const w: CallingWindow = { time_zone: 'UTC', start: '22:00', end: '02:00:30', days: ['fri'] };
    assert.equal(isWindowOpen(w, at('2026-12-11T23:00:00Z')), true, 'Friday 23:00');
    assert.equal(isWindowOpen(w, at('2026-12-12T02:00:29Z')), true, 'Saturday 02:00:29, still Friday night');
    assert.equal(isWindowOpen(w, at('2026-12-12T02:00:30Z')), false);
    assert.equal(isWindowOpen(w, at('2026-12-12T23:00:00Z')), false, 'Saturday night is not listed');
  });

  it('follows daylight saving time of the zone', () => {
    const w: CallingWindow = { time_zone: 'Europe/Berlin', start: '09:00', end: '10:00', days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] };
    assert.equal(isWindowOpen(w, at('2026-07-01T07:30:00Z')), true, 'summer: UTC+2');
    assert.equal(isWindowOpen(w, at('2026-12-01T07:30:00Z')), false, 'winter: UTC+1, 08:30');
    assert.equal(isWindowOpen(w, at('2026-12-01T08:30:00Z')), true);
  });
});
