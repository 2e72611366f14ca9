import { describe, expect, it } from 'vitest';
import { grantScopes, parseGrantedScopes, scopesAllowRead, validateRegistrationScope } from './scopes.js';

describe('grantScopes', () => {
  it('intersects with wildcards on either side', () => {
    expect(grantScopes('system/Observation.rs', 'system/*.rs')).toMatchObject({ ok: true, scope: 'system/Observation.rs' });
    expect(grantScopes('system/*.rs', 'system/Observation.r')).toMatchObject({ ok: true, scope: 'system/Observation.r' });
    expect(grantScopes('system/*.read', 'system/*.r')).toMatchObject({ ok: true, scope: 'system/*.r' });
    expect(grantScopes('system/Patient.r system/Patient.s', 'system/*.rs')).toMatchObject({ ok: true, scope: 'system/Patient.rs' });
    expect(grantScopes('system/Patient.rs', 'system/Observation.rs')).toMatchObject({ ok: false });
  });

  it('keeps the read part of read-write scopes only', () => {
    expect(grantScopes('system/*.cruds', 'system/*.rs')).toMatchObject({ ok: true, scope: 'system/*.rs' });
    expect(grantScopes('system/Observation.crud', 'system/*.rs')).toMatchObject({ ok: true, scope: 'system/Observation.r' });
    expect(grantScopes('system/*.cud', 'system/*.rs').ok).toBe(false);
  });
});

describe('scopesAllowRead', () => {
  it('answers from granted scopes', () => {
    const scopes = parseGrantedScopes('system/Observation.rs system/Patient.read');
    expect(scopesAllowRead(scopes, 'Observation')).toBe(true);
    expect(scopesAllowRead(scopes, 'Patient')).toBe(true);
    expect(scopesAllowRead(scopes, 'Condition')).toBe(false);
    expect(scopesAllowRead(parseGrantedScopes('system/*.r'), 'Condition')).toBe(true);
    expect(scopesAllowRead(parseGrantedScopes(''), 'Condition')).toBe(false);
  });
});

describe('validateRegistrationScope', () => {
  it('accepts read-only system scopes and refuses the rest', () => {
    expect(validateRegistrationScope('system/*.rs  system/Patient.read system/*.rs')).toEqual({ ok: true, scope: 'system/*.rs system/Patient.read' });
    for (const bad of ['', 'system/*.cruds', 'system/*.*', 'system/*.write', 'patient/*.read', 'system/Foo.rs', 'system/*.rs?x=y']) {
      expect(validateRegistrationScope(bad).ok, bad).toBe(false);
    }
  });
});
