// The import's line reader: lines of UTF-8 bytes ended by LF, read whatever the chunks' boundaries, with a line that
// is not UTF-8 handed on as its bytes (a decoder would put U+FFFD there, and two ids would become one).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { firstBadByte, splitLines, UndecodableLine, type InputLine } from '../../db/import/import-events.js';

async function read(chunks: Array<Buffer | string>): Promise<InputLine[]> {
  const out: InputLine[] = [];
  for await (const line of splitLines((async function* () { yield* chunks; })())) out.push(line);
  return out;
}

/** The bytes cut into pieces at the given offsets. */
function cut(bytes: Buffer, at: number[]): Buffer[] {
  const points = [...new Set(at.map((a) => a % (bytes.length + 1)))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    pieces.push(bytes.subarray(from, p));
    from = p;
  }
  pieces.push(bytes.subarray(from));
  return pieces;
}

describe('splitLines', () => {
  it('ends lines at LF and drops the CR of a CRLF; a CR elsewhere stays in its line (JSON reads it as white space)', async () => {
    expect(await read(['a\nb\r\nc\r\r\n{"x":\r1}\nlast'])).toEqual(['a', 'b', 'c\r', '{"x":\r1}', 'last']);
  });

  it('keeps empty lines (they count for line numbers) and reads nothing from nothing', async () => {
    expect(await read(['\n\nx\n'])).toEqual(['', '', 'x']);
    expect(await read([])).toEqual([]);
    expect(await read([''])).toEqual([]);
  });

  it('hands on a line that is not UTF-8 as its bytes, saying where, and reads the lines around it', async () => {
    const bad = Buffer.from([0x7b, 0x22, 0x69, 0x64, 0x22, 0x3a, 0x22, 0x65, 0xff, 0x22, 0x7d]); // {"id":"e\xff"}
    const lines = await read([Buffer.concat([Buffer.from('ok 1\n'), bad, Buffer.from('\r\nok ü\n')])]);
    expect(lines[0]).toBe('ok 1');
    expect(lines[2]).toBe('ok ü');
    const undecodable = lines[1] as UndecodableLine;
    expect(undecodable).toBeInstanceOf(UndecodableLine);
    expect(undecodable.bytes).toEqual(bad);
    expect(undecodable.reason).toBe('not valid UTF-8 (byte 0xFF at byte 9 of the line): save the file as UTF-8');
  });

  it('reads the same lines however the bytes are cut into chunks (a character or a CRLF split across two)', async () => {
    const text = 'é€😀\r\n{"a":"b"}\n\nü\r\nend';
    const bytes = Buffer.concat([Buffer.from(text), Buffer.from([0x0a, 0xc3, 0x28, 0x0a, 0x41])]);
    const whole = await read([bytes]);
    expect(whole.slice(0, 5)).toEqual(['é€😀', '{"a":"b"}', '', 'ü', 'end']);
    expect(whole[5]).toBeInstanceOf(UndecodableLine);
    expect(whole[6]).toBe('A');
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { maxLength: 8 }), async (at) => {
        expect(await read(cut(bytes, at))).toEqual(whole);
      }),
    );
  });

  it('finds the first byte that is not UTF-8 as the standard decoder does', () => {
    const cases: Array<[number[], number]> = [
      [[0x61, 0x80], 1], // a lone continuation byte
      [[0xc0, 0xaf], 0], // an overlong form
      [[0xe0, 0x80, 0x80], 0], // overlong three bytes
      [[0xed, 0xa0, 0x80], 0], // a surrogate half
      [[0xf4, 0x90, 0x80, 0x80], 0], // above U+10FFFF
      [[0x61, 0xe2, 0x82], 1], // cut short
      [[0xe2, 0x82, 0xac, 0xff], 3],
    ];
    for (const [bytes, at] of cases) expect(firstBadByte(Uint8Array.from(bytes))).toBe(at);
  });
});
