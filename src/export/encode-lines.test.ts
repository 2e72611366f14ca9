import { describe, expect, it } from 'vitest';
import { encodeLines } from './runner.js';

describe('encodeLines', () => {
  it('writes ASCII lines, each followed by a newline', () => {
    expect(encodeLines(['{"a":1}', '{"b":2}']).toString('utf8')).toBe('{"a":1}\n{"b":2}\n');
  });

  it('measures lines with other text exactly (multi-byte characters anywhere in the batch)', () => {
    const lines = ['{"name":"Zoë Müller"}', '{"x":"ascii"}', '{"name":"李"}', '{"e":"😀"}'];
    const out = encodeLines(lines);
    expect(out.toString('utf8')).toBe(`${lines.join('\n')}\n`);
    expect(out.length).toBe(Buffer.byteLength(`${lines.join('\n')}\n`));
  });

  it('copies stored bytes as they are, mixed with text', () => {
    const stored = Buffer.from('{"name":"José"}');
    expect(encodeLines([stored, '{"a":1}', Buffer.from('{}')]).toString('utf8')).toBe('{"name":"José"}\n{"a":1}\n{}\n');
  });

  it('gives an empty buffer for no lines', () => {
    expect(encodeLines([]).length).toBe(0);
  });
});
