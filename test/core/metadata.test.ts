import { describe, expect, it } from 'vitest';
import {
  createPortkeyHeaders,
  METADATA_HEADER_MAX_LENGTH,
  metadataHeader,
} from 'portkey-context';
import { METADATA_VALUE_MAX_LENGTH, normalizeMetadata, userMetadata } from '../../src/metadata.js';

describe('normalizeMetadata', () => {
  it('turns values into strings and drops what cannot be one', () => {
    const date = new Date('2026-01-02T03:04:05Z');
    expect(
      normalizeMetadata({ s: 'x', n: 1.5, b: false, big: 10n, d: date, nul: null, u: undefined, o: { a: 1 }, f: () => 1, nan: Number.NaN }),
    ).toEqual({ s: 'x', n: '1.5', b: 'false', big: '10', d: '2026-01-02T03:04:05.000Z' });
  });

  it(`cuts values to ${METADATA_VALUE_MAX_LENGTH} characters without splitting a surrogate pair`, () => {
    expect(normalizeMetadata({ v: 'a'.repeat(10_000) }).v).toHaveLength(128);
    const emoji = `${'a'.repeat(127)}😀`;
    expect(normalizeMetadata({ v: emoji }).v).toBe('a'.repeat(127));
  });

  it('strips control characters and drops empty or over-long keys', () => {
    expect(normalizeMetadata({ v: 'a\r\n\u0000b\u2028', '': 'x', ['k'.repeat(129)]: 'x' })).toEqual({ v: 'ab' });
  });

  it('never throws on hostile input', () => {
    const hostile = Object.create(null);
    // biome-ignore lint/suspicious/noProto: a hostile key is the point of this test
    hostile.__proto__ = 'x';
    hostile.ok = 'y';
    expect(normalizeMetadata(hostile)).toEqual({ ok: 'y' });
    expect(normalizeMetadata('nope' as never)).toEqual({});
  });
});

describe('userMetadata', () => {
  it('finds the user id and organisation', () => {
    expect(userMetadata({ id: 7, email: 'a@b.c', organizationId: 'org-1' })).toEqual({ _user: 7, _organisation: 'org-1' });
    expect(userMetadata({ sub: 'auth0|1', tenant: { id: 't-9' } })).toEqual({ _user: 'auth0|1', _organisation: 't-9' });
    expect(userMetadata({ email: 'a@b.c' })).toEqual({ _user: 'a@b.c' });
    expect(userMetadata('u-1')).toEqual({ _user: 'u-1' });
    expect(userMetadata(undefined)).toEqual({});
    expect(userMetadata({ name: 'no id' })).toEqual({});
  });
});

describe('metadataHeader: the size budget', () => {
  const big = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`key_${String(i).padStart(3, '0')}`, 'v'.repeat(128)]));

  it('sends small metadata whole, in the order it was set', () => {
    expect(metadataHeader({ b: '1', _user: 'u', a: 2 })).toBe('{"b":"1","_user":"u","a":"2"}');
    expect(metadataHeader({})).toBeUndefined();
  });

  it(`keeps ~60 entries of 128 characters within ${METADATA_HEADER_MAX_LENGTH} characters, special keys first, later keys dropped`, () => {
    const metadata = { ...big(60), _prompt: 'p', _user: 'alice', _environment: 'prod', _organisation: 'acme' };
    const header = metadataHeader(metadata)!;
    expect(header.length).toBeLessThanOrEqual(METADATA_HEADER_MAX_LENGTH);
    const sent = JSON.parse(header);
    expect(Object.keys(sent).slice(0, 4)).toEqual(['_user', '_organisation', '_environment', '_prompt']);
    const kept = Object.keys(sent).slice(4);
    expect(kept.length).toBeGreaterThan(20);
    // what is kept is a prefix of the order the keys were set in: the last ones go first
    expect(kept).toEqual(Object.keys(big(60)).slice(0, kept.length));
  });

  it('measures the escaped form: non-ASCII values count six characters each', () => {
    const header = metadataHeader({ _user: 'u', ...Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, 'é'.repeat(128)])) })!;
    expect(header.length).toBeLessThanOrEqual(METADATA_HEADER_MAX_LENGTH);
    expect(JSON.parse(header)._user).toBe('u');
  });

  it('a smaller entry later in the order still fits after a larger one was dropped', () => {
    const header = metadataHeader({ a: 'x'.repeat(128), b: 'y'.repeat(128), c: 'z' }, 150)!;
    expect(JSON.parse(header)).toEqual({ a: 'x'.repeat(128), c: 'z' });
  });

  it('createPortkeyHeaders uses it', () => {
    expect(createPortkeyHeaders({ metadata: big(60) })['x-portkey-metadata']!.length).toBeLessThanOrEqual(METADATA_HEADER_MAX_LENGTH);
  });
});
