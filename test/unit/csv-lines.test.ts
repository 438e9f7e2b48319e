// The hand-written CSV writer of reports/exports.ts against csv-stringify (RFC 4180), on cells that need care.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { stringify } from 'csv-stringify/sync';
import { csvLines, guardCell } from '../../reports/exports.js';

/** csv-stringify as RFC 4180 wants it: nulls empty, formula-like cells guarded, LF line ends, every CR quoted. */
const reference = (rows: Array<Array<string | null>>) =>
  stringify(
    rows.map((r) => r.map((v) => (v === null ? '' : guardCell(v)))),
    { record_delimiter: '\n', quoted_match: /\r/ },
  );

describe('csvLines', () => {
  it.each([
    { cells: ['plain', 'with,comma', 'with "quote"', 'line\nbreak', 'carriage\rreturn', ''] },
    { cells: ['=SUM(A1)', '+1', '-2', '@x', '\tTab', '\r', "'already"] },
    { cells: [null, '2026-11-02T18:00:00.000Z', 'ü-1 ✓', '"', '""', ','] },
  ])('writes $cells like csv-stringify', ({ cells }) => {
    expect(csvLines([cells])).toBe(reference([cells]));
  });

  it('equals csv-stringify on any cells', () => {
    const cell = fc.oneof(fc.constant(null), fc.string(), fc.stringMatching(/^[=+\-@\t\r",\n a-z]{0,6}$/));
    fc.assert(
      fc.property(fc.array(fc.array(cell, { minLength: 1, maxLength: 5 }), { maxLength: 5 }), (rows) => {
        expect(csvLines(rows)).toBe(reference(rows));
      }),
      { numRuns: 500 },
    );
  });
});
