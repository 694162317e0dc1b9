import { describe, expect, it } from 'vitest';
import { METADATA_VALUE_MAX_LENGTH, normalizeMetadata, userMetadata } from 'portkey-context';

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
